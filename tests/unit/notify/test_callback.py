from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notify.domain import (
    OPEN_STATES,
    Callback,
    CallbackCompleted,
    CallbackDelivered,
    CallbackManual,
    CallbackOverdue,
    CallbackRefused,
    CallbackScheduled,
    CallbackSendFailed,
    CallbackSent,
    CallbackSuperseded,
    callback_id_for,
)
from tests.unit.notify.station_time import sh

DUE = sh(2026, 11, 28, 0, 0)
CUTOFF = sh(2026, 11, 27, 0, 0)


def kinds(callback: Callback) -> list[str]:
    return [type(event).__name__ for event in callback.events]


# --- ids ------------------------------------------------------------------------------------


def test_callback_ids_are_deterministic_and_distinct_per_case_party_and_rule():
    base = callback_id_for("A2026-0042", "p1", "unsolved_7d")
    assert base == callback_id_for("A2026-0042", "p1", "unsolved_7d")
    assert base.startswith("cb-") and len(base) == 27
    assert all(char in "0123456789abcdef" for char in base[3:])
    others = {
        callback_id_for("A2026-0043", "p1", "unsolved_7d"),
        callback_id_for("A2026-0042", "p2", "unsolved_7d"),
        callback_id_for("A2026-0042", "p1", "solved_3d"),
        callback_id_for("A2026-004", "2p1", "unsolved_7d"),  # no ambiguity at the joins
    }
    assert base not in others and len(others) == 4


# --- schedule -------------------------------------------------------------------------------


def test_schedule_inside_the_hours_sends_at_once(make_callback):
    callback = make_callback()
    assert callback.callback_id == callback_id_for("A2026-0042", "p1", "unsolved_7d")
    assert callback.state == "scheduled"
    assert callback.send_at == sh(2026, 11, 20, 10, 0)
    assert callback.due_at == DUE
    assert callback.manual_cutoff_at == CUTOFF
    assert callback.next_due_at == sh(2026, 11, 20, 10, 0)
    assert callback.events == [
        CallbackScheduled(
            callback_id=callback.callback_id,
            case_id="A2026-0042",
            party_id="p1",
            at=sh(2026, 11, 20, 10, 0),
            rule="unsolved_7d",
            due_at=DUE,
            send_at=sh(2026, 11, 20, 10, 0),
            officer_id="P1001",
            unit_id="G1",
        )
    ]
    assert [(h.action, h.from_state, h.to_state) for h in callback.history] == [("schedule", None, "scheduled")]


def test_schedule_at_23_sends_next_morning(make_callback):
    callback = make_callback(start_at=sh(2026, 11, 20, 23, 0))
    assert callback.send_at == sh(2026, 11, 21, 8, 0)


@pytest.mark.parametrize(("phone", "opted_out"), [(None, False), ("", False), ("13800138001", True)])
def test_a_party_without_phone_or_opted_out_is_manual_at_once(make_callback, phone, opted_out):
    callback = make_callback(phone=phone, opted_out=opted_out)
    assert callback.state == "manual"
    assert callback.send_at is None
    assert callback.manual_at == sh(2026, 11, 20, 10, 0)
    assert callback.manual_reason == ("the party opted out of SMS" if opted_out else "the party has no phone number")
    assert kinds(callback) == ["CallbackScheduled", "CallbackManual"]
    assert callback.events[1] == CallbackManual(
        callback_id=callback.callback_id,
        case_id="A2026-0042",
        party_id="p1",
        at=sh(2026, 11, 20, 10, 0),
        reason=callback.manual_reason,
        due_at=DUE,
        officer_id="P1001",
        unit_id="G1",
    )
    assert callback.next_due_at == DUE


def test_a_case_too_late_for_sms_is_manual_at_once(make_callback):
    callback = make_callback(now=sh(2026, 11, 26, 21, 0))  # next allowed: 11-27 08:00, after the cutoff
    assert callback.state == "manual"
    assert callback.manual_reason == "no SMS time left before the manual cutoff"


