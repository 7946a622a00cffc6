from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.domain import ChineseCalendar, deadline, end_of_day, in_time, last_day, parse_station_calendar, shown_due_at
from tests.unit.notify.station_time import SH, sh


@pytest.mark.parametrize(
    ("start", "rule", "expected_last_day"),
    [
        (sh(2026, 11, 20, 10, 0), "unsolved_7d", date(2026, 11, 27)),
        (sh(2026, 11, 20, 0, 0, 0), "unsolved_7d", date(2026, 11, 27)),  # midnight exactly: that day
        (sh(2026, 11, 20, 23, 59, 59), "unsolved_7d", date(2026, 11, 27)),  # last second: still that day
        (sh(2026, 11, 19, 23, 59, 59, 999999), "unsolved_7d", date(2026, 11, 26)),
        (sh(2026, 11, 28, 9, 0), "unsolved_7d", date(2026, 12, 5)),  # month end
        (sh(2026, 2, 25, 9, 0), "unsolved_7d", date(2026, 3, 4)),  # February, not a leap year
        (sh(2026, 12, 28, 9, 0), "unsolved_7d", date(2027, 1, 4)),  # year end
        (sh(2026, 12, 31, 9, 0), "solved_3d", date(2027, 1, 3)),
        (sh(2026, 11, 20, 10, 0), "solved_3d", date(2026, 11, 23)),
        (datetime(2026, 11, 20, 17, 0, tzinfo=UTC), "unsolved_7d", date(2026, 11, 28)),  # 01:00 on the 21st local
        (datetime(2026, 11, 20, 15, 59, 59, tzinfo=UTC), "unsolved_7d", date(2026, 11, 27)),  # 23:59:59 local
        (datetime(2026, 11, 20, 16, 0, tzinfo=UTC), "unsolved_7d", date(2026, 11, 28)),  # 00:00 local
    ],
)
def test_last_day_does_not_count_the_start_day_in_the_station_zone(start, rule, expected_last_day):
    assert last_day(start, rule, SH) == expected_last_day


def test_due_at_is_the_local_midnight_ending_the_last_day_in_utc():
    due = deadline(sh(2026, 11, 20, 10, 0), "unsolved_7d", SH)
    assert due.due_at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert due.due_at.utcoffset() == timedelta(0)
    assert due.last_day == date(2026, 11, 27)
    assert due.warnings == ()
    assert shown_due_at(due.due_at, SH) == sh(2026, 11, 27, 23, 59, 59)


def test_a_callback_at_the_last_instant_of_the_last_day_is_in_time():
    due = deadline(sh(2026, 11, 20, 10, 0), "unsolved_7d", SH).due_at
    assert in_time(sh(2026, 11, 27, 23, 59, 59, 500000), due)
    assert not in_time(sh(2026, 11, 28, 0, 0, 0), due)


def test_the_zone_of_the_station_decides_the_day():
    start = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    assert last_day(start, "solved_3d", ZoneInfo("UTC")) == date(2026, 11, 23)
    assert last_day(start, "solved_3d", SH) == date(2026, 11, 24)
    assert end_of_day(date(2026, 11, 23), ZoneInfo("UTC")) == datetime(2026, 11, 24, tzinfo=UTC)


def test_a_case_solved_the_day_it_was_accepted_gets_both_deadlines_from_that_day():
    accepted, solved = sh(2026, 11, 20, 9, 0), sh(2026, 11, 20, 17, 0)
    assert last_day(accepted, "unsolved_7d", SH) == date(2026, 11, 27)
    assert last_day(solved, "solved_3d", SH) == date(2026, 11, 23)


def test_naive_times_and_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        last_day(datetime(2026, 11, 20, 10, 0), "unsolved_7d", SH)
    with pytest.raises(ValueError, match="unknown callback rule 'solved_5d'"):
        last_day(sh(2026, 11, 20, 10, 0), "solved_5d", SH)  # type: ignore[arg-type]


CHINA = (ChineseCalendar(),)


@pytest.mark.parametrize(
    ("start", "rule", "expected_last_day"),
    [
        # last day 2026-10-01 (National Day, Thursday): the holidays run to 10-07, so 10-08
        (sh(2026, 9, 24, 10, 0), "unsolved_7d", date(2026, 10, 8)),
        (sh(2026, 10, 4, 10, 0), "solved_3d", date(2026, 10, 8)),  # last day 10-07, the last holiday
        (sh(2026, 11, 11, 10, 0), "solved_3d", date(2026, 11, 16)),  # Saturday 11-14 → Monday 11-16
        (sh(2026, 11, 12, 10, 0), "solved_3d", date(2026, 11, 16)),  # Sunday 11-15 → Monday 11-16
        (sh(2026, 9, 17, 10, 0), "solved_3d", date(2026, 9, 20)),  # Sunday 09-20, an adjusted working day
        (sh(2026, 10, 7, 10, 0), "solved_3d", date(2026, 10, 10)),  # Saturday 10-10, an adjusted working day
        (sh(2026, 11, 20, 10, 0), "unsolved_7d", date(2026, 11, 27)),  # a Friday: not moved
    ],
)
def test_holiday_extension_moves_a_rest_day_to_the_next_working_day(start, rule, expected_last_day):
    due = deadline(start, rule, SH, holiday_extension=True, calendars=CHINA)
    assert due.last_day == expected_last_day
    assert due.due_at == end_of_day(expected_last_day, SH)
    assert due.warnings == ()


def test_holiday_extension_is_off_by_default():
    assert deadline(sh(2026, 9, 24, 10, 0), "unsolved_7d", SH, calendars=CHINA).last_day == date(2026, 10, 1)


def test_2027_without_a_station_file_counts_calendar_days_with_a_warning():
    # 2026-12-26 + 7 = 2027-01-02, a Saturday chinesecalendar 1.11 does not know
    due = deadline(sh(2026, 12, 26, 10, 0), "unsolved_7d", SH, holiday_extension=True, calendars=CHINA)
    assert due.last_day == date(2027, 1, 2)
    assert len(due.warnings) == 1
    assert "2027" in due.warnings[0] and "2027-01-02" in due.warnings[0]


def test_2027_with_a_station_file_is_extended_from_the_file():
    station = parse_station_calendar('[2027]\nholidays = ["2027-01-01"]\n')
    # 2026-12-25 + 7 = 2027-01-01 (holiday) → 01-02 Sat, 01-03 Sun → Monday 01-04
    due = deadline(sh(2026, 12, 25, 10, 0), "unsolved_7d", SH, holiday_extension=True, calendars=(station, *CHINA))
    assert due.last_day == date(2027, 1, 4)
    assert due.warnings == ()


def test_no_calendar_at_all_is_a_warning_not_a_crash():
    due = deadline(sh(2026, 11, 11, 10, 0), "solved_3d", SH, holiday_extension=True, calendars=())
    assert due.last_day == date(2026, 11, 14)
    assert len(due.warnings) == 1
