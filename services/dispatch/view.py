"""This replica's picture of the grid and of the units' load and status.

It only orders the candidates; the guarded claim in the store decides who gets the
alert, so a stale picture costs a refused claim, never a double assignment. Replicas
tell each other their claims and releases over core NATS (cheap, at most once); a
rolling re-read from the store, every unit about every `view_refresh_s`, heals anything missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from common import heap
from dispatch.adapters.store import GridStore, UnitState, UnitStore
from dispatch.domain.grid import Grid, parse_grid

Announce = Callable[[str, int], Awaitable[None]]


async def _silent(unit_id: str, change: int) -> None:
    return None


class GridView:
    def __init__(self, grids: GridStore, units: UnitStore, announce: Announce = _silent) -> None:
        self._grids = grids
        self._units = units
        self._announce = announce
        self.grid: Grid | None = None
        self.version = 0
        self.states: dict[str, UnitState] = {}
        #: kept beside `states` so that ranking an alert does not rebuild them (it runs per alert)
        self.loads: dict[str, int] = {}
        self.statuses: dict[str, str] = {}

    async def refresh(self) -> None:
        """Re-read the grid if it was replaced, and every unit's state (retired ones too) at once."""
        await self.refresh_grid()
        states = await self._units.states()
        self.states, self.loads, self.statuses = {}, {}, {}
        self.note_states(states)

    async def refresh_grid(self) -> bool:
        """Re-read the grid if another replica replaced it; True if it changed."""
        version = await self._grids.version()
        if version == self.version:
            return False
        version, geojson, _ = await self._grids.current()
        self.grid = Grid(parse_grid(geojson).units) if geojson else None
        self.version = version
        heap.settle()  # the new grid lives until the next one; the old one is gone
        return True

    @property
    def unit_ids(self) -> list[str]:
        """Every unit this replica knows of: those read from the store and those of the grid."""
        known = dict.fromkeys(self.states)
        known.update(dict.fromkeys(u.unit_id for u in (self.grid.units if self.grid else ())))
        return list(known)

    async def refresh_unit(self, unit_id: str) -> None:
        state = await self._units.get(unit_id)
        if state is not None:
            self.note_states({unit_id: state})

    def note_states(self, states: dict[str, UnitState]) -> None:
        """Units' state as just read from the store."""
        self.states.update(states)
        for unit_id, state in states.items():
            self.loads[unit_id] = state.load
            self.statuses[unit_id] = "off_duty" if state.retired else state.status

    def officers(self, unit_id: str | None) -> list[str]:
        state = self.states.get(unit_id or "")
        return list(state.officers) if state else []

    def apply_load(self, unit_id: str, change: int) -> None:
        """A claim (+1) or release (-1) made here or announced by another replica."""
        state = self.states.get(unit_id)
        if state is not None:
            self.note_states({unit_id: replace(state, load=max(0, state.load + change))})

    async def note_load(self, unit_id: str, change: int) -> None:
        """A claim or release this replica made: seen here at once, told to the others."""
        self.apply_load(unit_id, change)
        await self._announce(unit_id, change)
