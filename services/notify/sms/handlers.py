"""Use cases of the SMS gateway, one function each: a send command, a due send, a receipt, a reply.

A send command that asks a question registers it (`domain.questions`); each reply is matched once to
one open question of its phone and told to that question's owner only (`sms.answered.<owner>`), in
the same write that keeps the reply; a reply that matches none is a stray, kept and listed. Receipts
go to the requester only (`sms.delivery.<requester>`).

Every outbound SMS of the platform arrives as `sms.send` and is stored under its `sms_id` (so a
redelivery, a republish after JetStream's de-duplication window or a second replica sends it
once), tried at `not_before` or at once, and each change of its state is told as `sms.delivery`
through the outbox in the message's own document.

Before a message reaches the gateway the station's rules apply, in this order:
1. the opt-out list (a reply TD / 退订): failed `opted_out`. Callbacks are not exempt: the
   callback is the station's legal duty, SMS only one of its channels; the callbacks part opens
   a manual task (phone, visit) on `opted_out`, so the duty is done and the citizen's wish kept.
   A purpose listed in `sms_opt_out_exempt` is sent all the same.
2. the daily limit per phone (local day of the station): failed `rate_limited`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from common import tracing
from common.clock import Clock
from common.contracts.base import ID_PATTERN, Event
from common.contracts.sms import (
    SmsAnswered,
    SmsAnsweredNotify,
    SmsAnsweredRating,
    SmsDelivery,
    SmsDeliveryNotify,
    SmsDeliveryRating,
    SmsInbound,
    SmsSendRequested,
)
from common.errors import Conflict, NotFound, Refused
from common.failures import dependency_down
from common.outbox import RawPublisher
from common.unit_of_work import UnitOfWork
from notify.sms.adapters.port import DeliveryReceipt, OutboundSms, SendResult, SmsGateway
from notify.sms.adapters.store import COUNTER_KEPT, DailyCounters, Inbound, Messages, OptOuts, Questions, Strays
from notify.sms.domain.messages import Answers, InboundSms, OutboundMessage, RetryPolicy, station_phone
from notify.sms.domain.optout import is_opt_out
from notify.sms.domain.questions import Question, choose
from notify.sms.domain.rate_limit import day_key
from notify.sms.settings import SmsGatewaySettings

log = structlog.get_logger(__name__)

SENDS = Counter("fengqiao_sms_sends_total", "Tries to hand an SMS to the gateway, by outcome.", ["gateway", "outcome"])
STRAYS = Counter(
    "fengqiao_sms_strays_total",
    "Inbound SMS and receipts that named nothing known (kept for an operator), by kind.", ["kind"],
)
OPTED_OUT = Counter("fengqiao_sms_opt_outs_total", "Replies that put a phone on the opt-out list.")

Staged = list[tuple[Event, str]]
#: whom an answer is told to: the owner of its question, on its own subject
ANSWERED: dict[str, type[SmsAnswered]] = {"notify": SmsAnsweredNotify, "rating": SmsAnsweredRating}
#: whom a receipt is told to: the requester, on its own subject (`sms.delivery` for one without)
DELIVERY: dict[str, type[SmsDelivery]] = {"notify": SmsDeliveryNotify, "rating": SmsDeliveryRating}


@dataclass
class Sms:
    """Everything the gateway's use cases need; `wiring.build_sms` wires it (real or in-memory adapters)."""

    settings: SmsGatewaySettings
    clock: Clock
    publisher: RawPublisher
    messages: Messages
    inbound: Inbound
    counters: DailyCounters
    opt_outs: OptOuts
    strays: Strays
    gateway: SmsGateway
    questions: Questions

    def __post_init__(self) -> None:
        self.uow = UnitOfWork(self.messages, self.publisher, delivery_events, kind="sms")
        self.inbound_uow = UnitOfWork(self.inbound, self.publisher, inbound_events, kind="inbound sms")
        self.question_uow = UnitOfWork(self.questions, self.publisher, lambda _: [], kind="question")
        s = self.settings
        self.policy = RetryPolicy(
            first_delay=timedelta(seconds=s.sms_retry_first_s), longest_delay=timedelta(seconds=s.sms_retry_longest_s),
            give_up_after=timedelta(seconds=s.sms_give_up_after_s), lease=timedelta(seconds=s.sms_send_lease_s),
            receipt_wait=timedelta(seconds=s.sms_lost_try_wait_s),
        )

    @property
    def gateway_name(self) -> str:
        return getattr(self.gateway, "name", type(self.gateway).__name__)