def test_a_case_accepted_more_than_7_days_ago_is_overdue_at_once(make_callback):
    callback = make_callback(now=DUE)
    assert callback.state == "overdue"
    assert callback.overdue and callback.overdue_at == DUE
    assert callback.send_at is None
    assert kinds(callback) == ["CallbackScheduled", "CallbackOverdue"]
    assert callback.events[0].send_at is None
    assert callback.next_due_at is None


def test_one_second_before_the_deadline_is_not_overdue(make_callback):
    callback = make_callback(now=DUE - timedelta(seconds=1))
    assert callback.state == "manual"


def test_schedule_refusals(make_callback):
    with pytest.raises(CallbackRefused, match="unknown callback rule 'solved_5d'"):
        make_callback(rule="solved_5d", due_at=DUE)
    with pytest.raises(CallbackRefused, match="deadline must come after its start"):
        make_callback(due_at=sh(2026, 11, 20, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_callback(now=datetime(2026, 11, 20, 10, 0))


# --- sending --------------------------------------------------------------------------------


def test_ready_to_send_only_from_send_at_inside_the_hours(make_callback, policy):
    callback = make_callback(start_at=sh(2026, 11, 20, 23, 0))  # send at 08:00 on the 21st
    assert not callback.ready_to_send(sh(2026, 11, 21, 7, 59, 59), policy)
    assert callback.send_at == sh(2026, 11, 21, 8, 0)
    assert callback.ready_to_send(sh(2026, 11, 21, 8, 0), policy)
    assert callback.history[-1].action == "schedule"


def test_a_sweep_late_at_night_moves_the_send_to_the_morning(make_callback, policy):
    callback = make_callback(start_at=sh(2026, 11, 20, 20, 0))
    assert not callback.ready_to_send(sh(2026, 11, 20, 21, 0), policy)
    assert callback.send_at == sh(2026, 11, 21, 8, 0)
    assert callback.state == "scheduled"
    assert callback.history[-1].action == "postpone"


def test_a_sweep_after_the_cutoff_goes_manual(make_callback, policy):
    callback = make_callback()
    assert not callback.ready_to_send(CUTOFF, policy)
    assert callback.state == "manual"
    assert "no SMS time left" in (callback.manual_reason or "")


def test_ready_to_send_refused_outside_scheduled(make_callback, policy):
    callback = make_callback(phone=None)
    with pytest.raises(CallbackRefused, match="cannot send callback .*: it is manual"):
        callback.ready_to_send(sh(2026, 11, 20, 10, 0), policy)


def test_sent_then_delivered(make_callback, policy):
    callback = make_callback()
    callback.mark_sent(now=sh(2026, 11, 20, 10, 0, 5), message_id="m-1")
    assert (callback.state, callback.message_id, callback.attempts, callback.send_at) == ("sent", "m-1", 1, None)
    assert callback.next_due_at == CUTOFF
    assert callback.events[-1] == CallbackSent(
        callback_id=callback.callback_id,
        case_id="A2026-0042",
        party_id="p1",
        at=sh(2026, 11, 20, 10, 0, 5),
        message_id="m-1",
        attempt=1,
    )
    assert not callback.delivery_receipt(now=sh(2026, 11, 20, 10, 1), message_id="m-0", delivered=True, policy=policy)
    assert callback.state == "sent"
    assert callback.delivery_receipt(now=sh(2026, 11, 20, 10, 1), message_id="m-1", delivered=True, policy=policy)
    assert (callback.state, callback.delivered_at) == ("delivered", sh(2026, 11, 20, 10, 1))
    assert isinstance(callback.events[-1], CallbackDelivered)
    # a doubled receipt changes nothing
    events = len(callback.events)
    assert not callback.delivery_receipt(now=sh(2026, 11, 20, 10, 2), message_id="m-1", delivered=True, policy=policy)
    assert len(callback.events) == events and callback.delivered_at == sh(2026, 11, 20, 10, 1)


def test_mark_sent_needs_a_message_id_and_state_scheduled(make_callback):
    callback = make_callback()
    with pytest.raises(CallbackRefused, match="message id"):
        callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="  ")
    callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m-1")
    with pytest.raises(CallbackRefused, match="it is sent"):
        callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m-2")


def test_a_failed_receipt_retries_with_backoff_then_goes_manual(make_callback, policy):
    callback = make_callback()
    now = sh(2026, 11, 20, 10, 0)
    expected = [now + timedelta(minutes=1), None, None, None]
    for attempt, wait in enumerate(policy.retry_delays, start=1):
        callback.mark_sent(now=now, message_id=f"m-{attempt}")
        assert callback.delivery_receipt(
            now=now, message_id=f"m-{attempt}", delivered=False, reason="UNDELIV", policy=policy
        )
        assert callback.state == "scheduled"
        assert callback.send_at == now + wait
        assert callback.failures == attempt
        expected[attempt - 1] = now + wait
        now = now + wait
    assert callback.attempts == 4
    callback.mark_sent(now=now, message_id="m-5")
    callback.delivery_receipt(now=now, message_id="m-5", delivered=False, policy=policy)
    assert callback.state == "manual"
    assert callback.manual_reason == "SMS not delivered after 5 attempt(s): delivery failed"
    failed = [event for event in callback.events if isinstance(event, CallbackSendFailed)]
    assert [event.retry_at for event in failed] == [*expected, None]
    assert [event.failures for event in failed] == [1, 2, 3, 4, 5]
    assert kinds(callback)[-2:] == ["CallbackSendFailed", "CallbackManual"]


def test_a_gateway_refusal_retries_from_scheduled(make_callback, policy):
    callback = make_callback()
    callback.send_failed(now=sh(2026, 11, 20, 10, 0), reason="gateway down", policy=policy)
    assert callback.state == "scheduled"
    assert callback.send_at == sh(2026, 11, 20, 10, 1)
    assert callback.history[-1].action == "retry" and callback.history[-1].note == "gateway down"


def test_send_failed_refused_once_delivered(make_callback, policy):
    callback = make_callback()
    callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m-1")
    callback.delivery_receipt(now=sh(2026, 11, 20, 10, 0), message_id="m-1", delivered=True, policy=policy)
    with pytest.raises(CallbackRefused):
        callback.send_failed(now=sh(2026, 11, 20, 10, 0), reason="x", policy=policy)


def test_postpone_for_the_rate_limit(make_callback, policy):
    callback = make_callback()
    now = sh(2026, 11, 20, 10, 0)
    callback.postpone(now=now, until=policy.start_of_next_day(now), reason="daily limit", policy=policy)
    assert callback.send_at == sh(2026, 11, 21, 8, 0)
    assert callback.history[-1].note == "daily limit"
    callback.postpone(now=sh(2026, 11, 26, 10, 0), until=sh(2026, 11, 27, 8, 0), reason="daily limit", policy=policy)
    assert callback.state == "manual"
    assert callback.manual_reason == "daily limit; no SMS time left before the manual cutoff"


def test_postpone_never_moves_earlier_than_now(make_callback, policy):
    callback = make_callback()
    callback.postpone(now=sh(2026, 11, 20, 12, 0), until=sh(2026, 11, 20, 9, 0), reason="x", policy=policy)
    assert callback.send_at == sh(2026, 11, 20, 12, 0)


def test_open_manual(make_callback):
    callback = make_callback()
    with pytest.raises(CallbackRefused, match="needs a reason"):
        callback.open_manual(now=sh(2026, 11, 20, 11, 0), reason=" ")
    callback.open_manual(now=sh(2026, 11, 20, 11, 0), reason="the party opted out of SMS")
    assert callback.state == "manual" and callback.manual_at == sh(2026, 11, 20, 11, 0)
    with pytest.raises(CallbackRefused, match="it is manual"):
        callback.open_manual(now=sh(2026, 11, 20, 11, 0), reason="again")


# --- deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (lambda c, p: None, "SMS not sent before the manual cutoff"),
        (
            lambda c, p: c.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m"),
            "no delivery receipt before the manual cutoff",
        ),
        (
            lambda c, p: (
                c.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m"),
                c.delivery_receipt(now=sh(2026, 11, 20, 10, 0), message_id="m", delivered=True, policy=p),
            ),
            "SMS delivered, no reply before the manual cutoff",
        ),
    ],
)
def test_at_the_cutoff_an_open_callback_becomes_a_manual_task(make_callback, policy, prepare, reason):
    callback = make_callback()
    prepare(callback, policy)
    assert callback.check_deadlines(CUTOFF - timedelta(seconds=1)) == []
    due = callback.check_deadlines(CUTOFF)
    assert [type(event) for event in due] == [CallbackManual]
    assert callback.state == "manual" and callback.manual_reason == reason
    assert callback.next_due_at == DUE
    assert callback.check_deadlines(CUTOFF + timedelta(hours=1)) == []


