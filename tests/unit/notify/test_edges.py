"""Words of errors and warnings, zones other than the default, and the UTC of stored times."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from notify.domain import (
    CalendarFileError,
    CallbackRules,
    Case,
    CaseAccepted,
    CaseParty,
    CaseSolved,
    SendPolicy,
    StationCalendar,
    StationContact,
    callback_text,
    deadline,
    end_of_day,
    extend_to_working_day,
    last_day,
    on_case_accepted,
    on_case_solved,
    parse_station_calendar,
    shown_due_at,
)
from tests.unit.notify.station_time import SH, sh

UTCZ = ZoneInfo("UTC")
STATION = StationContact("枫亭派出所", "0594-7651234")


# --- deadlines ------------------------------------------------------------------------------


def test_stored_times_are_in_utc():
    assert end_of_day(date(2026, 11, 27), SH).tzinfo is UTC
    assert SendPolicy().next_allowed(sh(2026, 11, 20, 23, 0)).tzinfo is UTC
    assert SendPolicy().start_of_next_day(sh(2026, 11, 20, 10, 0)).tzinfo is UTC


def test_the_zone_given_is_the_zone_used():
    start = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 01:00 on the 21st in Shanghai
    due = deadline(start, "solved_3d", UTCZ)
    assert due.last_day == date(2026, 11, 23)
    assert due.due_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert shown_due_at(due.due_at, UTCZ) == datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    assert shown_due_at(due.due_at, UTCZ).tzinfo is UTCZ
    assert deadline(start, "solved_3d").last_day == date(2026, 11, 24)  # the default zone: Shanghai


def test_deadline_error_words():
    with pytest.raises(ValueError) as error:
        last_day(sh(2026, 11, 20, 10, 0), "x")  # type: ignore[arg-type]
    assert str(error.value) == "unknown callback rule 'x'; expected one of unsolved_7d, solved_3d"
    with pytest.raises(ValueError) as error:
        last_day(datetime(2026, 11, 20, 10, 0), "solved_3d")
    assert str(error.value) == "the rules need timezone-aware datetimes"


# --- holidays -------------------------------------------------------------------------------


def test_two_year_tables_add_up():
    calendar = parse_station_calendar(
        '[2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-06"]\n'
        '[2028]\nholidays = ["2028-01-03"]\nworkdays = ["2028-01-08"]\n'
    )
    assert calendar.years == {2027, 2028}
    assert calendar.holidays == {date(2027, 1, 1), date(2028, 1, 3)}
    assert calendar.workdays == {date(2027, 2, 6), date(2028, 1, 8)}


def test_a_value_error_names_the_source_and_the_quoted_line():
    text = '# 2027-02-30 was a typo once\n[2027]\nholidays = [\n  "2027-02-30",\n]\n'
    with pytest.raises(CalendarFileError) as error:
        parse_station_calendar(text, source="cal.toml")
    assert str(error.value) == "cal.toml: 2027.holidays[0] (line 4): '2027-02-30' is not a date written YYYY-MM-DD"


def test_a_value_not_found_as_written_has_no_line():
    with pytest.raises(CalendarFileError) as error:
        parse_station_calendar("[2027]\nholidays = [2027_01_01]\n")
    assert str(error.value) == 'calendar file: 2027.holidays[0]: 20270101 is not a date string like "2027-10-01"'


def test_calendar_error_words():
    cases = {
        '[2027]\nholidays = ["2027-02-06", "2027-02-07"]\nworkdays = ["2027-02-07", "2027-02-06"]\n': (
            "calendar file: 2027-02-06, 2027-02-07 listed both as holiday and as workday"
        ),
        '[2027]\nworkdays = ["2027-02-09", "2027-02-08"]\n': (
            "calendar file: workdays are adjusted working Saturdays/Sundays, not weekdays: 2027-02-08, 2027-02-09"
        ),
        "[2027]\nworkdays = 1\n": 'calendar file: 2027.workdays must be a list of dates like "2027-10-01"',
        '[2027]\nholidays = ["2028-01-01"]\n': "calendar file: 2027.holidays[0] (line 2): 2028-01-01 is not in 2027",
        "[2027]\nextra = []\n": "calendar file: [2027] has unknown key 'extra'; expected holidays, workdays",
        "[y2027]\n": "calendar file: [y2027] is not a year; tables are named like [2027]",
        "2027 = 1\n": "calendar file: 2027 must be a table [2027] with holidays/workdays lists",
    }
    for text, message in cases.items():
        with pytest.raises(CalendarFileError) as error:
            parse_station_calendar(text)
        assert str(error.value) == message


def test_the_uncovered_year_warning_words():
    extension = extend_to_working_day(date(2031, 5, 1), ())
    assert extension.warnings == (
        "no holiday calendar covers 2031: the deadline on 2031-05-01 is counted in calendar days;"
        " supply a station calendar file for that year",
    )


def test_a_walk_over_a_holiday_carries_no_warning():
    station = StationCalendar(years=frozenset({2027}), holidays=frozenset({date(2027, 1, 1)}))
    assert extend_to_working_day(date(2027, 1, 1), (station,)).warnings == ()


# --- send policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowed_from": SendPolicy().allowed_until}, "allowed SMS hours must start before they end, within one day"),
        ({"delay": -SendPolicy().manual_lead}, "delay and manual_lead cannot be negative"),
        ({"retry_delays": (-SendPolicy().manual_lead,)}, "retry delays must be positive"),
    ],
)
def test_policy_error_words(kwargs, message):
    with pytest.raises(ValueError) as error:
        SendPolicy(**kwargs)
    assert str(error.value) == message


def test_policy_naive_and_retry_words():
    with pytest.raises(ValueError) as error:
        SendPolicy().next_allowed(datetime(2026, 11, 20, 10, 0))
    assert str(error.value) == "the rules need timezone-aware datetimes"
    with pytest.raises(ValueError) as error:
        SendPolicy().retry_at(sh(2026, 11, 20, 10, 0), 0, sh(2026, 11, 28, 0, 0))
    assert str(error.value) == "a retry follows at least one failure"


def test_a_policy_west_of_utc_counts_its_own_morning():
    new_york = ZoneInfo("America/New_York")
    policy = SendPolicy(zone=new_york)
    early = datetime(2026, 11, 20, 7, 0, tzinfo=new_york)  # 12:00 UTC
    assert policy.next_allowed(early) == datetime(2026, 11, 20, 8, 0, tzinfo=new_york)


def test_a_policy_in_another_zone():
    policy = SendPolicy(zone=UTCZ)
    assert policy.next_allowed(datetime(2026, 11, 20, 23, 0, tzinfo=UTC)) == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert policy.is_allowed(sh(2026, 11, 20, 23, 0))  # 15:00 UTC


# --- SMS text -------------------------------------------------------------------------------


def test_text_without_officer_and_with_a_one_character_officer_phone():
    assert callback_text("unsolved_7d", case_id="A1", station=STATION) == (
        "【枫亭派出所】您好，您所涉案件（编号A1）正在办理中。联系电话0594-7651234。"
        "对我们的工作请回复：1满意 2基本满意 3不满意，也可直接回复意见。回复TD退订"
    )
    assert "联系电话9。" in callback_text("unsolved_7d", case_id="A1", station=STATION, officer_phone="9")


def test_station_contact_words():
    with pytest.raises(ValueError) as error:
        StationContact("", "1")
    assert str(error.value) == "the station name must have 1 to 12 characters"
    with pytest.raises(ValueError) as error:
        StationContact("枫亭", "")
    assert str(error.value) == "the station phone must have 1 to 16 characters"


# --- case rules -----------------------------------------------------------------------------


P1 = CaseParty("p1", "王某", "13800138001")


def test_case_rules_use_their_zone():
    rules = CallbackRules(zone=UTCZ, policy=SendPolicy(zone=UTCZ))
    start = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    plan = on_case_accepted(None, CaseAccepted("A1", "criminal", start, "P1", "G1", (P1,)), now=start, rules=rules)
    assert plan.schedule[0].due_at == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert plan.schedule[0].party_name == "王某"


def test_a_solved_case_record_round_trips():
    plan = on_case_solved(
        None, CaseSolved("A1", sh(2026, 11, 22, 15, 0), (P1,)), now=sh(2026, 11, 22, 15, 0), rules=CallbackRules()
    )
    doc = plan.case.to_dict()
    assert doc["solved_at"] == sh(2026, 11, 22, 15, 0)
    doc["solved_at"] = doc["solved_at"].astimezone(UTC).replace(tzinfo=None)
    assert Case.from_dict(doc) == plan.case
    assert Case.from_dict(doc).solved_at.tzinfo is not None
