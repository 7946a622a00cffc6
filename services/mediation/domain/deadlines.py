"""事不过夜: when a dispute's first contact is due, in the station's local time.

A report during the day is contacted before that day ends (local midnight); one made at or after
the evening hour (default 20:00) by the set hour of the next day (default 12:00). The due time is
the first instant that is late: `now >= due` is overdue, so a 21:00 report is on time at
11:59:59 the next day and overdue from 12:00:00 (and at 12:00:01).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from common.domain import require_aware

STATION_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class FirstContactRule:
    zone: tzinfo = STATION_ZONE
    evening_from: time = time(20, 0)  # a report from this hour on is due the next day…
    next_day_by: time = time(12, 0)  # …by this hour

    def __post_init__(self) -> None:
        if self.evening_from == time(0, 0):
            raise ValueError("evening_from 00:00 would make every report an evening one")

    def due(self, reported_at: datetime) -> datetime:
        """The first late instant for a first contact of a report made at `reported_at`, in UTC."""
        require_aware(reported_at)
        local = reported_at.astimezone(self.zone)
        next_day = local.date() + timedelta(days=1)
        if local.timetz().replace(tzinfo=None) >= self.evening_from:
            by = datetime.combine(next_day, self.next_day_by, tzinfo=self.zone)
        else:
            by = datetime.combine(next_day, time(0, 0), tzinfo=self.zone)
        return by.astimezone(UTC)
