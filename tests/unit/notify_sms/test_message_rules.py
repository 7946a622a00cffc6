"""The outbound message's rules: due times, tries and backoff, receipts, each state entered once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notify.sms.domain.messages import InboundSms, OutboundMessage, RetryPolicy, station_phone

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POLICY = RetryPolicy()


def message(not_before: datetime | None = None, now: datetime = NOW) -> OutboundMessage:
    return OutboundMessage.request(
        sms_id="S-1", phone="13800138001", text="您好", purpose="survey", requested_by="rating", ref="sv-1",
        requested_at=now, not_before=not_before, now=now,
    )


def statuses(m: OutboundMessage) -> list[str]:
    return [e.status for e in m.events]


def test_a_request_is_due_at_its_not_before_or_at_once():
    assert message().next_try_at == NOW
    assert message(NOW + timedelta(hours=9)).next_try_at == NOW + timedelta(hours=9)
    assert message(NOW - timedelta(days=1)).next_try_at == NOW  # a past not_before: now
    assert message().state == "queued" and message().events == []
    with pytest.raises(ValueError):
        message(datetime(2026, 11, 23, 8, 0))


def test_due_to_the_microsecond_and_only_while_queued():
    m = message(NOW + timedelta(hours=1))
    assert not m.due(NOW + timedelta(hours=1) - timedelta(microseconds=1))
    assert m.due(NOW + timedelta(hours=1))
    assert not m.begin_attempt(NOW, POLICY) and m.attempts == 0


def test_an_attempt_takes_the_message_for_the_lease():
    m = message()
    assert not m.in_flight
    assert m.begin_attempt(NOW, POLICY)
    assert (m.attempts, m.first_try_at, m.next_try_at, m.in_flight) == (1, NOW, NOW + POLICY.lease, True)
    assert not m.begin_attempt(NOW + POLICY.lease - timedelta(microseconds=1), POLICY)  # another replica: not yet
    assert m.attempts == 1 and m.in_flight


def test_a_try_whose_outcome_was_lost_waits_for_the_gateways_report_before_the_next():
    m = message()
    m.begin_attempt(NOW, POLICY)  # handed over, then its replica died before saving the gateway's answer
    lease_end = NOW + POLICY.lease
    assert not m.begin_attempt(lease_end, POLICY)  # no second SMS at once: it may have gone
    assert (m.state, m.attempts, m.in_flight, m.next_try_at) == ("queued", 1, False, lease_end + POLICY.receipt_wait)
    assert "outcome was lost" in m.detail and m.events == []
    assert POLICY.receipt_wait == timedelta(minutes=5)
    wait_end = lease_end + POLICY.receipt_wait
    assert not m.begin_attempt(wait_end - timedelta(microseconds=1), POLICY)
    assert m.begin_attempt(wait_end, POLICY)  # nothing was heard of it: tried again, to the microsecond
    assert (m.attempts, m.first_try_at, m.next_try_at, m.in_flight) == (2, NOW, wait_end + POLICY.lease, True)


def test_the_gateways_report_in_the_wait_makes_it_sent_and_ends_the_tries():
    m = message()
    m.begin_attempt(NOW, POLICY)
    m.begin_attempt(NOW + POLICY.lease, POLICY)  # lost: waiting
    assert m.accepted(NOW + POLICY.lease + timedelta(seconds=3), "kannel")  # "taken by the SMSC"
    assert (m.state, m.next_try_at, m.in_flight, statuses(m)) == ("sent", None, False, ["sent"])
    assert not m.due(NOW + timedelta(days=1)) and not m.begin_attempt(NOW + timedelta(days=1), POLICY)


@pytest.mark.parametrize("outcome", ["accepted", "refused for now", "refused for good", "receipt", "opted out"])
def test_every_saved_outcome_ends_the_flight(outcome):
    m = message()
    m.begin_attempt(NOW, POLICY)
    if outcome == "accepted":
        m.accepted(NOW, "kannel")
    elif outcome == "refused for now":
        m.gateway_refused(NOW, retryable=True, detail="away", policy=POLICY)
    elif outcome == "refused for good":
        m.gateway_refused(NOW, retryable=False, detail="bad", policy=POLICY)
    elif outcome == "receipt":
        m.receipt(NOW, delivered=True)
    else:
        m.refuse_before_sending(NOW, "opted_out")
    assert not m.in_flight
    if outcome == "refused for now":  # the next try is at the backoff, not after a receipt wait
        due = NOW + POLICY.delay(1)
        assert m.begin_attempt(due, POLICY) and m.attempts == 2


def test_accepted_is_sent_once():
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.accepted(NOW, "kannel")
    assert (m.state, m.sent_at, m.next_try_at, m.gateway) == ("sent", NOW, None, "kannel")
    assert not m.accepted(NOW, "kannel")
    assert statuses(m) == ["sent"]


def test_backoff_doubles_up_to_the_longest_wait():
    assert [POLICY.delay(n).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert POLICY.delay(10_000) == POLICY.longest_delay
    with pytest.raises(ValueError):
        POLICY.delay(0)


def test_a_retryable_refusal_waits_then_the_gateway_gives_up_past_the_give_up_time():
    policy = RetryPolicy(first_delay=timedelta(minutes=30), longest_delay=timedelta(minutes=30),
                         give_up_after=timedelta(hours=1))
    m = message()
    m.begin_attempt(NOW, policy)
    assert m.gateway_refused(NOW, retryable=True, detail="away", policy=policy)
    assert (m.state, m.next_try_at) == ("queued", NOW + timedelta(minutes=30))
    m.begin_attempt(NOW + timedelta(minutes=30), policy)
    m.gateway_refused(NOW + timedelta(minutes=30), retryable=True, detail="away", policy=policy)
    assert m.next_try_at == NOW + timedelta(hours=1)  # exactly at the give-up time: still tried
    m.begin_attempt(NOW + timedelta(hours=1), policy)
    m.gateway_refused(NOW + timedelta(hours=1), retryable=True, detail="away", policy=policy)
    assert (m.state, m.next_try_at) == ("failed", None)
    assert m.events[-1].detail == "gateway_down_gave_up"
    assert m.detail.startswith("gateway_down_gave_up: away")


def test_a_refusal_for_good_fails_it_refused():
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.gateway_refused(NOW, retryable=False, detail="bad number", policy=POLICY)
    assert (m.state, m.events[-1].detail) == ("failed", "refused")
    assert not m.gateway_refused(NOW, retryable=True, detail="x", policy=POLICY)


@pytest.mark.parametrize("reason", ["opted_out", "rate_limited"])
def test_the_station_rules_fail_it_before_sending(reason):
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.refuse_before_sending(NOW, reason)
    assert (m.state, m.detail, statuses(m), m.events[0].detail) == ("failed", reason, ["failed"], reason)


def test_a_receipt_moves_sent_to_delivered_once():
    m = message()
    m.begin_attempt(NOW, POLICY)
    m.accepted(NOW, "embedded")
    assert m.receipt(NOW + timedelta(seconds=3), delivered=True)
    assert (m.state, m.finished_at) == ("delivered", NOW + timedelta(seconds=3))
    assert not m.receipt(NOW + timedelta(seconds=4), delivered=True)
    assert not m.receipt(NOW + timedelta(seconds=4), delivered=False)  # a late failure after delivery
    assert statuses(m) == ["sent", "delivered"]


def test_a_receipt_that_beats_the_senders_save_records_sent_first():
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.receipt(NOW, delivered=True)
    assert not m.accepted(NOW, "kannel")  # the sender's save comes after: nothing to change
    assert statuses(m) == ["sent", "delivered"]


@pytest.mark.parametrize("reason", ["undeliverable", "refused"])
def test_a_failed_receipt_fails_it_with_its_reason(reason):
    m = message()
    m.begin_attempt(NOW, POLICY)
    m.accepted(NOW, "kannel")
    assert m.receipt(NOW, delivered=False, reason=reason)
    assert (m.state, statuses(m), m.events[-1].detail) == ("failed", ["sent", "failed"], reason)


def test_the_document_round_trip_reads_naive_times_as_utc():
    m = message(NOW + timedelta(hours=1))
    doc = m.to_dict()
    assert "events" not in doc and "version" not in doc
    doc["requested_at"] = NOW.replace(tzinfo=None)
    back = OutboundMessage.from_dict({**doc, "_id": "S-1", "outbox": {}})
    assert back.requested_at == NOW and back.next_try_at == NOW + timedelta(hours=1)
    assert back.to_dict() == m.to_dict()


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("13800138001", "13800138001"),
        ("+8613800138001", "13800138001"),
        ("8613800138001", "13800138001"),
        ("008613800138001", "13800138001"),
        ("+86 138-0013-8001", "13800138001"),
        ("(0594) 7654321", "05947654321"),  # a landline stays as written, digits only
        ("12345", "12345"),
        ("+4420794600", "+4420794600"),
        ("1234", None),
        ("", None),
        ("anonymous", None),
        ("1380013800a", None),
        ("1" * 21, None),
    ],
)
def test_station_phone(raw, phone):
    assert station_phone(raw) == phone


def test_an_inbound_sms_is_told_only_when_its_sender_is_a_phone():
    kwargs = {"inbound_id": "in:1", "sender": "x", "to": "10690", "text": "1", "received_at": NOW,
              "gateway": "kannel", "opt_out": False}
    assert InboundSms.receive(phone="13800138001", **kwargs).events == ["received"]
    assert InboundSms.receive(phone=None, **kwargs).events == []
    long = InboundSms.receive(phone=None, **{**kwargs, "sender": "9" * 100, "to": "8" * 100})
    assert (len(long.sender), len(long.to or "")) == (64, 32)
