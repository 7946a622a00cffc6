"""This replica's picture of the grid and of the units' load and status.

It only orders the candidates; the guarded claim in the store decides who gets the
alert, so a stale picture costs a retry, never a double assignment.
"""

from __future__ import annotations

import time

from dispatch.adapters.store import GridStore, UnitState, UnitStore
from dispatch.domain.grid import Grid, parse_grid

OVERLAP_MS = 5000


class GridView:
    def __init__(self, grids: GridStore, units: UnitStore) -> None:
        self._grids = grids
        self._units = units
        self.grid: Grid | None = None
        self.version = 0
        self.states: dict[str, UnitState] = {}
        self._seen_ms = 0

    async def refresh(self, full: bool = False) -> None:
        """Re-read the grid if it was replaced, and the units that changed since the last look."""
        version = await self._grids.version()
        if version != self.version:
            version, geojson, _ = await self._grids.current()
            self.grid = Grid(parse_grid(geojson).units) if geojson else None
            self.version = version
            full = True
        started_ms = int(time.time() * 1000)
        if full or not self._seen_ms:
            self.states = await self._units.states()
        else:
            # the overlap covers a change written with a slightly slower clock on another replica
            self.states.update(await self._units.states(changed_since_ms=self._seen_ms - OVERLAP_MS))
        self._seen_ms = started_ms

    def loads(self) -> dict[str, int]:
        return {u: s.load for u, s in self.states.items()}

    def statuses(self) -> dict[str, str]:
        return {u: ("off_duty" if s.retired else s.status) for u, s in self.states.items()}

    def officers(self, unit_id: str | None) -> list[str]:
        state = self.states.get(unit_id or "")
        return list(state.officers) if state else []

    def note_claimed(self, unit_id: str) -> None:
        state = self.states.get(unit_id)
        if state is not None:
            self.states[unit_id] = UnitState(state.unit_id, state.status, state.load + 1, state.capacity,
                                             state.officers, state.retired)
