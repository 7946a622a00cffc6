from __future__ import annotations

from datetime import timedelta

import pytest

from notify.domain import Callback, SendPolicy, apply_receipt, failure_kind, fire, sms_id_for
from tests.unit.notify.station_time import sh


@pytest.mark.parametrize(("detail", "kind"), [
    ("opted_out", "opted_out"), ("Undeliverable: absent subscriber", "undeliverable"),
    ("rate_limited 5 today", "rate_limited"), ("", ""), ("  ", ""), (":x", ""),
])
def test_the_failure_kind_is_the_leading_word_of_the_detail(detail: str, kind: str) -> None:
    assert failure_kind(detail) == kind


def test_fire_sends_at_the_send_time_once_and_not_a_second_earlier(make_callback, policy: SendPolicy) -> None:
    callback: Callback = make_callback()
    send_at = callback.send_at
    fire(callback, send_at - timedelta(milliseconds=1), policy)
    assert callback.state == "scheduled"
    fire(callback, send_at, policy)
    fire(callback, send_at, policy)
    assert (callback.state, callback.attempts, callback.message_id) == ("sent", 1, f"{callback.callback_id}.1")


def test_fire_at_night_moves_the_send_to_the_morning(make_callback, policy: SendPolicy) -> None:
    callback: Callback = make_callback(now=sh(2026, 11, 20, 10, 0))
    fire(callback, sh(2026, 11, 20, 21, 0), policy)
    assert (callback.state, callback.send_at) == ("scheduled", sh(2026, 11, 21, 8, 0))


def test_fire_past_the_deadline_makes_a_waiting_sms_overdue(make_callback, policy: SendPolicy) -> None:
    callback: Callback = make_callback()
    fire(callback, callback.due_at, policy)
    assert callback.state == "overdue" and callback.overdue and callback.send_at is None
    fire(callback, callback.due_at + timedelta(days=1), policy)
    assert [e.__class__.__name__ for e in callback.events].count("CallbackOverdue") == 1


def test_a_receipt_counts_only_for_the_sms_in_flight(make_callback, policy: SendPolicy) -> None:
    callback: Callback = make_callback()
    now = callback.send_at + timedelta(seconds=5)
    fire(callback, callback.send_at, policy)
    assert not apply_receipt(callback, now=now, sms_id=sms_id_for(callback), status="delivered", detail="", policy=policy)
    assert not apply_receipt(callback, now=now, sms_id=callback.message_id, status="sent", detail="", policy=policy)
    assert apply_receipt(callback, now=now, sms_id=callback.message_id, status="failed", detail="refused",
                         policy=policy)
    assert callback.state == "manual" and "refused" in callback.manual_reason
    assert not apply_receipt(callback, now=now, sms_id=callback.message_id, status="delivered", detail="",
                             policy=policy)
