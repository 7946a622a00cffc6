"""The callback deadlines of the 3- and 7-day rules (案件回访), counted as Chinese procedural law
counts days: the starting day is not counted, so the last day is `start_date + N` in the station's
zone, and a callback is in time until that day ends.

| rule          | started by      | start       | N |
|---------------|-----------------|-------------|---|
| `unsolved_7d` | `cases.accepted` | accepted_at | 7 |
| `solved_3d`   | `cases.solved`   | solved_at   | 3 |

Stored form: `due_at` is the **exclusive** end of the last day, i.e. the next local midnight,
as an aware UTC datetime. A callback done at `t` is in time iff `t < due_at`, so one done at
23:59:59.5 local on the last day is in time, and a sweep flags it overdue at `now >= due_at`.
Shown to people as `shown_due_at(due_at)` (23:59:59 local of the last day).

With the holiday extension on (a station setting, off by default) a last day that is a rest day
moves to the first working day after it (`holidays.extend_to_working_day`); the warnings of a
year no calendar covers are returned in `Deadline.warnings` for the caller to log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from common.domain import require_aware
from notify.domain.holidays import WorkCalendar, extend_to_working_day

Rule = Literal["unsolved_7d", "solved_3d"]
RULES: tuple[Rule, ...] = get_args(Rule)
RULE_DAYS: dict[Rule, int] = {"unsolved_7d": 7, "solved_3d": 3}
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Deadline:
    last_day: date  # the station-local day the callback must be done on, at the latest
    due_at: datetime  # UTC, exclusive: the local midnight that ends `last_day`
    warnings: tuple[str, ...] = ()  # for the caller to log (a year no holiday calendar covers)


def last_day(start: datetime, rule: Rule, zone: ZoneInfo = DEFAULT_ZONE) -> date:
    """`start`'s local date plus the rule's days (the start day is not counted)."""
    require_aware(start)
    if rule not in RULE_DAYS:
        raise ValueError(f"unknown callback rule {rule!r}; expected one of {', '.join(RULES)}")
    return start.astimezone(zone).date() + timedelta(days=RULE_DAYS[rule])


def end_of_day(day: date, zone: ZoneInfo = DEFAULT_ZONE) -> datetime:
    """The exclusive end of a local day: the next local midnight, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def deadline(
    start: datetime,
    rule: Rule,
    zone: ZoneInfo = DEFAULT_ZONE,
    *,
    holiday_extension: bool = False,
    calendars: Sequence[WorkCalendar] = (),
) -> Deadline:
    """The deadline of a callback under `rule` started at `start` (aware)."""
    day = last_day(start, rule, zone)
    warnings: tuple[str, ...] = ()
    if holiday_extension:
        extension = extend_to_working_day(day, calendars)
        day, warnings = extension.day, extension.warnings
    return Deadline(last_day=day, due_at=end_of_day(day, zone), warnings=warnings)


def shown_due_at(due_at: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> datetime:
    """The deadline as people read it: 23:59:59 local of the last day."""
    return (due_at - timedelta(seconds=1)).astimezone(zone)


def in_time(done_at: datetime, due_at: datetime) -> bool:
    """Done before the end of the last day."""
    return done_at < due_at
