"""No party gets more than `daily_limit` SMS a local day from the station (default 3).

The service keeps one counter document per (phone, local day): `day_key` names it, a single
atomic increment-if-below-limit claims a slot, and a
refused send is postponed to `SendPolicy.start_of_next_day`. Days are the station's local days,
so the counter resets at local midnight, not at UTC midnight (08:00 in Shanghai).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from notify.domain.deadlines import DEFAULT_ZONE

DEFAULT_DAILY_LIMIT = 3


def local_day(moment: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """'2026-11-21': the station-local day of `moment`."""
    if moment.tzinfo is None:
        raise ValueError("rate limits need timezone-aware datetimes")
    return moment.astimezone(zone).date().isoformat()


def day_key(phone: str, moment: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """The counter key of a phone's local day: '13800138001:2026-11-21'."""
    return f"{phone}:{local_day(moment, zone)}"
