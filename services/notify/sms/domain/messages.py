"""One outbound SMS from its `sms.send` request to delivered or failed: the gateway's pure rules.

Every command either changes the message and records at most the events of its new states, or
changes nothing (a late, duplicate or foreign fact: receipts and gateway answers are facts, not
requests, so they are never refused).

| command                 | allowed in state          | new state                                        |
|-------------------------|---------------------------|--------------------------------------------------|
| request                 | —                         | queued, due at `not_before` (or at once)          |
| begin_attempt           | queued and due            | queued, attempt n+1, in flight for the lease      |
|                         | queued, due, in flight    | queued, not in flight, due after the receipt wait |
|                         |                           | (no try: the last one's outcome was lost)         |
| refuse_before_sending   | queued                    | failed (`opted_out`, `rate_limited`)             |
| accepted                | queued                    | sent (the gateway's answer, or its report that   |
|                         |                           | the operator took it)                            |
| gateway_refused         | queued                    | failed `refused`; retryable: queued at the backoff |
|                         |                           | (failed `gateway_down_gave_up` past the give-up) |
| receipt delivered       | queued, sent              | delivered (from queued: sent, then delivered)    |
| receipt failed          | queued, sent              | failed (`undeliverable`, `refused`)              |

Each state is entered at most once, so (`sms_id`, state) names each public fact (`sms.delivery`).
A receipt may beat the sender's own save (the SMSC answers in a millisecond): a receipt on a
queued message records `sent` first, and the sender's late `accepted` then changes nothing.

A try whose outcome was never saved (its replica stopped, or lost the store, between handing the
message to the gateway and saving the answer) may have been sent: the message is still in flight when
its lease ends. It is not handed over again at once — that would send the citizen a second SMS — but
after `receipt_wait`, in which the gateway's report (Kannel's "taken by the SMSC" comes in seconds,
a delivery report later) moves it to `sent`. Only a message nothing was heard of is tried again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self, get_args

State = Literal["queued", "sent", "delivered", "failed"]
STATES: tuple[State, ...] = get_args(State)
FINAL_STATES: frozenset[State] = frozenset({"delivered", "failed"})

#: why a message failed for good (the `detail` of `sms.delivery` with status failed)
FailReason = Literal["opted_out", "rate_limited", "refused", "undeliverable", "gateway_down_gave_up"]
FAIL_REASONS: tuple[FailReason, ...] = get_args(FailReason)


@dataclass(frozen=True)
class RetryPolicy:
    """How a send the gateway could not take now (away, busy) is tried again."""

    #: the wait after the first refused try; it doubles with each further try
    first_delay: timedelta = timedelta(seconds=30)
    longest_delay: timedelta = timedelta(minutes=10)
    #: counted from the first try: no try starts later than this
    give_up_after: timedelta = timedelta(hours=2)
    #: how long a try in flight keeps other replicas off the message (then a sweep tries again)
    lease: timedelta = timedelta(seconds=60)
    #: after a try whose outcome was lost (its lease ended in flight): the wait for the gateway's report
    #: before the message is handed over again
    receipt_wait: timedelta = timedelta(minutes=5)

    def delay(self, attempt: int) -> timedelta:
        """The wait after the `attempt`-th refused try (1 for the first): 30 s, 60 s, 120 s, … up to the longest."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        exponent = min(attempt - 1, 32)  # past this the doubling is far beyond any longest delay
        return min(self.first_delay * 2**exponent, self.longest_delay)