# --- what the gateway tells the others -----------------------------------------------------------


def delivery_msg_id(sms_id: str, status: str) -> str:
    """Each state is entered once: (sms_id, state) names the fact, whoever publishes it and how often."""
    return f"sms:{sms_id}:{status}"


def delivery_events(message: OutboundMessage) -> Staged:
    """Each state entered, told to the requester only (`sms.delivery.<requester>`, else `sms.delivery`)."""
    told = DELIVERY.get(message.requested_by, SmsDelivery)
    return [
        (told(sms_id=message.sms_id, phone=message.phone, status=e.status, purpose=message.purpose,
                     requested_by=message.requested_by, ref=message.ref, at=e.at, detail=e.detail),
         delivery_msg_id(message.sms_id, e.status))
        for e in message.events
    ]


def inbound_events(inbound: InboundSms) -> Staged:
    """`sms.inbound` for other systems, and the answer to its owner alone."""
    if inbound.phone is None:
        return []
    staged: Staged = []
    if "received" in inbound.events:
        staged.append((SmsInbound(inbound_id=inbound.inbound_id, phone=inbound.phone, to=inbound.to,
                                  text=inbound.text, received_at=inbound.received_at, gateway=inbound.gateway),
                       f"sms-inbound:{inbound.inbound_id}"))
    told = ANSWERED.get(inbound.owner or "")
    if "answered" in inbound.events and told is not None:
        staged.append((told(inbound_id=inbound.inbound_id, question_id=inbound.question_id, kind=inbound.kind,
                            subject_id=inbound.subject_id, phone=inbound.phone, text=inbound.text,
                            received_at=inbound.received_at, matched_by=inbound.matched_by, opt_out=inbound.opt_out),
                       f"sms-answered:{inbound.inbound_id}"))
    return staged


# --- the send command ----------------------------------------------------------------------------


async def request_sms(s: Sms, command: SmsSendRequested) -> OutboundMessage:
    """Store the question it asks, then the message (once per sms_id), and send it now if it is due. The
    question first: a message stored is sent by any replica's sweep, and its answer must find its question."""
    phone = station_phone(command.phone) or command.phone
    message = OutboundMessage.request(
        sms_id=command.sms_id, phone=phone, text=command.text, purpose=command.purpose,
        requested_by=command.requested_by, ref=command.ref, requested_at=command.requested_at,
        not_before=command.not_before, now=s.clock.now(),
    )
    if command.question is not None:
        await _ask(s, command, phone, asked_at=message.next_try_at or s.clock.now())
    if await s.uow.add(message):
        log.info("sms.queued", sms_id=message.sms_id, purpose=message.purpose, requested_by=message.requested_by,
                 due=message.next_try_at.isoformat() if message.next_try_at else None)
    else:
        stored = await s.uow.get(command.sms_id)  # publishes what an earlier delivery left staged
        if (stored.phone, stored.text) != (phone, command.text):
            log.warning("sms.id_reused", sms_id=command.sms_id, detail="kept the first request under this sms_id")
    await send_if_due(s, command.sms_id)
    return await s.uow.get(command.sms_id)


async def _ask(s: Sms, command: SmsSendRequested, phone: str, asked_at: datetime) -> None:
    """The question the message asks, kept open for its answer; a re-prompt (a new sms_id) asks it again."""
    q = command.question
    assert q is not None
    traceparent = tracing.current_traceparent()  # the answer, a new request, continues this trace
    question = Question.asked(owner=q.owner, question_id=q.question_id, kind=q.kind, subject_id=q.subject_id,
                              phone=phone, code=q.code, sms_id=command.sms_id, asked_at=asked_at,
                              expires_at=q.expires_at, traceparent=traceparent)
    if not await s.question_uow.add(question):
        await s.question_uow.act(question.key, lambda stored: stored.ask_again(
            sms_id=command.sms_id, asked_at=asked_at, expires_at=q.expires_at, traceparent=traceparent))


