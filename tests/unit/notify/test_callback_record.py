"""The history and events each command writes, pinned entry by entry, and every refusal's words."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from notify.domain import (
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
    HistoryEntry,
    SendPolicy,
    callback_id_for,
)
from tests.unit.notify.station_time import SH, sh

DUE = datetime(2026, 11, 28, 0, 0, tzinfo=SH)
CB = callback_id_for("A2026-0042", "p1", "unsolved_7d")


def ids(at: datetime) -> dict:
    return {"callback_id": CB, "case_id": "A2026-0042", "party_id": "p1", "at": at}


def test_the_callback_id_is_stable_across_versions():
    # stored ids and msg ids derive from it: a change here would schedule every callback again
    assert CB == "cb-b06ac3c129d67a93aead2521"


def test_history_and_events_of_an_sms_callback(make_callback, policy):
    callback = make_callback(start_at=sh(2026, 11, 20, 20, 0))
    assert not callback.ready_to_send(sh(2026, 11, 20, 21, 0), policy)  # late sweep: to the morning
    assert callback.ready_to_send(sh(2026, 11, 21, 8, 0), policy)
    callback.mark_sent(now=sh(2026, 11, 21, 8, 0), message_id="m-1")
    callback.delivery_receipt(now=sh(2026, 11, 21, 8, 1), message_id="m-1", delivered=False, policy=policy)
    callback.mark_sent(now=sh(2026, 11, 21, 8, 2), message_id="m-2")
    callback.delivery_receipt(now=sh(2026, 11, 21, 8, 3), message_id="m-2", delivered=True, policy=policy)
    callback.assign(now=sh(2026, 11, 21, 9, 0), officer_id="P1002", unit_id="G2")
    callback.complete(now=sh(2026, 11, 21, 10, 0), channel="sms", reached=True, completed_by="P1002")
    assert callback.history == [
        HistoryEntry(sh(2026, 11, 20, 20, 0), "system", "schedule", None, "scheduled", "unsolved_7d"),
        HistoryEntry(
            sh(2026, 11, 20, 21, 0), "system", "postpone", "scheduled", "scheduled", "outside the allowed hours"
        ),
        HistoryEntry(sh(2026, 11, 21, 8, 0), "system", "sent", "scheduled", "sent", "m-1"),
        HistoryEntry(sh(2026, 11, 21, 8, 1), "system", "retry", "sent", "scheduled", "delivery failed"),
        HistoryEntry(sh(2026, 11, 21, 8, 2), "system", "sent", "scheduled", "sent", "m-2"),
        HistoryEntry(sh(2026, 11, 21, 8, 3), "system", "delivered", "sent", "delivered", "m-2"),
        HistoryEntry(sh(2026, 11, 21, 9, 0), "system", "assign", "delivered", "delivered", "P1002"),
        HistoryEntry(sh(2026, 11, 21, 10, 0), "P1002", "complete", "delivered", "done", ""),
    ]
    assert callback.events == [
        CallbackScheduled(
            **ids(sh(2026, 11, 20, 20, 0)),
            rule="unsolved_7d",
            due_at=DUE,
            send_at=sh(2026, 11, 20, 20, 0),
            officer_id="P1001",
            unit_id="G1",
        ),
        CallbackSent(**ids(sh(2026, 11, 21, 8, 0)), message_id="m-1", attempt=1),
        CallbackSendFailed(
            **ids(sh(2026, 11, 21, 8, 1)), reason="delivery failed", failures=1, retry_at=sh(2026, 11, 21, 8, 2)
        ),
        CallbackSent(**ids(sh(2026, 11, 21, 8, 2)), message_id="m-2", attempt=2),
        CallbackDelivered(**ids(sh(2026, 11, 21, 8, 3)), message_id="m-2"),
        CallbackCompleted(
            **ids(sh(2026, 11, 21, 10, 0)),
            rule="unsolved_7d",
            channel="sms",
            reached=True,
            opinion="",
            completed_by="P1002",
            late=False,
            officer_id="P1002",
            unit_id="G2",
        ),
    ]
    assert callback.party_name == "王某"


def test_history_and_events_of_a_manual_callback_gone_overdue_then_superseded(make_callback, policy):
    callback = make_callback(party_name="")
    callback.postpone(now=sh(2026, 11, 20, 10, 0), until=sh(2026, 11, 21, 8, 0), reason="daily limit", policy=policy)
    callback.send_failed(now=sh(2026, 11, 21, 8, 0), reason="gateway down", policy=policy)
    callback.open_manual(now=sh(2026, 11, 21, 9, 0), reason="the party opted out of SMS")
    callback.check_deadlines(DUE)
    callback.supersede(now=DUE + timedelta(hours=1), superseded_by="cb-3d")
    assert callback.history == [
        HistoryEntry(sh(2026, 11, 20, 10, 0), "system", "schedule", None, "scheduled", "unsolved_7d"),
        HistoryEntry(sh(2026, 11, 20, 10, 0), "system", "postpone", "scheduled", "scheduled", "daily limit"),
        HistoryEntry(sh(2026, 11, 21, 8, 0), "system", "retry", "scheduled", "scheduled", "gateway down"),
        HistoryEntry(sh(2026, 11, 21, 9, 0), "system", "manual", "scheduled", "manual", "the party opted out of SMS"),
        HistoryEntry(DUE, "system", "overdue", "manual", "overdue", ""),
        HistoryEntry(DUE + timedelta(hours=1), "system", "supersede", "overdue", "superseded", "cb-3d"),
    ]
    assert callback.events[1:] == [
        CallbackSendFailed(
            **ids(sh(2026, 11, 21, 8, 0)), reason="gateway down", failures=1, retry_at=sh(2026, 11, 21, 8, 1)
        ),
        CallbackManual(
            **ids(sh(2026, 11, 21, 9, 0)),
            reason="the party opted out of SMS",
            due_at=DUE,
            officer_id="P1001",
            unit_id="G1",
        ),
        CallbackOverdue(**ids(DUE), rule="unsolved_7d", due_at=DUE, officer_id="P1001", unit_id="G1"),
        CallbackSuperseded(**ids(DUE + timedelta(hours=1)), superseded_by="cb-3d"),
    ]
    assert callback.party_name == ""


def test_history_of_manual_paths(make_callback, policy):
    late = make_callback(now=sh(2026, 11, 26, 21, 0))
    assert late.history[-1] == HistoryEntry(
        sh(2026, 11, 26, 21, 0), "system", "manual", "scheduled", "manual", "no SMS time left before the manual cutoff"
    )
    assert late.manual_at == sh(2026, 11, 26, 21, 0)
    swept = make_callback()
    swept.ready_to_send(sh(2026, 11, 27, 9, 0), policy)
    assert swept.history[-1] == HistoryEntry(
        sh(2026, 11, 27, 9, 0),
        "system",
        "manual",
        "scheduled",
        "manual",
        "outside the allowed hours; no SMS time left before the manual cutoff",
    )
    cut = make_callback()
    cut.check_deadlines(sh(2026, 11, 27, 0, 0))
    assert cut.manual_at == sh(2026, 11, 27, 0, 0) and cut.history[-1].at == sh(2026, 11, 27, 0, 0)
    postponed = make_callback()
    postponed.postpone(now=sh(2026, 11, 26, 10, 0), until=sh(2026, 11, 27, 8, 0), reason="daily limit", policy=policy)
    assert postponed.manual_at == sh(2026, 11, 26, 10, 0)
    failed = make_callback()
    for attempt in range(5):
        failed.send_failed(now=sh(2026, 11, 21, 9, attempt), reason="x", policy=policy)
    assert failed.manual_at == sh(2026, 11, 21, 9, 4)
    assert failed.history[-1].from_state == "scheduled"


def test_ready_to_send_at_the_cutoff_inside_the_hours_goes_manual(make_callback):
    policy = SendPolicy(manual_lead=timedelta(hours=12))  # cutoff 12:00 on the last day
    callback = make_callback(policy=policy)
    assert callback.manual_cutoff_at == sh(2026, 11, 27, 12, 0)
    assert callback.ready_to_send(sh(2026, 11, 27, 11, 59, 59), policy)
    assert not callback.ready_to_send(sh(2026, 11, 27, 12, 0), policy)
    assert callback.state == "manual"


def test_a_scheduled_callback_swept_exactly_at_the_deadline_is_only_overdue(make_callback):
    callback = make_callback()
    assert [type(event) for event in callback.check_deadlines(DUE)] == [CallbackOverdue]
    assert callback.manual_at is None


def test_schedule_needs_aware_start_and_due(make_callback):
    with pytest.raises(ValueError, match="timezone-aware"):
        make_callback(now=sh(2026, 11, 20, 10, 0), start_at=datetime(2026, 11, 20, 10, 0), due_at=DUE)
    with pytest.raises(ValueError, match="timezone-aware"):
        make_callback(due_at=datetime(2026, 11, 28, 0, 0))


def test_the_defaults_of_schedule_and_complete(policy):
    callback = Callback.schedule(
        now=sh(2026, 11, 20, 10, 0),
        case_id="A1",
        party_id="p1",
        rule="solved_3d",
        start_at=sh(2026, 11, 20, 10, 0),
        due_at=sh(2026, 11, 24, 0, 0),
        policy=policy,
    )
    assert (callback.party_name, callback.phone, callback.officer_id, callback.unit_id) == ("", None, None, None)
    assert callback.state == "manual"
    callback.complete(now=sh(2026, 11, 21, 10, 0), channel="visit", reached=False, completed_by="P1")
    assert callback.opinion == ""


def test_the_opinion_is_the_note_of_the_completion(make_callback):
    callback = make_callback()
    callback.complete(now=sh(2026, 11, 21, 10, 0), channel="phone", reached=True, opinion="基本满意", completed_by="P1")
    assert callback.history[-1] == HistoryEntry(
        sh(2026, 11, 21, 10, 0), "P1", "complete", "scheduled", "done", "基本满意"
    )


REFUSALS = [
    (
        lambda c, p: c.mark_sent(now=sh(2026, 11, 21, 9, 0), message_id="m"),
        "cannot mark_sent callback {id}: it is manual (allowed when scheduled)",
    ),
    (
        lambda c, p: c.send_failed(now=sh(2026, 11, 21, 9, 0), reason="x", policy=p),
        "cannot send_failed callback {id}: it is manual (allowed when scheduled, sent)",
    ),
    (
        lambda c, p: c.postpone(now=sh(2026, 11, 21, 9, 0), until=sh(2026, 11, 22, 8, 0), reason="x", policy=p),
        "cannot postpone callback {id}: it is manual (allowed when scheduled)",
    ),
    (
        lambda c, p: c.open_manual(now=sh(2026, 11, 21, 9, 0), reason="x"),
        "cannot open_manual callback {id}: it is manual (allowed when scheduled, sent, delivered)",
    ),
    (
        lambda c, p: c.ready_to_send(sh(2026, 11, 21, 9, 0), p),
        "cannot send callback {id}: it is manual (allowed when scheduled)",
    ),
]


@pytest.mark.parametrize(("command", "message"), REFUSALS)
def test_refusals_name_the_command_the_state_and_the_allowed_states(make_callback, policy, command, message):
    callback = make_callback(phone=None)
    with pytest.raises(CallbackRefused) as refused:
        command(callback, policy)
    assert str(refused.value) == refused.value.reason == message.format(id=callback.callback_id)


def test_refusals_of_done_and_superseded(make_callback):
    callback = make_callback()
    callback.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1001")
    with pytest.raises(CallbackRefused) as refused:
        callback.assign(now=sh(2026, 11, 21, 9, 0), officer_id="P1", unit_id=None)
    assert refused.value.reason == (
        f"cannot assign callback {CB}: it is done (allowed when scheduled, sent, delivered, manual, overdue)"
    )
    with pytest.raises(CallbackRefused) as refused:
        callback.supersede(now=sh(2026, 11, 21, 9, 0), superseded_by="x")
    assert refused.value.reason == (
        f"cannot supersede callback {CB}: it is done (allowed when scheduled, sent, delivered, manual, overdue)"
    )
    superseded = make_callback()
    superseded.supersede(now=sh(2026, 11, 21, 9, 0), superseded_by="cb-3d")
    with pytest.raises(CallbackRefused) as refused:
        superseded.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1")
    assert refused.value.reason == (
        f"callback {CB} was superseded by cb-3d when the case was solved; record the callback there"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: c.complete(now=sh(2026, 11, 21, 9, 0), channel="fax", reached=True, completed_by="P1"),
            "unknown channel 'fax'; expected one of phone, visit, sms",
        ),
        (
            lambda c: c.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by=""),
            "a completed callback needs who made it",
        ),
        (lambda c: c.mark_sent(now=sh(2026, 11, 21, 9, 0), message_id=""), "a sent SMS needs the gateway's message id"),
        (lambda c: c.open_manual(now=sh(2026, 11, 21, 9, 0), reason=""), "opening a manual callback needs a reason"),
        (
            lambda c: c.assign(now=sh(2026, 11, 21, 9, 0), officer_id=" ", unit_id=None),
            "assigning a callback needs an officer id",
        ),
    ],
)
def test_refusal_words(make_callback, call, message):
    with pytest.raises(CallbackRefused) as refused:
        call(make_callback())
    assert refused.value.reason == message


def test_schedule_refusal_words(make_callback):
    with pytest.raises(CallbackRefused) as refused:
        make_callback(rule="solved_5d", due_at=DUE)
    assert refused.value.reason == "unknown callback rule 'solved_5d'; expected one of unsolved_7d, solved_3d"
    with pytest.raises(CallbackRefused) as refused:
        make_callback(due_at=sh(2026, 11, 20, 10, 0))
    assert refused.value.reason == "a callback's deadline must come after its start"
    with pytest.raises(ValueError) as naive:
        make_callback(now=datetime(2026, 11, 20, 10, 0))
    assert str(naive.value) == "the rules need timezone-aware datetimes"
