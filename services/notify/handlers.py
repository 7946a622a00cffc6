"""Use cases of notify's callbacks, one function each: a case event, a timer, a delivery report or an
officer's record in; the store and events out. The SMS itself is the gateway part's: a callback asks
for it by staging an `sms.send` command in its own outbox, in the same write as its state change."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from common import tracing
from common.clock import Clock
from common.contracts import callbacks as contract
from common.contracts import cases as case_contract
from common.contracts import objections as objection_contract
from common.contracts.base import Event
from common.contracts.sms import Question, SmsAnsweredNotify, SmsDeliveryNotify, SmsSendRequested
from common.errors import Conflict, Invalid, NotFound
from common.event_table import INSIDE, EventTable, Row, by_key, public_events
from common.outbox import RawPublisher
from common.replies import short_code
from common.repository import Repository, VersionConflict
from common.timefmt import epoch_ms, week_bounds
from common.unit_of_work import UnitOfWork
from notify import domain
from notify.adapters.store import CallbackQuery, Callbacks, CaseRecord
from notify.domain import Callback, CallbackRefused, CallbackRules, CasePlan, SendPolicy, StationContact
from notify.domain import events as ev
from notify.settings import NotifySettings
from notify.sms.handlers import Sms

log = structlog.get_logger(__name__)

Staged = list[tuple[Event, str]]
#: how often a case event plans again when another delivery or replica changed the case meanwhile
CASE_ATTEMPTS = 5


def send_policy(settings: NotifySettings) -> SendPolicy:
    return SendPolicy(
        zone=settings.zone, allowed_from=settings.sms_allowed_from, allowed_until=settings.sms_allowed_until,
        delay=timedelta(seconds=settings.sms_delay_s), retry_delays=settings.retry_delays,
        manual_lead=timedelta(hours=settings.manual_lead_h),
    )


def callback_rules(settings: NotifySettings, calendars: Sequence[domain.WorkCalendar] = ()) -> CallbackRules:
    return CallbackRules(zone=settings.zone, holiday_extension=settings.holiday_extension,
                         calendars=tuple(calendars), policy=send_policy(settings))


@dataclass
class Notify:
    """Everything a use case needs; `bootstrap` wires it (real adapters, or in-memory ones in tests)."""

    settings: NotifySettings
    clock: Clock
    publisher: RawPublisher
    callbacks: Callbacks
    cases: Repository[CaseRecord]
    rules: CallbackRules = field(default=None)  # type: ignore[assignment]  # None: from the settings
    #: the SMS gateway feature (`notify.sms`); bootstrap wires it, callback-only tests may leave it out
    sms: Sms = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.rules = self.rules or callback_rules(self.settings)
        self.station = StationContact(self.settings.station_name, self.settings.station_phone)
        self.uow = UnitOfWork(self.callbacks, self.publisher, lambda c: public_events(EVENTS, self, c),
                              kind="callback", refusal=CallbackRefused)

    @property
    def policy(self) -> SendPolicy:
        return self.rules.policy

    def sms_for(self, callback: Callback, sent: ev.CallbackSent | ev.CallbackReprompted) -> SmsSendRequested:
        """The `sms.send` command of a callback's SMS (or its one re-prompt): the station's text with the
        question's code, not before the send time; the question is the callback's, so the gateway tells notify
        the answer."""
        code = short_code(callback.callback_id)
        if isinstance(sent, ev.CallbackReprompted):
            text, purpose = domain.reprompt_text(station=self.station, code=code), "reprompt"
        else:
            officer = self.settings.officers.get(callback.officer_id or "")
            text, purpose = domain.callback_text(
                callback.rule, case_id=callback.case_id, station=self.station, party_name=callback.party_name,
                officer_name=officer.name if officer else "", officer_phone=officer.phone if officer else "",
                code=code,
            ), "callback"
        question = Question(question_id=callback.callback_id, owner="notify", kind="callback",
                            subject_id=callback.callback_id, code=code, expires_at=callback.due_at)
        return SmsSendRequested(
            sms_id=sent.message_id, phone=callback.phone, text=text, purpose=purpose, requested_by="notify",
            ref=callback.callback_id, not_before=sent.at, requested_at=sent.at, question=question,
        )


# --- what notify tells the others --------------------------------------------------------------


def _completed(n: Notify, callback: Callback, event: ev.CallbackCompleted) -> Event:
    """callbacks.completed with the party's phone: rating surveys a party the callback left without a level."""
    return contract.CallbackCompleted(**{**vars(event), "phone": callback.phone or None})