def test_overdue_once_at_the_deadline(make_callback):
    callback = make_callback(phone=None)
    assert callback.check_deadlines(DUE - timedelta(microseconds=1)) == []
    due = callback.check_deadlines(DUE)
    assert due == [
        CallbackOverdue(
            callback_id=callback.callback_id,
            case_id="A2026-0042",
            party_id="p1",
            at=DUE,
            rule="unsolved_7d",
            due_at=DUE,
            officer_id="P1001",
            unit_id="G1",
        )
    ]
    assert callback.state == "overdue" and callback.overdue_at == DUE
    assert callback.check_deadlines(DUE + timedelta(days=1)) == []
    assert callback.next_due_at is None


def test_a_sweep_that_comes_after_the_deadline_goes_straight_to_overdue(make_callback):
    callback = make_callback()
    due = callback.check_deadlines(DUE + timedelta(hours=3))
    assert [type(event) for event in due] == [CallbackOverdue]
    assert callback.state == "overdue"


def test_done_and_superseded_callbacks_never_go_overdue(make_callback):
    done = make_callback()
    done.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1001")
    superseded = make_callback()
    superseded.supersede(now=sh(2026, 11, 21, 9, 0), superseded_by="cb-x")
    for callback in (done, superseded):
        assert callback.check_deadlines(DUE + timedelta(days=1)) == []
        assert callback.next_due_at is None


