"""Calendar months in the station's zone (the monthly sheet's): their labels and bounds, to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.timefmt import month_bounds, month_label

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_moment_counts_in_the_month_of_the_station_not_of_utc() -> None:
    last = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 30 November at the station
    assert month_label(last, SHANGHAI) == "2026-11"
    assert month_label(last + timedelta(seconds=1), SHANGHAI) == "2026-12"
    assert month_label(last + timedelta(seconds=1), ZoneInfo("UTC")) == "2026-11"


@pytest.mark.parametrize(("label", "start", "end"), [
    ("2026-11", datetime(2026, 11, 1), datetime(2026, 12, 1)),
    ("2026-12", datetime(2026, 12, 1), datetime(2027, 1, 1)),
    ("2028-02", datetime(2028, 2, 1), datetime(2028, 3, 1)),
    ("1000-01", datetime(1000, 1, 1), datetime(1000, 2, 1)),
])
def test_a_months_bounds_are_its_first_local_midnight_and_the_next_ones(label, start, end) -> None:
    assert month_bounds(label, SHANGHAI) == (start.replace(tzinfo=SHANGHAI), end.replace(tzinfo=SHANGHAI))


@pytest.mark.parametrize("label", ["2026-13", "2026-00", "2026-1", "2026-011", "26-11", "2026/11", "", "0999-12",
                                   "9999-01"])
def test_a_label_that_names_no_month_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match="2026-11"):
        month_bounds(label, SHANGHAI)