class Stored:
    """A dataclass kept as one document: its fields but the repository's `version` and the unsaved `events`."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_STORED}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Self:
        """Other keys (`_id`, `outbox`, query fields) are ignored; naive datetimes are read as UTC."""
        names = {f.name for f in fields(cls)} - _NOT_STORED  # type: ignore[arg-type]
        return cls(**{k: _utc(v) if isinstance(v, datetime) else v for k, v in doc.items() if k in names})


_NOT_STORED = frozenset({"events", "version"})


@dataclass(frozen=True)
class DeliveryChanged:
    """The message entered `status` (what `sms.delivery` tells the requester)."""

    sms_id: str
    status: State
    at: datetime
    detail: str = ""


@dataclass
class OutboundMessage(Stored):
    sms_id: str
    phone: str
    text: str
    purpose: str
    requested_by: str
    ref: str | None
    requested_at: datetime
    received_at: datetime
    state: State = "queued"
    detail: str = ""
    #: when a sweep should try it (queued only): `not_before`, a backoff, or the end of a lease
    next_try_at: datetime | None = None
    attempts: int = 0
    #: a try began and its outcome is not saved yet (still so when its lease ends: the outcome was lost)
    in_flight: bool = False
    first_try_at: datetime | None = None
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    gateway: str = ""
    version: int = 0
    events: list[DeliveryChanged] = field(default_factory=list)

    @classmethod
    def request(
        cls, *, sms_id: str, phone: str, text: str, purpose: str, requested_by: str, ref: str | None,
        requested_at: datetime, not_before: datetime | None, now: datetime,
    ) -> OutboundMessage:
        """A message to send at `not_before` or at once; it records no event (nothing to tell yet)."""
        _aware(now, requested_at, not_before)
        due = max(not_before, now) if not_before is not None else now
        return cls(sms_id=sms_id, phone=phone, text=text, purpose=purpose, requested_by=requested_by, ref=ref,
                   requested_at=requested_at, received_at=now, next_try_at=due)

    # --- sending ------------------------------------------------------------------------------

    def due(self, now: datetime) -> bool:
        return self.state == "queued" and self.next_try_at is not None and self.next_try_at <= now

    def outcome_lost(self, now: datetime) -> bool:
        """Whether the last try's lease ended in flight: its outcome was never saved (its replica stopped)."""
        return self.in_flight and self.due(now)

    def begin_attempt(self, now: datetime, policy: RetryPolicy) -> bool:
        """Take the message for one try now (False: not queued, not due — someone else has it — or the last
        try's outcome was lost, so the gateway's report is waited for first)."""
        if not self.due(now):
            return False
        if self.outcome_lost(now):
            self.in_flight = False
            self.next_try_at = now + policy.receipt_wait
            self.detail = "the last try's outcome was lost: waiting for the gateway's report"
            return False
        self.attempts += 1
        self.first_try_at = self.first_try_at or now
        self.next_try_at = now + policy.lease
        self.in_flight = True
        return True

    def refuse_before_sending(self, now: datetime, reason: Literal["opted_out", "rate_limited"]) -> bool:
        """The station's own rules stop it: the phone opted out, or had its messages for the day (False when it is
        no longer queued: a gateway's report of an earlier, lost try came first and it was sent)."""
        if self.state != "queued":
            return False
        return self._fail(now, reason)

    def accepted(self, now: datetime, gateway: str) -> bool:
        """The gateway took it (handed on to the operator); the receipt comes later."""
        if self.state != "queued":
            return False  # a receipt came first, or it failed meanwhile
        self.gateway = gateway
        self._enter("sent", now)
        return True

    def gateway_refused(self, now: datetime, *, retryable: bool, detail: str, policy: RetryPolicy) -> bool:
        """The gateway did not take it: for good (`refused`), or for now (tried again at the backoff)."""
        if self.state != "queued":
            return False
        if not retryable:
            return self._fail(now, "refused", detail)
        retry_at = now + policy.delay(max(self.attempts, 1))
        if retry_at > (self.first_try_at or now) + policy.give_up_after:
            return self._fail(now, "gateway_down_gave_up", detail)
        self.next_try_at = retry_at
        self.in_flight = False
        self.detail = detail[:200]
        return True

    # --- receipts -----------------------------------------------------------------------------

    def receipt(self, now: datetime, *, delivered: bool, reason: Literal["undeliverable", "refused"] = "undeliverable",
                detail: str = "") -> bool:
        """A delivery receipt from the gateway; False when it changes nothing (late, duplicate)."""
        if self.state in FINAL_STATES:
            return False
        if self.state == "queued":
            self._enter("sent", now)  # the receipt beat the sender's own save: it was sent
        if delivered:
            self.next_try_at = None
            self.finished_at = now
            self._enter("delivered", now)
            return True
        return self._fail(now, reason, detail)

    # --- internals ----------------------------------------------------------------------------

    def _fail(self, now: datetime, reason: FailReason, detail: str = "") -> bool:
        if self.state in FINAL_STATES:
            return False
        self.next_try_at = None
        self.finished_at = now
        self.detail = f"{reason}: {detail}"[:200] if detail else reason
        self._enter("failed", now, reason)
        return True

    def _enter(self, state: State, now: datetime, detail: str = "") -> None:
        self.state = state
        self.in_flight = False
        if state == "sent":
            self.sent_at = now
            self.next_try_at = None
        self.events.append(DeliveryChanged(self.sms_id, state, now, detail))


