"""事不过夜 as the seeds say it: before the reporting day ends (local), or by noon the next day for an
evening report; every edge pinned to the second."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mediation.domain import Dispute, FirstContactRule, Party
from mediation.settings import MediationSettings

ZONE = ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
RULE = FirstContactRule(ZONE)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local time at the station, in November 2026."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=ZONE)


@pytest.mark.parametrize(("reported", "due"), [
    (at(23, 0, 0, 0), at(24, 0)),  # the first second of a day: before that day ends
    (at(23, 8, 15), at(24, 0)),
    (at(23, 19, 59, 59), at(24, 0)),  # the last second before the evening
    (at(23, 20, 0, 0), at(24, 12)),  # the evening's first second: noon the next day
    (at(23, 21, 0), at(24, 12)),
    (at(23, 23, 59, 59), at(24, 12)),  # the day's last second
])
def test_the_due_time_of_a_report(reported: datetime, due: datetime) -> None:
    assert RULE.due(reported) == due
    assert RULE.due(reported).tzinfo == UTC


def test_the_due_time_is_local_whatever_zone_the_report_came_in() -> None:
    assert RULE.due(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == at(24, 12)  # 20:00 local
    assert RULE.due(datetime(2026, 11, 23, 11, 59, 59, tzinfo=UTC)) == at(24, 0)  # 19:59:59 local
    assert RULE.due(datetime(2026, 11, 22, 16, 0, tzinfo=UTC)) == at(24, 0)  # 00:00 of the 23rd local


def test_a_month_and_a_year_end() -> None:
    assert RULE.due(at(30, 21)) == datetime(2026, 12, 1, 12, tzinfo=ZONE)
    assert RULE.due(datetime(2026, 12, 31, 10, tzinfo=ZONE)) == datetime(2027, 1, 1, tzinfo=ZONE)


def test_the_hours_are_settings() -> None:
    rule = FirstContactRule(ZONE, evening_from=time(18, 30), next_day_by=time(9, 0))
    assert rule.due(at(23, 18, 29, 59)) == at(24, 0)
    assert rule.due(at(23, 18, 30)) == at(24, 9)


def test_an_evening_from_midnight_is_refused() -> None:
    with pytest.raises(ValueError, match="evening_from"):
        FirstContactRule(ZONE, evening_from=time(0, 0))


def test_a_naive_report_time_is_refused() -> None:
    with pytest.raises(ValueError):
        RULE.due(datetime(2026, 11, 23, 21))


def test_the_settings_give_the_rule_and_their_defaults_are_the_seeds() -> None:
    settings = MediationSettings()
    assert settings.contact_rule == FirstContactRule(ZONE, time(20, 0), time(12, 0))
    custom = MediationSettings(first_contact_evening_from="19:00", first_contact_next_day_by="11:30")
    assert custom.contact_rule.due(at(23, 19)) == at(24, 11, 30)


def _reported(when: datetime) -> Dispute:
    return Dispute.open(dispute_id="D-1", source="visit", reported_at=when.astimezone(UTC), reported_by="P1",
                        category="neighbour", summary="争吵", parties=[Party("p1", "王某")], contact_rule=RULE)


def test_a_dispute_reported_at_21_is_overdue_at_12_00_01_not_at_11_59_59() -> None:
    dispute = _reported(at(23, 21))
    assert dispute.check_deadlines(at(24, 11, 59, 59)) == []
    assert not dispute.overdue
    assert len(dispute.check_deadlines(at(24, 12, 0, 1))) == 1
    assert dispute.overdue


def test_a_dispute_reported_at_21_is_overdue_from_noon_itself() -> None:
    dispute = _reported(at(23, 21))
    assert len(dispute.check_deadlines(at(24, 12))) == 1


def test_a_morning_report_contacted_at_23_59_59_is_in_time_at_midnight_late() -> None:
    in_time, late = _reported(at(23, 9)), _reported(at(23, 9))
    in_time.contact(now=at(23, 23, 59, 59), actor="P1")
    late.contact(now=at(24, 0), actor="P1")
    assert (in_time.overdue, late.overdue) == (False, True)


def test_a_morning_report_is_not_left_until_the_next_morning() -> None:
    dispute = _reported(at(23, 9))
    assert [type(e).__name__ for e in dispute.check_deadlines(at(24, 8, 59))] == ["DisputeOverdue"]
