from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from notify.domain import DEFAULT_RETRY_DELAYS, SendPolicy, deadline
from tests.unit.notify.station_time import SH, sh

POLICY = SendPolicy()


def due_7d(start: datetime) -> datetime:
    return deadline(start, "unsolved_7d", SH).due_at


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (sh(2026, 11, 20, 10, 0), sh(2026, 11, 20, 10, 0)),  # inside the hours: at once
        (sh(2026, 11, 20, 8, 0), sh(2026, 11, 20, 8, 0)),  # the first allowed second
        (sh(2026, 11, 20, 7, 59, 59), sh(2026, 11, 20, 8, 0)),  # just before: this morning
        (sh(2026, 11, 20, 20, 59, 59), sh(2026, 11, 20, 20, 59, 59)),  # the last allowed second
        (sh(2026, 11, 20, 21, 0), sh(2026, 11, 21, 8, 0)),  # the end is excluded: next morning
        (sh(2026, 11, 20, 23, 0), sh(2026, 11, 21, 8, 0)),  # accepted at 23:00: next morning
        (sh(2026, 11, 21, 0, 0), sh(2026, 11, 21, 8, 0)),  # midnight: this morning
        (sh(2026, 12, 31, 22, 0), sh(2027, 1, 1, 8, 0)),  # year end
        (datetime(2026, 11, 20, 17, 0, tzinfo=UTC), sh(2026, 11, 21, 8, 0)),  # 01:00 local
    ],
)
def test_first_send_is_inside_the_allowed_hours(now, expected):
    assert POLICY.first_send_at(now, due_7d(now)) == expected


def test_first_send_is_in_utc():
    at = POLICY.first_send_at(sh(2026, 11, 20, 23, 0), due_7d(sh(2026, 11, 20, 23, 0)))
    assert at is not None and at.utcoffset() == timedelta(0)
    assert at == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def test_a_configured_delay_and_hours_are_honoured():
    policy = SendPolicy(allowed_from=time(9, 30), allowed_until=time(18, 0), delay=timedelta(minutes=10))
    start = sh(2026, 11, 20, 10, 0)
    assert policy.first_send_at(start, due_7d(start)) == sh(2026, 11, 20, 10, 10)
    late = sh(2026, 11, 20, 17, 55)
    assert policy.first_send_at(late, due_7d(late)) == sh(2026, 11, 21, 9, 30)


def test_no_sms_time_when_the_window_is_past_or_at_the_cutoff():
    start = sh(2026, 11, 10, 10, 0)  # due at 2026-11-18 00:00 local, cutoff 11-17 00:00
    due = due_7d(start)
    assert POLICY.manual_cutoff(due) == sh(2026, 11, 17, 0, 0)
    assert POLICY.first_send_at(sh(2026, 11, 20, 10, 0), due) is None  # accepted 10 days ago
    assert POLICY.first_send_at(sh(2026, 11, 16, 20, 59, 59), due) == sh(2026, 11, 16, 20, 59, 59)
    assert POLICY.first_send_at(sh(2026, 11, 16, 21, 0), due) is None  # next allowed: 11-17 08:00, past cutoff


def test_a_send_exactly_at_the_cutoff_is_not_allowed():
    policy = SendPolicy(manual_lead=timedelta(hours=16))  # cutoff 08:00 on the last day
    due = due_7d(sh(2026, 11, 10, 10, 0))
    assert policy.manual_cutoff(due) == sh(2026, 11, 17, 8, 0)
    assert policy.send_at_or_after(sh(2026, 11, 17, 7, 0), due) is None
    assert SendPolicy(manual_lead=timedelta(hours=16) - timedelta(seconds=1)).send_at_or_after(
        sh(2026, 11, 17, 7, 0), due
    ) == sh(2026, 11, 17, 8, 0)


@pytest.mark.parametrize(
    ("failed_at", "failures", "expected"),
    [
        (sh(2026, 11, 20, 10, 0), 1, sh(2026, 11, 20, 10, 1)),
        (sh(2026, 11, 20, 10, 0), 2, sh(2026, 11, 20, 10, 5)),
        (sh(2026, 11, 20, 10, 0), 3, sh(2026, 11, 20, 10, 30)),
        (sh(2026, 11, 20, 10, 0), 4, sh(2026, 11, 20, 12, 0)),
        (sh(2026, 11, 20, 10, 0), 5, None),  # the delays are used up: manual
        (sh(2026, 11, 20, 20, 59, 0), 1, sh(2026, 11, 21, 8, 0)),  # 21:00 is outside: next morning
        (sh(2026, 11, 20, 20, 58, 59), 1, sh(2026, 11, 20, 20, 59, 59)),
        (sh(2026, 11, 20, 19, 30), 4, sh(2026, 11, 21, 8, 0)),
    ],
)
def test_retry_backoff_stays_inside_allowed_hours(failed_at, failures, expected):
    assert POLICY.retry_at(failed_at, failures, due_7d(sh(2026, 11, 20, 10, 0))) == expected


def test_a_retry_past_the_cutoff_is_not_scheduled():
    due = due_7d(sh(2026, 11, 10, 10, 0))  # cutoff 2026-11-17 00:00 local
    assert POLICY.retry_at(sh(2026, 11, 16, 20, 0), 1, due) == sh(2026, 11, 16, 20, 1)
    assert POLICY.retry_at(sh(2026, 11, 16, 20, 0), 4, due) is None  # 22:00 → 11-17 08:00: past the cutoff


def test_retry_needs_a_failure():
    with pytest.raises(ValueError, match="at least one failure"):
        POLICY.retry_at(sh(2026, 11, 20, 10, 0), 0, due_7d(sh(2026, 11, 20, 10, 0)))


def test_start_of_next_day_is_the_next_local_morning():
    assert POLICY.start_of_next_day(sh(2026, 11, 20, 0, 30)) == sh(2026, 11, 21, 8, 0)
    assert POLICY.start_of_next_day(sh(2026, 11, 20, 23, 59)) == sh(2026, 11, 21, 8, 0)
    assert POLICY.start_of_next_day(datetime(2026, 11, 20, 16, 0, tzinfo=UTC)) == sh(2026, 11, 22, 8, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"allowed_from": time(21, 0), "allowed_until": time(8, 0)},
        {"allowed_from": time(8, 0), "allowed_until": time(8, 0)},
        {"delay": timedelta(seconds=-1)},
        {"manual_lead": timedelta(seconds=-1)},
        {"retry_delays": (timedelta(minutes=1), timedelta(0))},
    ],
)
def test_a_bad_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        SendPolicy(**kwargs)


def test_zero_delay_and_zero_lead_are_valid():
    policy = SendPolicy(delay=timedelta(0), manual_lead=timedelta(0), retry_delays=(timedelta(seconds=1),))
    assert policy.manual_cutoff(sh(2026, 11, 28, 0, 0)) == sh(2026, 11, 28, 0, 0)


def test_defaults():
    assert (
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
    ) == DEFAULT_RETRY_DELAYS
    assert (POLICY.allowed_from, POLICY.allowed_until) == (time(8), time(21))
    assert POLICY.manual_lead == timedelta(hours=24)
    assert POLICY.delay == timedelta(0)
    assert POLICY.zone == SH


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        POLICY.next_allowed(datetime(2026, 11, 20, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        POLICY.start_of_next_day(datetime(2026, 11, 20, 10, 0))
