"""Weekly callback figures per unit and per officer: done in time, done late, overdue, the parties'
satisfaction (当事人满意率) and their objections (异议).

A week is an ISO week, Monday 00:00 to next Monday 00:00 in the station's zone (2026-W53 exists:
2026-12-28 to 2027-01-03), via `common.timefmt.week_bounds` (pure standard library).

Counted in the week of the moment it happened:
- `done_in_time`: completed in the week, before its deadline;
- `done_late`: completed in the week, at or after its deadline;
- `overdue`: went overdue in the week (flagged by the sweep, or overdue at once for a case that
  came in late) — whether or not it was done later, so a late callback counts once as `overdue`
  in the week of the miss and once as `done_late` in the week it was made up.
A superseded callback counts only for a miss it had before (its `overdue_at`).
- `satisfied` / `basically` / `dissatisfied`: the parties' levels of the callbacks completed in the
  week (an SMS answer, or what the officer recorded); `satisfaction_rate` = (satisfied + basically)
  over those rated, None when none was;
- `objections_opened`, `objections_explained`, `objections_escalated`: in the week of each step.
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
    satisfied: int = 0
    basically: int = 0
    dissatisfied: int = 0
    objections_opened: int = 0
    objections_explained: int = 0
    objections_escalated: int = 0

    @property
    def rated(self) -> int:
        return self.satisfied + self.basically + self.dissatisfied

    @property
    def satisfaction_rate(self) -> float | None:
        """当事人满意率: satisfied and basically satisfied over all the parties' levels."""
        return round((self.satisfied + self.basically) / self.rated, 4) if self.rated else None


#: the counters of a row, in the order of its fields
_COUNTS = ("done_in_time", "done_late", "overdue", "satisfied", "basically", "dissatisfied", "objections_opened",
           "objections_explained", "objections_escalated")


def weekly_figures(
    callbacks: Iterable[Callback], week: str, *, by: By, zone: ZoneInfo = DEFAULT_ZONE
) -> list[CallbackFigures]:
    """Figures of `week` ('2026-W48') grouped `by` unit or officer, sorted by key; a group with
    nothing in the week is left out. The caller passes callbacks completed or gone overdue in the
    week (`week_bounds` gives the range to query)."""
    if by not in ("unit", "officer"):
        raise ValueError(f"weekly figures are by unit or officer, not {by!r}")
    start, end = week_bounds(week, zone)
    counts: dict[str, dict[str, int]] = {}
    for callback in callbacks:
        key = (callback.unit_id if by == "unit" else callback.officer_id) or UNASSIGNED
        row = dict.fromkeys(_COUNTS, 0)
        if _within(callback.completed_at, start, end):
            row["done_late" if callback.late else "done_in_time"] = 1
            if callback.level in ("satisfied", "basically", "dissatisfied"):
                row[callback.level] = 1
        row["overdue"] = int(_within(callback.overdue_at, start, end))
        row["objections_opened"] = int(_within(callback.objection_at, start, end))
        row["objections_explained"] = int(_within(callback.explained_at, start, end))
        row["objections_escalated"] = int(_within(callback.escalated_at, start, end))
        if any(row.values()):
            total = counts.setdefault(key, dict.fromkeys(_COUNTS, 0))
            for name, value in row.items():
                total[name] += value
    return [CallbackFigures(key, **counts[key]) for key in sorted(counts)]


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end