def _sms(n: Notify, callback: Callback, event: ev.CallbackSent | ev.CallbackReprompted) -> Event:
    return n.sms_for(callback, event)


#: every domain event of a callback -> its public contracts (the event's own fields unless built; msg ids
#: `<callback_id>/<subject tail>/<history length>`, an SMS command's its sms_id); a send failure stays inside
EVENTS: EventTable[Notify] = {
    ev.CallbackScheduled: Row(contract.CallbackScheduled),
    ev.CallbackSent: (Row(contract.CallbackSent), Row(SmsSendRequested, _sms, by_key)),
    ev.CallbackDelivered: Row(contract.CallbackDelivered),
    ev.CallbackSendFailed: INSIDE,
    ev.CallbackManual: Row(contract.CallbackManual),
    ev.CallbackCompleted: Row(contract.CallbackCompleted, _completed),
    ev.CallbackReprompted: Row(SmsSendRequested, _sms, by_key),
    ev.CallbackOverdue: Row(contract.CallbackOverdue),
    ev.CallbackSuperseded: Row(contract.CallbackSuperseded),
    ev.ObjectionOpened: Row(objection_contract.ObjectionOpened),
    ev.ObjectionExplained: Row(objection_contract.ObjectionExplained),
    ev.ObjectionEscalated: Row(objection_contract.ObjectionEscalated),
}


# --- case events -------------------------------------------------------------------------------


def _parties(parties: Sequence[case_contract.Party]) -> tuple[domain.CaseParty, ...]:
    return tuple(domain.CaseParty(p.party_id, p.name, p.phone, p.role) for p in parties)


async def case_accepted(n: Notify, event: case_contract.CaseAccepted) -> None:
    """cases.accepted -> one unsolved_7d callback per party (or, for a case solved already, its 3-day ones)."""
    accepted = domain.CaseAccepted(event.case_id, event.kind, event.accepted_at, event.officer_id, event.unit_id,
                                   _parties(event.parties))
    await _on_case(n, event.case_id, lambda case, now, _: domain.on_case_accepted(case, accepted, now=now,
                                                                                   rules=n.rules))


async def case_solved(n: Notify, event: case_contract.CaseSolved) -> None:
    """cases.solved -> the open unsolved_7d callbacks superseded, one solved_3d per party of both sides."""
    solved = domain.CaseSolved(event.case_id, event.solved_at, _parties(event.parties))
    await _on_case(n, event.case_id, lambda case, now, open_7d: domain.on_case_solved(
        case, solved, now=now, rules=n.rules, open_unsolved=open_7d), solving=True)


