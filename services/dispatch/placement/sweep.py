"""The unit sweep: re-reads the units' status and places a slice every tick, and hands on what they cannot hold."""

from __future__ import annotations

from collections.abc import Callable
from math import ceil

from dispatch.adapters.store import UNIT_CHUNK
from dispatch.placement.placing import Placement, hand_on

#: alerts handed on per tick at most, when the sweep finds them held by a unit that cannot hold them
HANDOVERS_PER_TICK = 8


class _Slices:
    """Every unit once a period, a slice per tick, in id order (a slice's places are one range)."""

    def __init__(self, tick_s: float) -> None:
        self._tick_s = tick_s
        self._due: list[str] = []
        self._per_tick = 1

    @property
    def round_over(self) -> bool:
        return not self._due

    def take(self, unit_ids: Callable[[], list[str]], period_s: float) -> list[str]:
        """The next slice; a new round of `unit_ids()` once the last one is done."""
        if not self._due:
            self._due = sorted(unit_ids())
            ticks = max(1.0, period_s / self._tick_s)
            self._per_tick = max(1, min(UNIT_CHUNK, ceil(len(self._due) / ticks)))
        chunk, self._due = self._due[: self._per_tick], self._due[self._per_tick :]
        return chunk


class UnitSweep:
    """Status: every unit about every `view_refresh_s`, at most UNIT_CHUNK per tick (one read
    of every unit at once would hold the store, and the alerts being placed, for tens of
    milliseconds). Places: every unit about every `places_refresh_s`, far less often. A
    replica's view of them follows its own writes and what the others announce; the re-read
    only heals an announcement lost, and reading a unit's places costs the store a read per
    alert it holds.

    A unit that goes off duty (or leaves the grid) hands its unacknowledged alerts on at
    once; another replica may still place one there just then, from a view that showed the
    unit available. The sweep finds it (the placing replica knows the place) and hands it on.
    """

    def __init__(self, p: Placement, tick_s: float) -> None:
        self._p = p
        self._states = _Slices(tick_s)
        self._places = _Slices(tick_s)

    async def tick(self) -> int:
        """One slice; returns the alerts handed on."""
        view, settings = self._p.view, self._p.settings
        if self._states.round_over:  # a grid another replica replaced, and the units as known now
            await view.refresh_grid()

        def known() -> list[str]:  # every unit, listed only when a round starts, not every tick
            return view.unit_ids

        chunk = self._states.take(known, settings.view_refresh_s)
        await view.refresh_states(chunk)
        await view.refresh_places(self._places.take(known, settings.places_refresh_s))
        stranded = [u for u in chunk if view.statuses.get(u) == "off_duty" and view.places.held(u)]
        return await hand_on(self._p, stranded, HANDOVERS_PER_TICK)