# --- sending -------------------------------------------------------------------------------------


async def _act(s: Sms, sms_id: str, command: Callable[[OutboundMessage, datetime], bool]) -> bool:
    """Apply `command` at the present time; whether it changed the message (the last try's answer)."""
    changed = False

    def apply(message: OutboundMessage) -> None:
        nonlocal changed
        changed = command(message, s.clock.now())

    await s.uow.act(sms_id, apply)
    return changed


async def send_if_due(s: Sms, sms_id: str) -> bool:
    """One try of a queued, due message; False when it is not due, another replica has it, or the last try's
    outcome was lost (it then waits for the gateway's report: said once, counted as `lost`)."""
    lost = False

    def begin(message: OutboundMessage, now: datetime) -> bool:
        nonlocal lost
        lost = message.outcome_lost(now)
        return message.begin_attempt(now, s.policy)

    if not await _act(s, sms_id, begin):
        if lost:
            SENDS.labels(s.gateway_name, "lost").inc()
            log.warning("sms.try_lost", sms_id=sms_id, wait_s=s.policy.receipt_wait.total_seconds(),
                        detail="a try's outcome was lost with its replica: waiting for the gateway's report")
        return False
    message = await s.uow.get(sms_id)
    refusal = await _refusal(s, message)
    if refusal is not None:
        if await _act(s, sms_id, lambda m, now: m.refuse_before_sending(now, refusal)):  # else: sent meanwhile
            SENDS.labels(s.gateway_name, refusal).inc()
            log.info("sms.not_sent", sms_id=sms_id, reason=refusal, phone=message.phone)
        return True
    result = await _send(s, message)
    if result.accepted:
        await _after_handing_over(s, sms_id, lambda m, now: m.accepted(now, s.gateway_name))
        SENDS.labels(s.gateway_name, "accepted").inc()
        log.info("sms.sent", sms_id=sms_id, attempt=message.attempts, gateway=s.gateway_name)
    else:
        await _act(s, sms_id, lambda m, now: m.gateway_refused(
            now, retryable=result.retryable, detail=result.detail, policy=s.policy))
        SENDS.labels(s.gateway_name, "retry" if result.retryable else "refused").inc()
        log.warning("sms.not_taken", sms_id=sms_id, attempt=message.attempts, retryable=result.retryable,
                    detail=result.detail)
    return True


#: how long the save after a send keeps trying while the store is away (within the lease: after it, another
#: replica would hand the message over again)
SAVE_AFTER_SEND_PATIENCE = 0.75