async def _on_case(
    n: Notify, case_id: str, plan_for: Callable[[domain.Case | None, datetime, list[Callback]], CasePlan],
    *, solving: bool = False,
) -> None:
    """Plan, then write the callbacks (the superseded ones first, then the new ones, idempotent by
    their derived ids) and only then the case record: a crash in between is redelivered and plans the
    same callbacks again. A case record changed by another delivery meanwhile (accepted and solved at
    once) makes it plan again."""
    scheduled_7d = False
    for _ in range(CASE_ATTEMPTS):
        stored = await n.cases.get(case_id)
        known = stored.aggregate.case if stored else None
        open_7d = [c for c in await n.callbacks.of_case(case_id) if c.rule == "unsolved_7d" and c.is_open] \
            if solving else []
        now = n.clock.now()
        plan = plan_for(known, now, open_7d)
        for warning in plan.warnings:
            log.warning("callback.calendar", case_id=case_id, warning=warning)
        if known is not None and plan.case == known:
            return  # a duplicate, with the same or a new msg id: nothing new to schedule
        for callback in plan.superseded:  # first: whoever sees a solved_3d callback sees its 7-day one closed
            await _supersede(n, callback.callback_id, callback.superseded_by or "")
        for callback in plan.schedule:
            callback.traceparent = tracing.current_traceparent()  # its timers continue this trace
            if await n.uow.add(callback):
                log.info("callback.scheduled", callback_id=callback.callback_id, rule=callback.rule,
                         state=callback.state, due_at=callback.due_at.isoformat())
            scheduled_7d = scheduled_7d or callback.rule == "unsolved_7d"
        for callback_id in plan.assign:
            await _assign(n, callback_id, plan.case)
        try:
            if stored is None:
                await n.cases.add(CaseRecord(plan.case), [])
            else:
                stored.aggregate.case = plan.case
                await n.cases.save(stored, [])
        except VersionConflict:
            continue  # another delivery changed the case: plan again from what it wrote
        if scheduled_7d and plan.case.solved:  # solved meanwhile, by a delivery that did not see these
            for callback in await n.callbacks.of_case(case_id):
                if callback.rule == "unsolved_7d" and callback.is_open:
                    await _supersede(n, callback.callback_id,
                                     domain.callback_id_for(case_id, callback.party_id, "solved_3d"))
        return
    raise Conflict(f"case {case_id} is being changed by others: try again")


async def _supersede(n: Notify, callback_id: str, by: str) -> None:
    def command(callback: Callback) -> None:
        if callback.is_open and callback.rule == "unsolved_7d":
            callback.supersede(now=n.clock.now(), superseded_by=by)

    await n.uow.act(callback_id, command)


async def _assign(n: Notify, callback_id: str, case: domain.Case) -> None:
    def command(callback: Callback) -> None:
        if callback.is_open and case.officer_id and callback.officer_id != case.officer_id:
            callback.assign(now=n.clock.now(), officer_id=case.officer_id, unit_id=case.unit_id)

    await n.uow.act(callback_id, command)


# --- timers and delivery reports ---------------------------------------------------------------


async def fire(n: Notify, callback_id: str) -> Callback:
    """Whatever is due now on one callback (send, cutoff, deadline); once, whatever the replicas. A timer has
    no trace of its own: the firing continues the trace that scheduled the callback (its `cases.*` event's)."""
    return await n.uow.act(callback_id, lambda c: domain.fire(c, n.clock.now(), n.policy),
                           resume=lambda c: c.traceparent)


async def sweep(n: Notify, *, batches: int = 20) -> int:
    """Fire the callbacks that are due, read through the `next_due_ms` index `sweep_limit` at a time;
    another batch while the last one was full (up to `batches` per tick)."""
    fired = 0
    gate = asyncio.Semaphore(n.settings.sweep_concurrency)

    async def one(callback_id: str) -> None:
        async with gate:
            try:
                await fire(n, callback_id)
            except Conflict as exc:  # busy elsewhere: the next tick finds it again if still due
                log.warning("callback.deferred", callback_id=callback_id, error=str(exc))

    for _ in range(batches):
        due = await n.callbacks.due(n.clock.now(), n.settings.sweep_limit)
        random.shuffle(due)  # replicas reading the same batch meet on fewer callbacks
        await asyncio.gather(*(one(callback_id) for callback_id in due))
        fired += len(due)
        if len(due) < n.settings.sweep_limit:
            break
    return fired


