"""Times are stored in UTC and shown in the station's zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def local(value: Any, zone: ZoneInfo) -> Any:
    """The same structure with every aware datetime moved to `zone` (ISO 8601 with its offset in JSON)."""
    if isinstance(value, datetime):
        return value.astimezone(zone) if value.tzinfo else value
    if isinstance(value, dict):
        return {k: local(v, zone) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [local(v, zone) for v in value]
    return value


def epoch_ms(moment: datetime | None) -> int | None:
    """A time as whole epoch milliseconds: what the embedded store can range-query by index.

    nx-27017 answers a range on a numeric field from its index but scans for a range on
    dates; a deadline that a sweep looks up every second is stored in both forms.
    """
    return None if moment is None else int(moment.timestamp() * 1000)


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    """'2026-W48': the ISO week (Monday to Sunday) of `moment` in the station's zone."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (Monday 00:00 local) and end (next Monday 00:00 local) of an ISO week label.

    ValueError for a label that names no week: W00, W54, a W53 of a year with 52 weeks (2025-W53
    would be read as 2026-W01), or a year outside 1000..9998 (so the end and the zone stay in range).
    """
    if not label.isascii():  # strptime reads full-width digits (２０２６-W49) as digits
        raise ValueError(f"a week is written in ASCII digits like 2026-W48, not {label!r}")
    try:
        monday = datetime.strptime(label + "-1", "%G-W%V-%u")
    except ValueError as exc:
        raise ValueError(f"a week is written like 2026-W48, not {label!r}") from exc
    if not 1000 <= monday.year <= 9998:
        raise ValueError(f"{label!r}: a year from 1000 to 9998")
    if monday.isocalendar()[:2] != (int(label[:4]), int(label[-2:])):
        raise ValueError(f"{label!r} is not a week: {label[:4]} has 52 weeks")
    start = monday.replace(tzinfo=zone)
    return start, start + timedelta(days=7)


def month_label(moment: datetime, zone: ZoneInfo) -> str:
    """'2026-11': the calendar month of `moment` in the station's zone."""
    return f"{moment.astimezone(zone):%Y-%m}"


def month_bounds(label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (the 1st, 00:00 local) and end (the next month's 1st) of a month label like 2026-11."""
    try:
        first = datetime.strptime(label + "-01", "%Y-%m-%d")
    except ValueError as exc:
        raise ValueError(f"a month is written like 2026-11, not {label!r}") from exc
    if len(label) != 7 or not 1000 <= first.year <= 9998:
        raise ValueError(f"a month is written like 2026-11 (year 1000 to 9998), not {label!r}")
    if first.month == 12:
        following = first.replace(year=first.year + 1, month=1)
    else:
        following = first.replace(month=first.month + 1)
    return first.replace(tzinfo=zone), following.replace(tzinfo=zone)
