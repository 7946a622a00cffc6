"""Weekly callback figures per unit and per officer: done in time, done late, overdue.

A week is an ISO week, Monday 00:00 to next Monday 00:00 in the station's zone (2026-W53 exists:
2026-12-28 to 2027-01-03), via `common.timefmt.week_bounds` (pure standard library).

Counted in the week of the moment it happened:
- `done_in_time`: completed in the week, before its deadline;
- `done_late`: completed in the week, at or after its deadline;
- `overdue`: went overdue in the week (flagged by the sweep, or overdue at once for a case that
  came in late) — whether or not it was done later, so a late callback counts once as `overdue`
  in the week of the miss and once as `done_late` in the week it was made up.
A superseded callback counts only for a miss it had before (its `overdue_at`).
Callbacks without an officer or unit are grouped under `UNASSIGNED`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from common.timefmt import week_bounds
from notify.domain.deadlines import DEFAULT_ZONE
from notify.domain.model import Callback

UNASSIGNED = "(unassigned)"
By = Literal["unit", "officer"]


@dataclass(frozen=True)
class CallbackFigures:
    key: str  # the unit_id or officer_id
    done_in_time: int = 0
    done_late: int = 0
    overdue: int = 0


def weekly_figures(
    callbacks: Iterable[Callback], week: str, *, by: By, zone: ZoneInfo = DEFAULT_ZONE
) -> list[CallbackFigures]:
    """Figures of `week` ('2026-W48') grouped `by` unit or officer, sorted by key; a group with
    nothing in the week is left out. The caller passes callbacks completed or gone overdue in the
    week (`week_bounds` gives the range to query)."""
    if by not in ("unit", "officer"):
        raise ValueError(f"weekly figures are by unit or officer, not {by!r}")
    start, end = week_bounds(week, zone)
    counts: dict[str, list[int]] = {}
    for callback in callbacks:
        key = (callback.unit_id if by == "unit" else callback.officer_id) or UNASSIGNED
        row = [0, 0, 0]
        if callback.completed_at is not None and _within(callback.completed_at, start, end):
            row[1 if callback.late else 0] = 1
        if callback.overdue_at is not None and _within(callback.overdue_at, start, end):
            row[2] = 1
        if any(row):
            total = counts.setdefault(key, [0, 0, 0])
            for index, value in enumerate(row):
                total[index] += value
    return [CallbackFigures(key, *counts[key]) for key in sorted(counts)]


def _within(moment: datetime, start: datetime, end: datetime) -> bool:
    return start <= moment < end