async def sms_delivery(n: Notify, event: SmsDeliveryNotify) -> None:
    """A delivery report of one of notify's SMS (the gateway tells notify its own only); a re-prompt's is not
    the callback's SMS in flight."""
    if event.purpose != "callback":
        return
    callback_id = event.ref or event.sms_id.rsplit(".", 1)[0]
    await n.uow.act(callback_id, lambda c: domain.apply_receipt(
        c, now=n.clock.now(), sms_id=event.sms_id, status=event.status, detail=event.detail, policy=n.policy))


async def callback_answered(n: Notify, event: SmsAnsweredNotify) -> None:
    """The party's answer to a callback SMS, matched to its callback by the gateway (never guessed here)."""
    if event.kind != "callback":
        return
    at = min(event.received_at, n.clock.now())
    await n.uow.act(event.question_id, lambda c: domain.apply_answer(
        c, now=at, text=event.text, opt_out=event.opt_out, objection_within=n.settings.objection_within))


# --- officers and leadership -------------------------------------------------------------------


async def load(n: Notify, callback_id: str) -> Callback:
    return await n.uow.get(callback_id)


async def complete(
    n: Notify, callback_id: str, *, channel: str, reached: bool, opinion: str, completed_by: str,
    level: str | None = None, objection: bool = False,
) -> Callback:
    """Record the callback made, with the party's level when the officer asked it (the callback's rating)
    and an objection; 409 with the reason for a done or superseded one."""
    return await n.uow.act(callback_id, lambda c: c.complete(
        now=n.clock.now(), channel=channel, reached=reached, opinion=opinion, completed_by=completed_by,
        level=level, objection=objection, objection_within=n.settings.objection_within))


# --- objections (异议) ---------------------------------------------------------------------------


def callback_of_objection(objection_id: str) -> str:
    if not objection_id.startswith(domain.OBJECTION_ID_PREFIX):
        raise NotFound("objection", objection_id)
    return domain.CALLBACK_ID_PREFIX + objection_id.removeprefix(domain.OBJECTION_ID_PREFIX)


async def objections(n: Notify, state: str, limit: int) -> list[Callback]:
    return await n.callbacks.objections(state, limit)


async def explain_objection(n: Notify, objection_id: str, *, by: str, how: str, outcome: str,
                            explained_at: datetime | None) -> Callback:
    """The officer's explanation (说理式执法); still objecting hands it to leadership."""
    callback_id = callback_of_objection(objection_id)
    try:
        return await n.uow.act(callback_id, lambda c: c.explain_objection(
            now=n.clock.now(), by=by, how=how, outcome=outcome, explained_at=explained_at))
    except NotFound as exc:
        raise NotFound("objection", objection_id) from exc


async def find(n: Notify, query: CallbackQuery, *, limit: int, offset: int) -> list[Callback]:
    if query.due_from and query.due_to and query.due_from >= query.due_to:
        raise Invalid("query.due_from", "due_from must be before due_to")
    return await n.callbacks.find(query, limit=limit, offset=offset)


async def officers_day(n: Notify, officer_id: str) -> list[Callback]:
    """What the officer must do by the end of today (local): manual tasks, overdue ones, and callbacks
    whose SMS gives way to the officer today or whose deadline ends today; earliest deadline first."""
    local = n.clock.now().astimezone(n.settings.zone)
    end_of_today = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), n.settings.zone)
    todo = [c for c in await n.callbacks.open_for(officer_id)
            if c.state in ("manual", "overdue") or c.manual_cutoff_at < end_of_today]
    return sorted(todo, key=lambda c: (c.due_at, c.callback_id))


async def figures(n: Notify, week: str, by: str) -> list[domain.CallbackFigures]:
    try:
        start, end = week_bounds(week, n.settings.zone)
    except ValueError as exc:
        raise Invalid("query.week", str(exc)) from exc
    found = await n.callbacks.in_week(epoch_ms(start) or 0, epoch_ms(end) or 0)
    return domain.weekly_figures(found, week, by=by, zone=n.settings.zone)  # type: ignore[arg-type]

