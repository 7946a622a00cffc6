"""The outbound message's rules: due times, tries and backoff, receipts, each state entered once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from notify.sms.domain.messages import (
    Answers,
    DeliveryChanged,
    InboundSms,
    OutboundMessage,
    RetryPolicy,
    station_phone,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=7)
POLICY = RetryPolicy()


def message(not_before: datetime | None = None, now: datetime = NOW) -> OutboundMessage:
    return OutboundMessage.request(
        sms_id="S-1", phone="13800138001", text="您好", purpose="survey", requested_by="rating", ref="sv-1",
        requested_at=now, not_before=not_before, now=now,
    )


def statuses(m: OutboundMessage) -> list[str]:
    return [e.status for e in m.events]


def tried() -> OutboundMessage:
    """A message in its first try, begun at NOW."""
    m = message()
    m.begin_attempt(NOW, POLICY)
    return m


def test_a_request_is_due_at_its_not_before_or_at_once():
    assert message().next_try_at == NOW
    assert message(NOW + timedelta(hours=9)).next_try_at == NOW + timedelta(hours=9)
    assert message(NOW - timedelta(days=1)).next_try_at == NOW  # a past not_before: now
    assert message().state == "queued" and message().events == []


def test_a_request_keeps_what_was_asked_and_when_it_came():
    asked = NOW - timedelta(minutes=2)
    m = OutboundMessage.request(
        sms_id="S-9", phone="13800138009", text="请回复 1", purpose="question", requested_by="notify", ref="q-9",
        requested_at=asked, not_before=None, now=NOW,
    )
    assert (m.sms_id, m.phone, m.text, m.purpose, m.requested_by, m.ref) == (
        "S-9", "13800138009", "请回复 1", "question", "notify", "q-9")
    assert (m.requested_at, m.received_at) == (asked, NOW)
    assert (m.attempts, m.in_flight, m.first_try_at, m.sent_at, m.finished_at) == (0, False, None, None, None)


@pytest.mark.parametrize("naive", ["now", "requested_at", "not_before"])
def test_a_request_refuses_any_naive_time(naive):
    times = {"now": NOW, "requested_at": NOW, "not_before": NOW + timedelta(hours=1)}
    times[naive] = times[naive].replace(tzinfo=None)
    with pytest.raises(ValueError, match="^the SMS gateway needs timezone-aware datetimes$"):
        OutboundMessage.request(
            sms_id="S-1", phone="13800138001", text="您好", purpose="survey", requested_by="rating", ref=None,
            requested_at=times["requested_at"], not_before=times["not_before"], now=times["now"],
        )


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
    assert m.detail == "the last try's outcome was lost: waiting for the gateway's report" and m.events == []
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
    with pytest.raises(ValueError, match="^attempts count from 1$"):
        POLICY.delay(0)


def test_a_retryable_refusal_waits_then_the_gateway_gives_up_past_the_give_up_time():
    policy = RetryPolicy(first_delay=timedelta(minutes=30), longest_delay=timedelta(minutes=30),
                         give_up_after=timedelta(hours=1))
    m = message()
    m.begin_attempt(NOW, policy)
    assert m.gateway_refused(NOW, retryable=True, detail="away", policy=policy)
    assert (m.state, m.next_try_at, m.detail, m.events) == ("queued", NOW + timedelta(minutes=30), "away", [])
    assert m.in_flight is False  # stored as a boolean: the sweep's query matches on it
    m.begin_attempt(NOW + timedelta(minutes=30), policy)
    m.gateway_refused(NOW + timedelta(minutes=30), retryable=True, detail="away", policy=policy)
    assert m.next_try_at == NOW + timedelta(hours=1)  # exactly at the give-up time: still tried
    m.begin_attempt(NOW + timedelta(hours=1), policy)
    m.gateway_refused(NOW + timedelta(hours=1), retryable=True, detail="away", policy=policy)
    assert (m.state, m.next_try_at, m.finished_at) == ("failed", None, NOW + timedelta(hours=1))
    assert m.events == [DeliveryChanged("S-1", "failed", NOW + timedelta(hours=1), "gateway_down_gave_up")]
    assert m.detail == "gateway_down_gave_up: away"


def test_a_refusal_for_good_fails_it_refused():
    m = tried()
    assert m.gateway_refused(LATER, retryable=False, detail="bad number", policy=POLICY)
    assert (m.state, m.detail, m.finished_at, m.next_try_at) == ("failed", "refused: bad number", LATER, None)
    assert m.events == [DeliveryChanged("S-1", "failed", LATER, "refused")]
    assert not m.gateway_refused(NOW, retryable=True, detail="x", policy=POLICY)


def test_the_gateways_detail_is_kept_to_200_characters():
    waiting = tried()
    waiting.gateway_refused(NOW, retryable=True, detail="w" * 300, policy=POLICY)
    assert waiting.detail == "w" * 200
    refused = tried()
    refused.gateway_refused(NOW, retryable=False, detail="r" * 300, policy=POLICY)
    assert refused.detail == ("refused: " + "r" * 300)[:200] and len(refused.detail) == 200


@pytest.mark.parametrize("reason", ["opted_out", "rate_limited"])
def test_the_station_rules_fail_it_before_sending(reason):
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.refuse_before_sending(LATER, reason)
    assert (m.state, m.detail, m.finished_at, m.next_try_at) == ("failed", reason, LATER, None)
    assert m.events == [DeliveryChanged("S-1", "failed", LATER, reason)]


@pytest.mark.parametrize("end", ["delivered", "failed"])
def test_the_station_rules_change_nothing_once_it_is_final(end):
    m = tried()
    m.receipt(NOW, delivered=end == "delivered")
    before = (m.state, m.detail, m.finished_at, list(m.events))
    assert not m.refuse_before_sending(LATER, "opted_out")
    assert (m.state, m.detail, m.finished_at, m.events) == before


def test_a_receipt_moves_sent_to_delivered_once():
    m = message()
    m.begin_attempt(NOW, POLICY)
    m.accepted(NOW, "embedded")
    assert m.receipt(NOW + timedelta(seconds=3), delivered=True)
    assert (m.state, m.finished_at, m.next_try_at) == ("delivered", NOW + timedelta(seconds=3), None)
    assert m.events == [DeliveryChanged("S-1", "sent", NOW, ""),
                        DeliveryChanged("S-1", "delivered", NOW + timedelta(seconds=3), "")]
    assert not m.receipt(NOW + timedelta(seconds=4), delivered=True)
    assert not m.receipt(NOW + timedelta(seconds=4), delivered=False)  # a late failure after delivery
    assert statuses(m) == ["sent", "delivered"]


def test_a_receipt_that_beats_the_senders_save_records_sent_first():
    m = message()
    m.begin_attempt(NOW, POLICY)
    assert m.receipt(LATER, delivered=True)
    assert (m.state, m.sent_at, m.finished_at, m.next_try_at, m.in_flight) == ("delivered", LATER, LATER, None, False)
    assert not m.accepted(LATER, "kannel")  # the sender's save comes after: nothing to change
    assert m.events == [DeliveryChanged("S-1", "sent", LATER, ""), DeliveryChanged("S-1", "delivered", LATER, "")]


@pytest.mark.parametrize("reason", ["undeliverable", "refused"])
def test_a_failed_receipt_fails_it_with_its_reason(reason):
    m = message()
    m.begin_attempt(NOW, POLICY)
    m.accepted(NOW, "kannel")
    assert m.receipt(LATER, delivered=False, reason=reason, detail="err 034")
    assert (m.state, m.detail, m.finished_at) == ("failed", f"{reason}: err 034", LATER)
    assert m.events == [DeliveryChanged("S-1", "sent", NOW, ""), DeliveryChanged("S-1", "failed", LATER, reason)]


def test_a_failed_receipt_without_a_reason_is_undeliverable():
    m = tried()
    assert m.receipt(LATER, delivered=False)
    assert (m.state, m.detail, m.sent_at, m.finished_at) == ("failed", "undeliverable", LATER, LATER)
    assert m.events == [DeliveryChanged("S-1", "sent", LATER, ""),
                        DeliveryChanged("S-1", "failed", LATER, "undeliverable")]


def test_the_document_round_trip_reads_naive_times_as_utc():
    m = message(NOW + timedelta(hours=1))
    doc = m.to_dict()
    assert "events" not in doc and "version" not in doc
    doc["requested_at"] = NOW.replace(tzinfo=None)
    doc["received_at"] = NOW.astimezone(timezone(timedelta(hours=8)))  # an aware time keeps its instant
    back = OutboundMessage.from_dict({**doc, "_id": "S-1", "outbox": {}})
    assert back.requested_at == NOW and back.next_try_at == NOW + timedelta(hours=1)
    assert back.received_at == NOW and back.received_at.utcoffset() == timedelta(hours=8)
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


def test_an_inbound_sms_keeps_what_the_gateway_gave():
    m = InboundSms.receive(inbound_id="in:2", phone="13800138001", sender="+86 138-0013-8001", to="10690",
                           text="退订", received_at=NOW, gateway="kannel", opt_out=True)
    assert (m.inbound_id, m.phone, m.sender, m.to, m.text, m.received_at, m.gateway, m.matched, m.opt_out) == (
        "in:2", "13800138001", "+86 138-0013-8001", "10690", "退订", NOW, "kannel", False, True)
    assert (m.owner, m.question_id, m.kind, m.subject_id, m.matched_by) == (None, None, None, None, None)


def test_an_inbound_sms_answers_its_question_only_when_its_sender_is_a_phone():
    answers = Answers(owner="rating", question_id="q-1", kind="survey", subject_id="sv-1", by="code")
    kwargs = {"inbound_id": "in:3", "sender": "13800138001", "to": None, "text": "5", "received_at": NOW,
              "gateway": "kannel", "opt_out": False, "answers": answers}
    reply = InboundSms.receive(phone="13800138001", **kwargs)
    assert (reply.matched, reply.opt_out, reply.events) == (True, False, ["received", "answered"])
    assert (reply.owner, reply.question_id, reply.kind, reply.subject_id, reply.matched_by) == (
        "rating", "q-1", "survey", "sv-1", "code")
    no_phone = InboundSms.receive(phone=None, **kwargs)
    assert (no_phone.events, no_phone.owner, no_phone.question_id, no_phone.matched_by) == ([], None, None, None)


@pytest.mark.parametrize("reason", ["opted_out", "rate_limited"])
def test_the_station_rules_do_not_fail_a_message_a_late_report_made_sent(reason):
    m = message()
    m.begin_attempt(NOW, POLICY)  # a try lost with its replica
    m.begin_attempt(NOW + POLICY.lease, POLICY)  # waiting for the gateway's report
    retry = NOW + POLICY.lease + POLICY.receipt_wait
    assert m.begin_attempt(retry, POLICY)  # the retry checks the station's rules ...
    assert m.accepted(retry, "kannel")  # ... while the first try's report comes in: it was sent
    assert not m.refuse_before_sending(retry, reason)
    assert (m.state, statuses(m)) == ("sent", ["sent"])