# --- completion -----------------------------------------------------------------------------


def test_complete_in_time_at_the_last_instant(make_callback):
    callback = make_callback()
    callback.complete(
        now=DUE - timedelta(milliseconds=500), channel="phone", reached=True, opinion="满意", completed_by="P1001"
    )
    assert callback.state == "done" and not callback.late
    assert (callback.channel, callback.reached, callback.opinion, callback.completed_by) == (
        "phone",
        True,
        "满意",
        "P1001",
    )
    assert callback.events[-1] == CallbackCompleted(
        callback_id=callback.callback_id,
        case_id="A2026-0042",
        party_id="p1",
        at=DUE - timedelta(milliseconds=500),
        rule="unsolved_7d",
        channel="phone",
        reached=True,
        opinion="满意",
        completed_by="P1001",
        late=False,
        officer_id="P1001",
        unit_id="G1",
    )
    assert callback.history[-1].actor == "P1001"


def test_an_overdue_callback_can_still_be_done_late(make_callback):
    callback = make_callback()
    callback.check_deadlines(DUE)
    callback.complete(now=DUE, channel="visit", reached=False, completed_by="P1002")
    assert callback.state == "done" and callback.late and callback.overdue
    assert callback.history[-1].from_state == "overdue"


def test_completion_refusals(make_callback):
    callback = make_callback()
    with pytest.raises(CallbackRefused, match="unknown channel 'email'"):
        callback.complete(now=sh(2026, 11, 21, 9, 0), channel="email", reached=True, completed_by="P1001")
    with pytest.raises(CallbackRefused, match="who made it"):
        callback.complete(now=sh(2026, 11, 21, 9, 0), channel="sms", reached=True, completed_by=" ")
    callback.complete(now=sh(2026, 11, 21, 9, 0), channel="sms", reached=True, completed_by="P1001")
    with pytest.raises(CallbackRefused, match=r"already done at 2026-11-21 09:00:00\+08:00 by P1001"):
        callback.complete(now=sh(2026, 11, 21, 10, 0), channel="phone", reached=True, completed_by="P1002")
    superseded = make_callback()
    superseded.supersede(now=sh(2026, 11, 21, 9, 0), superseded_by="cb-3d")
    with pytest.raises(CallbackRefused, match="superseded by cb-3d"):
        superseded.complete(now=sh(2026, 11, 21, 10, 0), channel="phone", reached=True, completed_by="P1001")


