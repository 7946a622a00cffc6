"""This replica's picture of the grid and of the units' places, load and status.

It only orders the candidates and proposes a free place; the unique place in the store
decides who gets it, so a stale picture costs a refused write, never a double assignment.
Replicas tell each other the places they take and give back over core NATS (cheap, at most
once); a rolling re-read from the store, every unit about every `view_refresh_s`, heals
anything missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from common import heap
from dispatch.adapters.store import AlertStore, GridStore, UnitState, UnitStore
from dispatch.domain.grid import Grid, parse_grid

#: (unit_id, place, +1 taken / -1 given back)
Announce = Callable[[str, int, int], Awaitable[None]]


async def _silent(unit_id: str, place: int, change: int) -> None:
    return None


def _nobody() -> None:
    return None


class GridView:
    def __init__(self, grids: GridStore, units: UnitStore, alerts: AlertStore, announce: Announce = _silent) -> None:
        self._grids = grids
        self._units = units
        self._alerts = alerts
        self._announce = announce
        #: called when a place may have freed (given back, a unit available again, a new grid): the duty desk
        self.on_freed: Callable[[], None] = _nobody
        self.grid: Grid | None = None
        self.version = 0
        self.states: dict[str, UnitState] = {}
        #: unit -> the places its alerts hold, as far as this replica knows
        self.places: dict[str, set[int]] = {}
        #: kept beside `states` and `places` so that ranking an alert does not rebuild them (it runs per alert)
        self.loads: dict[str, int] = {}
        #: unit -> places this replica's alerts are being written into right now
        self._pending: dict[str, set[int]] = {}
        #: unit -> how many times its places changed here (see `refresh_places`)
        self._changes: dict[str, int] = {}
        self.statuses: dict[str, str] = {}

    async def refresh(self, *, places: bool = False) -> None:
        """Re-read the grid if it was replaced, and every unit's state (retired ones too); their places too if asked.

        Places change only with this replica's own writes and what the others announce; reading
        every unit's places costs a store read per open alert, so that is done at start-up and
        a slice at a time (see `UnitSweep`).
        """
        await self.refresh_grid()
        states = await self._units.states()
        for gone in set(self.states) - set(states):
            del self.states[gone]
            self.statuses.pop(gone, None)
        self.note_states(states)
        if places:
            await self.refresh_places(self.unit_ids)

    async def refresh_grid(self) -> bool:
        """Re-read the grid if another replica replaced it; True if it changed."""
        version = await self._grids.version()
        if version == self.version:
            return False
        version, geojson, _ = await self._grids.current()
        self.grid = Grid(parse_grid(geojson).units) if geojson else None
        self.version = version
        heap.settle()  # the new grid lives until the next one; the old one is gone
        self.on_freed()
        return True

    @property
    def unit_ids(self) -> list[str]:
        """Every unit this replica knows of: those read from the store and those of the grid."""
        known = dict.fromkeys(self.states)
        known.update(dict.fromkeys(u.unit_id for u in (self.grid.units if self.grid else ())))
        return list(known)

    async def refresh_unit(self, unit_id: str) -> None:
        state = await self._units.state(unit_id)
        if state is not None:
            self.note_states({unit_id: state})
            await self.refresh_places([unit_id])

    async def refresh_places(self, unit_ids: Iterable[str]) -> None:
        """Re-read which places of the units are held.

        A unit whose places this replica changed, or heard of, while the read was on its way
        keeps what it has: the read may predate that change (a place given back meanwhile would
        otherwise look taken until the next re-read).
        """
        asked = {unit_id: self._changes.get(unit_id, 0) for unit_id in unit_ids}
        held = await self._alerts.places(asked)
        self.note_places({u: places for u, places in held.items() if self._changes.get(u, 0) == asked[u]})

    def note_states(self, states: Mapping[str, UnitState]) -> None:
        """Units' state as just read from the store."""
        freed = False
        for unit_id, state in states.items():
            before = self.states.get(unit_id)
            status = "off_duty" if state.retired else state.status
            freed = freed or (status == "available" and (
                before is None or self.statuses.get(unit_id) != "available" or state.capacity > before.capacity))
            self.states[unit_id] = state
            self.statuses[unit_id] = status
        if freed:
            self.on_freed()

    def room(self) -> int:
        """How many alerts the units could take now, as far as this replica knows: free places of available units."""
        if self.grid is None:
            return 0
        free = 0
        for unit in self.grid.units:
            if self.statuses.get(unit.unit_id, unit.status) == "available":
                free += max(0, unit.capacity - self.loads.get(unit.unit_id, 0))
        return free

    def note_places(self, held: Mapping[str, set[int]]) -> None:
        """Every place held in these units, as just read from the store."""
        freed = False
        for unit_id, places in held.items():
            freed = freed or bool(self.places.get(unit_id, set()) - places)
            self.places[unit_id] = set(places)
            self._changed(unit_id)
        if freed:
            self.on_freed()

    def reserve(self, unit_id: str, capacity: int) -> int | None:
        """The lowest place of the unit this replica believes free, kept from its other alerts
        until `confirm` or `cancel`; None if the unit is full."""
        taken = self.places.get(unit_id, set())
        pending = self._pending.setdefault(unit_id, set())
        place = next((k for k in range(capacity) if k not in taken and k not in pending), None)
        if place is not None:
            pending.add(place)
            self._count(unit_id)
        return place

    async def confirm(self, unit_id: str, place: int) -> None:
        """The reserved place is written: this replica holds it, and tells the others."""
        self._pending.get(unit_id, set()).discard(place)
        await self.note_place(unit_id, place, +1)

    def cancel(self, unit_id: str, place: int) -> None:
        """The reserved place was not written (the write failed)."""
        self._pending.get(unit_id, set()).discard(place)
        self._count(unit_id)

    def taken_elsewhere(self, unit_id: str, place: int) -> None:
        """The reserved place was found taken by another alert: it is not offered again."""
        self._pending.get(unit_id, set()).discard(place)
        self.apply_place(unit_id, place, +1)

    def _count(self, unit_id: str) -> None:
        self.loads[unit_id] = len(self.places.get(unit_id, set()) | self._pending.get(unit_id, set()))

    def officers(self, unit_id: str | None) -> list[str]:
        state = self.states.get(unit_id or "")
        return list(state.officers) if state else []

    def apply_place(self, unit_id: str, place: int, change: int) -> None:
        """A place taken (+1) or given back (-1), here or as another replica announced."""
        places = self.places.setdefault(unit_id, set())
        if change > 0:
            places.add(place)
        else:
            places.discard(place)
        self._changed(unit_id)
        if change < 0:
            self.on_freed()

    def _changed(self, unit_id: str) -> None:
        self._changes[unit_id] = self._changes.get(unit_id, 0) + 1
        self._count(unit_id)

    async def note_place(self, unit_id: str, place: int, change: int) -> None:
        """A place this replica took or gave back: seen here at once, told to the others."""
        self.apply_place(unit_id, place, change)
        await self._announce(unit_id, place, change)
