from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import notify.domain
from notify.domain import (
    CalendarFileError,
    ChineseCalendar,
    StationCalendar,
    extend_to_working_day,
    parse_station_calendar,
)
from notify.domain.holidays import MAX_EXTENSION_DAYS

SAMPLE = Path(notify.domain.__file__).with_name("station_calendar.sample.toml")


def test_the_sample_file_parses():
    calendar = parse_station_calendar(SAMPLE.read_text(encoding="utf-8"))
    assert calendar.years == {2027}
    assert date(2027, 10, 1) in calendar.holidays


def test_a_year_table_without_keys_covers_the_year_with_weekends_only():
    calendar = parse_station_calendar("[2027]\n")
    assert calendar.is_rest_day(date(2027, 1, 1)) is False  # a Friday, no holidays listed
    assert calendar.is_rest_day(date(2027, 1, 2)) is True  # Saturday
    assert calendar.is_rest_day(date(2027, 1, 3)) is True  # Sunday
    assert calendar.is_rest_day(date(2026, 1, 3)) is None  # another year: not covered


def test_missing_workdays_key_defaults_to_none():
    calendar = parse_station_calendar('[2027]\nholidays = ["2027-02-08"]\n')
    assert calendar.workdays == frozenset()
    assert calendar.is_rest_day(date(2027, 2, 8)) is True  # a Monday holiday


def test_missing_holidays_key_defaults_to_none():
    calendar = parse_station_calendar('[2027]\nworkdays = ["2027-02-06"]\n')
    assert calendar.holidays == frozenset()
    assert calendar.is_rest_day(date(2027, 2, 6)) is False  # an adjusted working Saturday
    assert calendar.is_rest_day(date(2027, 2, 7)) is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[2027\nholidays = []\n", r"calendar file: not valid TOML: .*line 1"),
        ("[27]\n", r"\[27\] is not a year"),
        ("[twenty]\n", r"\[twenty\] is not a year"),
        ("2027 = 5\n", r"2027 must be a table"),
        ('[2027]\nholiday = ["2027-01-01"]\n', r"\[2027\] has unknown key 'holiday'"),
        ('[2027]\nholidays = "2027-01-01"\n', r"2027.holidays must be a list"),
        ('[2027]\nworkdays = [\n  "2027-02-06",\n  "2027-02-30",\n]\n', r"2027.workdays\[1\] \(line 4\): '2027-02-30'"),
        ("[2027]\nholidays = [20270101]\n", r"2027.holidays\[0\] \(line 2\): 20270101 is not a date string"),
        ('[2027]\nholidays = ["20270101"]\n', r"holidays\[0\] \(line 2\): '20270101' is not a date written YYYY-MM-DD"),
        ('[2027]\nholidays = ["2026-10-01"]\n', r"holidays\[0\] \(line 2\): 2026-10-01 is not in 2027"),
        ('[2027]\nholidays = ["2027-02-06"]\nworkdays = ["2027-02-06"]\n', r"2027-02-06 listed both"),
        ('[2027]\nworkdays = ["2027-02-08"]\n', r"not weekdays: 2027-02-08$"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line_or_key(text, message):
    with pytest.raises(CalendarFileError, match=message):
        parse_station_calendar(text)


def test_the_error_names_the_source():
    with pytest.raises(CalendarFileError, match=r"^/etc/fq/cal.toml: \[x\]"):
        parse_station_calendar("[x]\n", source="/etc/fq/cal.toml")


def test_chinese_calendar_knows_2026_and_not_2027():
    china = ChineseCalendar()
    assert china.is_rest_day(date(2026, 10, 1)) is True
    assert china.is_rest_day(date(2026, 10, 10)) is False  # adjusted working Saturday
    assert china.is_rest_day(date(2026, 11, 20)) is False
    assert china.is_rest_day(date(2027, 1, 4)) is None


def test_the_first_source_covering_a_year_answers():
    station = StationCalendar(years=frozenset({2026}), holidays=frozenset({date(2026, 11, 20)}))
    china = ChineseCalendar()
    assert extend_to_working_day(date(2026, 11, 20), (station, china)).day == date(2026, 11, 23)
    assert extend_to_working_day(date(2026, 11, 20), (china, station)).day == date(2026, 11, 20)


def test_a_walk_into_an_uncovered_year_stops_there_with_a_warning():
    # 2026-12-31 is a Thursday working day; make it a holiday in a station file for 2026 only
    station = StationCalendar(years=frozenset({2026}), holidays=frozenset({date(2026, 12, 31)}))
    extension = extend_to_working_day(date(2026, 12, 31), (station,))
    assert extension.day == date(2027, 1, 1)
    assert extension.warnings and "2027" in extension.warnings[0]


def test_an_endless_rest_is_cut_off_with_a_warning():
    always = StationCalendar(
        years=frozenset({2027}),
        holidays=frozenset(date.fromordinal(date(2027, 1, 1).toordinal() + i) for i in range(365)),
    )
    extension = extend_to_working_day(date(2027, 3, 1), (always,))
    assert extension.day == date(2027, 3, 1)
    assert extension.warnings == (
        f"{MAX_EXTENSION_DAYS} rest days in a row from 2027-03-01: the calendar is wrong, the deadline is counted"
        " in calendar days",
    )


def test_a_rest_run_just_short_of_the_cut_off_is_walked():
    start = date(2027, 3, 1)
    run = frozenset(date.fromordinal(start.toordinal() + i) for i in range(MAX_EXTENSION_DAYS - 1))
    extension = extend_to_working_day(start, (StationCalendar(years=frozenset({2027}), holidays=run),))
    assert extension.day == date.fromordinal(start.toordinal() + MAX_EXTENSION_DAYS - 1)
    assert extension.warnings == ()


def test_a_working_day_needs_no_move():
    extension = extend_to_working_day(date(2026, 11, 20), (ChineseCalendar(),))
    assert extension.day == date(2026, 11, 20)
    assert extension.warnings == ()
