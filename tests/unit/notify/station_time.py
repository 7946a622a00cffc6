"""Station-local times for the notify unit tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    """A time in the station's zone: sh(2026, 11, 20, 10, 0) is 10:00 in Shanghai."""
    return datetime(*args, tzinfo=SH)