def _aware(*moments: datetime | None) -> None:
    if any(m is not None and m.tzinfo is None for m in moments):
        raise ValueError("the SMS gateway needs timezone-aware datetimes")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- phones --------------------------------------------------------------------------------------

_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_PHONE = re.compile(r"^\+?\d{5,20}$")


def station_phone(raw: str) -> str | None:
    """The phone as the station keys it (rate limits, the opt-out list), or None if it is not a phone.

    Separators go; a Chinese mobile loses its country prefix (+86, 86, 0086: an operator writes
    the sender of a reply either way), so `+86 138-0013-8001` and `13800138001` are one party.
    """
    digits = re.sub(r"[\s\-().]", "", raw)
    mobile = _CN_MOBILE.match(digits)
    if mobile:
        return mobile.group(1)
    return digits if _PHONE.match(digits) else None


# --- inbound -------------------------------------------------------------------------------------


@dataclass
class InboundSms(Stored):
    """A message a citizen sent to the station, as the gateway gave it; kept whether or not it is readable."""

    inbound_id: str
    #: the sender as the station keys phones; None when the gateway's `from` is not a phone
    phone: str | None
    sender: str
    to: str | None
    text: str
    received_at: datetime
    gateway: str
    #: matched to an open question (else a stray, listed for an operator)
    matched: bool
    opt_out: bool
    #: the question it answers: (owner, question_id, kind, subject_id), and how it was chosen
    owner: str | None = None
    question_id: str | None = None
    kind: str | None = None
    subject_id: str | None = None
    matched_by: str | None = None
    version: int = 0
    #: the facts to tell, until staged: "received" (`sms.inbound`, a readable sender) and "answered" (its owner)
    events: list[str] = field(default_factory=list)

    @classmethod
    def receive(cls, *, inbound_id: str, phone: str | None, sender: str, to: str | None, text: str,
                received_at: datetime, gateway: str, opt_out: bool, answers: Answers | None = None) -> InboundSms:
        """`phone`: `station_phone(sender)`; a reply publishes `sms.inbound` only when it is a phone, and
        `sms.answered.<owner>` only when it answers a question."""
        reply = cls(inbound_id=inbound_id, phone=phone, sender=sender[:64], to=(to or None) and to[:32], text=text,
                    received_at=received_at, gateway=gateway, matched=answers is not None, opt_out=opt_out,
                    events=["received"] if phone else [])
        if answers is not None and phone is not None:
            reply.owner, reply.question_id, reply.kind = answers.owner, answers.question_id, answers.kind
            reply.subject_id, reply.matched_by = answers.subject_id, answers.by
            reply.events.append("answered")
        return reply


@dataclass(frozen=True)
class Answers:
    """The question an inbound SMS was matched to."""

    owner: str
    question_id: str
    kind: str
    subject_id: str
    by: str
    #: the trace context kept with the question (its answer is told onward in that trace)
    traceparent: str = ""