async def _after_handing_over(s: Sms, sms_id: str, command: Callable[[OutboundMessage, datetime], bool]) -> None:
    """Save that the gateway took the message, trying again while the store is away for most of the lease: a
    save lost here lets the lease run out, and the next try would hand the same SMS over a second time."""
    deadline = asyncio.get_running_loop().time() + s.policy.lease.total_seconds() * SAVE_AFTER_SEND_PATIENCE
    delay = 0.1
    while True:
        try:
            await _act(s, sms_id, command)
            return
        except Exception as exc:
            if not dependency_down(exc) or asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning("sms.save_after_send_retried", sms_id=sms_id, error=repr(exc)[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _refusal(s: Sms, message: OutboundMessage) -> str | None:
    if message.purpose not in s.settings.sms_opt_out_exempt and await s.opt_outs.has(message.phone):
        return "opted_out"
    now = s.clock.now()
    zone = s.settings.zone
    end_of_day = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)
    key = day_key(message.phone, now, zone)
    if not await s.counters.claim(key, message.sms_id, s.settings.sms_daily_limit, end_of_day + COUNTER_KEPT):
        return "rate_limited"
    return None


async def _send(s: Sms, message: OutboundMessage) -> SendResult:
    try:
        return await s.gateway.send(OutboundSms(message.sms_id, message.phone, message.text))
    except Exception as exc:  # an adapter's own failure must not leave the message in flight until the lease ends
        log.warning("sms.gateway_failed", sms_id=message.sms_id, error=repr(exc)[:200])
        return SendResult(False, retryable=True, detail=f"gateway error: {exc.__class__.__name__}")


async def sweep(s: Sms, limit: int = 200) -> int:
    """Try every queued message whose time has come (a `not_before`, a backoff, an expired lease)."""
    due = await s.messages.due(s.clock.now(), limit)
    room = asyncio.Semaphore(s.settings.sms_send_concurrency)

    async def one(sms_id: str) -> None:
        async with room:
            try:
                await send_if_due(s, sms_id)
            except Conflict as exc:  # busy: the next sweep finds it again
                log.warning("sms.deferred", sms_id=sms_id, error=str(exc))

    await asyncio.gather(*(one(sms_id) for sms_id in due))
    return len(due)


# --- receipts ------------------------------------------------------------------------------------


async def _report(s: Sms, sms_id: str, command: Callable[[OutboundMessage, datetime], bool],
                  raw: dict[str, Any]) -> bool:
    """A gateway's report on a message applied; one that names no message is kept and counted (False)."""
    try:
        return await _act(s, sms_id, command)
    except NotFound:
        await keep_stray(s, "receipt", raw)
        return False


async def apply_receipt(s: Sms, receipt: DeliveryReceipt, raw: dict[str, Any] | None = None) -> bool:
    """A delivery receipt from the gateway; one that names no message is kept and counted (False)."""
    changed = await _report(s, receipt.sms_id, lambda m, now: m.receipt(
        receipt.at, delivered=receipt.status == "delivered",
        reason="refused" if receipt.detail == "refused" else "undeliverable", detail=receipt.detail),
        raw or {"sms_id": receipt.sms_id, "status": receipt.status})
    if changed:
        log.info("sms.receipt", sms_id=receipt.sms_id, status=receipt.status)
    return changed


async def apply_handed_over(s: Sms, sms_id: str, raw: dict[str, Any]) -> bool:
    """The gateway's report that the operator took the message (Kannel's "taken by the SMSC"): it was sent —
    also when the sender's save of the gateway's answer was lost, so the message is not handed over again."""
    changed = await _report(s, sms_id, lambda m, now: m.accepted(now, s.gateway_name), raw)
    if changed:
        log.info("sms.sent", sms_id=sms_id, gateway=s.gateway_name, by="the gateway's report")
    return changed


async def keep_stray(s: Sms, kind: str, data: dict[str, Any]) -> None:
    """Something the gateway handed in that names nothing known: kept for an operator, counted, no error."""
    STRAYS.labels(kind).inc()
    await s.strays.keep(kind, s.clock.now(), {k: str(v)[:2000] for k, v in list(data.items())[:20]})
    log.info("sms.stray", kind=kind, data={k: str(v)[:100] for k, v in list(data.items())[:10]})


class IssuesReceipts(Protocol):
    """A gateway that makes its own receipts (the embedded one)."""

    async def due_receipts(self, limit: int) -> list[DeliveryReceipt]: ...

    async def receipt_issued(self, sms_id: str) -> None: ...


async def issue_receipts(s: Sms, source: IssuesReceipts, limit: int = 200) -> int:
    """The receipts that fell due: applied, then marked issued (applying one twice changes nothing)."""
    receipts = await source.due_receipts(limit)
    for receipt in receipts:
        await apply_receipt(s, receipt)
        await source.receipt_issued(receipt.sms_id)
    return len(receipts)


# --- replies -------------------------------------------------------------------------------------

_ID = re.compile(ID_PATTERN)


def inbound_id_for(gateway_id: str | None) -> str:
    """The gateway's own id of a reply makes a resent reply one (Kannel's %I); otherwise a new id."""
    if not gateway_id:
        return f"in:{uuid.uuid4().hex}"
    if _ID.match(gateway_id) and len(gateway_id) <= 60:
        return f"in:{gateway_id}"
    return "in:" + hashlib.blake2b(gateway_id.encode("utf-8", "replace"), digest_size=16).hexdigest()


async def withdraw_opt_out(s: Sms, *, phone: str, actor: str, reason: str) -> bool:
    """The citizen asked (in person or in writing) for the station's SMS again: the phone leaves the
    opt-out list, and the next SMS to it is sent. False when it was not on the list."""
    removed = await s.opt_outs.remove(phone)
    log.info("sms.opt_out_withdrawn", phone=phone, actor=actor, reason=reason, was_listed=removed)
    return removed


async def receive_inbound(
    s: Sms, *, sender: str, to: str | None, text: str, gateway: str, gateway_id: str | None = None
) -> InboundSms:
    """A citizen's reply: kept; an opt-out word puts the phone on the list; told as `sms.inbound`
    when the sender is a phone. A reply from a phone the station never messaged is counted as a stray."""
    inbound_id = inbound_id_for(gateway_id)
    with contextlib.suppress(NotFound):
        return await s.inbound_uow.get(inbound_id)  # the gateway sent it again
    now = s.clock.now()
    phone = station_phone(sender)
    opt_out = phone is not None and is_opt_out(text)
    answers = await _match(s, phone, text, inbound_id, now) if phone is not None else None
    reply = InboundSms.receive(inbound_id=inbound_id, phone=phone, sender=sender, to=to, text=text,
                               received_at=now, gateway=gateway, opt_out=opt_out, answers=answers)
    # the reply is a new request (its own trace); an answer is told onward in the trace of the send that
    # asked the question, linked to the request, so the callback's or the survey's trace goes on through it
    with tracing.resumed(answers.traceparent if answers else None, "inbound sms use case",
                         **{"fengqiao.id": inbound_id}):
        return await _keep_reply(s, reply, opt_out=opt_out, now=now)


async def _keep_reply(s: Sms, reply: InboundSms, *, opt_out: bool, now: datetime) -> InboundSms:
    inbound_id, phone, sender, matched = reply.inbound_id, reply.phone, reply.sender, reply.matched
    if opt_out and phone is not None:
        await s.opt_outs.add(phone, now, inbound_id)  # before the reply is stored: a retry repeats both
    if not await s.inbound_uow.add(reply):
        return await s.inbound_uow.get(inbound_id)  # stored meanwhile by another replica
    if opt_out:
        OPTED_OUT.inc()
        log.info("sms.opted_out", phone=phone, inbound_id=inbound_id)
    if phone is None:
        STRAYS.labels("inbound_no_sender").inc()
        log.info("sms.inbound_unreadable_sender", inbound_id=inbound_id, sender=sender[:64])
    elif not matched:
        STRAYS.labels("inbound").inc()
        log.info("sms.inbound_stray", inbound_id=inbound_id, phone=phone)
    else:
        log.info("sms.answered", inbound_id=inbound_id, phone=phone, owner=reply.owner, question_id=reply.question_id,
                 matched_by=reply.matched_by)
    return reply


#: how often a reply looks for its question again when another reply took the one it chose meanwhile
MATCH_ATTEMPTS = 3


async def _match(s: Sms, phone: str, text: str, inbound_id: str, now: datetime) -> Answers | None:
    """The one open question the reply answers, taken for it (a version-checked save: two replies at
    once never take one question), or None: a stray."""
    for _ in range(MATCH_ATTEMPTS):
        match = choose(await s.questions.of_phone(phone), text, now, inbound_id)
        if match is None:
            return None
        taken = False

        def take(question: Question) -> None:
            nonlocal taken
            taken = question.take(inbound_id, now)

        try:
            await s.question_uow.act(match.question.key, take)
        except (Conflict, Refused, NotFound):
            continue
        if taken:
            q = match.question
            return Answers(q.owner, q.question_id, q.kind, q.subject_id, match.by, q.traceparent)
    return None


async def list_inbound(s: Sms, *, matched: bool, limit: int) -> list[InboundSms]:
    """The replies matched to a question, or the strays, newest first."""
    return await s.inbound.listing(matched=matched, limit=limit)
