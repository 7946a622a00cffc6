"""A time a request names: the station's when it has no offset, in UTC, within 2000-01-01 .. 2100-01-01."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from common.errors import Invalid
from common.http import query_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
TICK = timedelta(microseconds=1)


def test_no_time_is_none() -> None:
    assert query_time("since", None, SHANGHAI) is None


def test_a_time_without_an_offset_is_the_stations_and_comes_back_in_utc() -> None:
    at = query_time("since", datetime(2026, 12, 3, 8, 0), SHANGHAI)
    assert at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC) and at.tzinfo is UTC
    with_offset = query_time("since", datetime(2026, 12, 3, 8, 0, tzinfo=timezone(timedelta(hours=-5))), SHANGHAI)
    assert with_offset == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # its own offset, not the station's


@pytest.mark.parametrize(("value", "within"), [
    (datetime(2000, 1, 1, tzinfo=UTC), True),  # the first time in
    (datetime(2000, 1, 1, tzinfo=UTC) - TICK, False),
    (datetime(2000, 1, 1, 8, 0), True),  # the station's 08:00 is 00:00 UTC
    (datetime(2000, 1, 1, 8, 0) - TICK, False),
    (datetime(2100, 1, 1, tzinfo=UTC) - TICK, True),  # the last time in
    (datetime(2100, 1, 1, tzinfo=UTC), False),
    (datetime(1, 1, 1), False),  # the station's year 1 has no UTC time
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8))), False),
    (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-8))), False),  # past year 9999 in UTC
])
def test_a_time_outside_what_an_event_carries_is_a_422_naming_the_field(value: datetime, within: bool) -> None:
    if within:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
        assert query_time("due_from", value, SHANGHAI) == aware
    else:
        with pytest.raises(Invalid) as refused:
            query_time("due_from", value, SHANGHAI)
        assert refused.value.field == "due_from"