# --- supersede, assign ----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["scheduled", "sent", "manual", "overdue"])
def test_supersede_an_open_7_day_callback(make_callback, state):
    callback = make_callback(phone=None if state == "manual" else "13800138001")
    if state == "sent":
        callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m")
    if state == "overdue":
        callback.check_deadlines(DUE)
    callback.supersede(now=DUE + timedelta(days=1), superseded_by="cb-3d")
    assert (callback.state, callback.superseded_by, callback.send_at) == ("superseded", "cb-3d", None)
    assert callback.events[-1] == CallbackSuperseded(
        callback_id=callback.callback_id,
        case_id="A2026-0042",
        party_id="p1",
        at=DUE + timedelta(days=1),
        superseded_by="cb-3d",
    )
    assert callback.overdue is (state == "overdue")
    with pytest.raises(CallbackRefused, match="it is superseded"):
        callback.supersede(now=DUE, superseded_by="cb-3d")


def test_a_3_day_callback_is_never_superseded(make_callback):
    callback = make_callback(rule="solved_3d")
    with pytest.raises(CallbackRefused, match="only a 7-day callback"):
        callback.supersede(now=sh(2026, 11, 21, 9, 0), superseded_by="x")


def test_assign_names_the_officer(make_callback):
    callback = make_callback(officer_id=None, unit_id=None)
    callback.assign(now=sh(2026, 11, 21, 9, 0), officer_id="P1001", unit_id="G1")
    assert (callback.officer_id, callback.unit_id) == ("P1001", "G1")
    with pytest.raises(CallbackRefused, match="officer id"):
        callback.assign(now=sh(2026, 11, 21, 9, 0), officer_id="", unit_id=None)
    callback.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1001")
    with pytest.raises(CallbackRefused, match="it is done"):
        callback.assign(now=sh(2026, 11, 21, 9, 0), officer_id="P1002", unit_id=None)


# --- storage --------------------------------------------------------------------------------


def test_round_trip_through_the_store_with_naive_datetimes(make_callback, policy):
    callback = make_callback()
    callback.mark_sent(now=sh(2026, 11, 20, 10, 0), message_id="m-1")
    callback.delivery_receipt(now=sh(2026, 11, 20, 10, 1), message_id="m-1", delivered=True, policy=policy)
    callback.check_deadlines(DUE)
    callback.complete(now=DUE + timedelta(hours=9), channel="phone", reached=True, opinion="好", completed_by="P1001")
    callback.version = 5
    doc = callback.to_dict()
    assert "events" not in doc and doc["next_due_at"] is None
    stored = {
        key: (value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value)
        for key, value in doc.items()
    }
    stored["history"] = [{**entry, "at": entry["at"].astimezone(UTC).replace(tzinfo=None)} for entry in doc["history"]]
    stored["_id"] = callback.callback_id
    loaded = Callback.from_dict(stored)
    assert loaded.to_dict() == doc
    assert loaded.events == [] and loaded.version == 5
    assert loaded.due_at.tzinfo is not None and loaded.history[0].at.tzinfo is not None


def test_next_due_at_of_a_scheduled_callback_is_the_earlier_of_send_and_cutoff(make_callback):
    callback = make_callback(now=sh(2026, 11, 26, 20, 0))
    assert callback.send_at == sh(2026, 11, 26, 20, 0)
    assert callback.next_due_at == sh(2026, 11, 26, 20, 0)
    callback.send_at = sh(2026, 11, 27, 8, 0)  # a stale send time past the cutoff: the cutoff comes first
    assert callback.next_due_at == CUTOFF
    assert callback.to_dict()["next_due_at"] == CUTOFF


def test_is_open(make_callback):
    assert {"scheduled", "sent", "delivered", "manual", "overdue"} == OPEN_STATES
    callback = make_callback()
    assert callback.is_open
    callback.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1001")
    assert not callback.is_open
