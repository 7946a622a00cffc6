"""This replica's picture of the grid and of its units: state, places, load (read to rank).

It only orders the candidates and proposes a free place (`placement.places.UnitPlaces`); the
unique place in the store decides who gets it, so a stale picture costs a refused write, never
a double assignment. Replicas tell each other the places they take and give back (a
`PlaceChange`, over core NATS: cheap, at most once); a rolling re-read from the store heals
anything missed (see `placement.sweep.UnitSweep`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

from common import heap
from dispatch.domain.grid import Grid, parse_grid
from dispatch.domain.units import UnitState
from dispatch.placement.places import Outcome, PlaceChange, UnitPlaces


class GridReads(Protocol):
    async def version(self) -> int: ...

    async def current(self) -> tuple[int, dict | None, list[dict]]: ...


class UnitReads(Protocol):
    async def states(self, unit_ids: Iterable[str] | None = None) -> dict[str, UnitState]: ...

    async def state(self, unit_id: str) -> UnitState | None: ...


class PlaceReads(Protocol):
    async def places(self, unit_ids: Iterable[str]) -> dict[str, set[int]]: ...


#: tells the other replicas of a place this one took or gave back
Announce = Callable[[PlaceChange], Awaitable[None]]


async def _silent(change: PlaceChange) -> None:
    return None


def _nobody() -> None:
    return None


class ReplicaView:
    def __init__(self, grids: GridReads, units: UnitReads, alerts: PlaceReads, announce: Announce = _silent) -> None:
        self._grids = grids
        self._units = units
        self._alerts = alerts
        self._announce = announce
        #: called when a place may have freed (given back, a unit available again, a new grid): the duty desk
        self.on_freed: Callable[[], None] = _nobody
        self.grid: Grid | None = None
        self.version = 0
        self.states: dict[str, UnitState] = {}
        self.statuses: dict[str, str] = {}
        self.places = UnitPlaces()

    @property
    def loads(self) -> Mapping[str, int]:
        return self.places.loads

    # --- places ---

    async def settle(self, unit_id: str, place: int, outcome: Outcome) -> None:
        """The write into a place `places.reserve` gave is over; a place found taken has its unit read again."""
        change = self.places.settle(unit_id, place, outcome)
        if change is not None:
            await self._announce(change)
        if outcome == "taken":
            await self.refresh_places([unit_id])

    async def give_back(self, unit_id: str, place: int) -> None:
        """A place an alert of this replica no longer holds (saved): free here at once, and told to the others."""
        change = PlaceChange(unit_id, place, taken=False)
        self.heard(change)
        await self._announce(change)

    def heard(self, change: PlaceChange) -> None:
        """A place another replica took or gave back."""
        if self.places.apply(change):
            self.on_freed()

    async def refresh_places(self, unit_ids: Iterable[str]) -> None:
        """Re-read which places of the units are held (a unit changed here meanwhile keeps what it has)."""
        stamp = self.places.stamp(unit_ids)
        if self.places.reread(await self._alerts.places(stamp), stamp):
            self.on_freed()

    # --- the grid and the units' state ---

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

    async def refresh_states(self, unit_ids: Iterable[str]) -> None:
        """Re-read the units' state (status, capacity, officers) from the store."""
        self.note_states(await self._units.states(unit_ids))

    async def refresh_unit(self, unit_id: str) -> None:
        state = await self._units.state(unit_id)
        if state is not None:
            self.note_states({unit_id: state})
            await self.refresh_places([unit_id])

    def note_states(self, states: Mapping[str, UnitState]) -> None:
        """Units' state as just read from the store (or as this replica just set it)."""
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

    # --- what the use cases read ---

    @property
    def unit_ids(self) -> list[str]:
        """Every unit this replica knows of: those read from the store and those of the grid."""
        known = dict.fromkeys(self.states)
        known.update(dict.fromkeys(u.unit_id for u in (self.grid.units if self.grid else ())))
        return list(known)

    def officers(self, unit_id: str | None) -> list[str]:
        state = self.states.get(unit_id or "")
        return list(state.officers) if state else []

    def room(self) -> int:
        """How many alerts the units could take now, as far as this replica knows: free places of available units."""
        if self.grid is None:
            return 0
        free = 0
        for unit in self.grid.units:
            if self.statuses.get(unit.unit_id, unit.status) == "available":
                free += max(0, unit.capacity - self.places.loads.get(unit.unit_id, 0))
        return free
