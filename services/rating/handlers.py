"""Use cases of rating, one function each: a contact, an answer, a rating, a check or a timer in; the store,
the roll-ups and events out.

Answers come from notify's gateway, matched there to the survey they answer (`sms.answered.rating`);
rating never guesses from raw inbound SMS. A callback's own answer (or the level an officer recorded)
is the rating of that callback (`callbacks.completed` with a `level`): rating records it and asks nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter

from common.clock import Clock
from common.contracts import ratings as contract
from common.contracts.alerts import AlertClosed
from common.contracts.base import Event
from common.contracts.callbacks import CallbackCompleted
from common.contracts.objections import ObjectionEscalated
from common.contracts.sms import Question, SmsAnsweredRating, SmsDeliveryRating, SmsSendRequested
from common.errors import Conflict, Invalid, Refused
from common.event_table import INSIDE, EventTable, Row, by_key, once, public_events
from common.outbox import Effect, RawPublisher
from common.repository import all_staged
from common.timefmt import iso_week, week_bounds
from common.unit_of_work import UnitOfWork
from rating.adapters.store import (
    ROLLUP,
    Followups,
    KeySet,
    RatingQuery,
    RatingRecords,
    Rollups,
    SpotChecks,
    Surveys,
    apply_rollup,
    rollup_effect,
    rollup_marks,
    wall_ms,
)
from rating.domain import (
    OPEN_SURVEY_STATES,
    Followup,
    Rating,
    RatingRefused,
    Reply,
    ReportRow,
    SpotCheck,
    Survey,
    SurveyPolicy,
    draw_spot_checks,
    followup_id_for,
    merge,
    normalize_phone,
    parse_reply,
    rebuild,
    report_rows,
    reprompt_text,
    send_time,
    survey_id,
    survey_text,
)
from rating.domain import events as ev
from rating.domain.followups import FollowupWords, followup_reason
from rating.domain.reply import COMMENT_MAX_CHARS
from rating.settings import RatingSettings

log = structlog.get_logger(__name__)

IGNORED_REPLIES = Counter(
    "fengqiao_rating_replies_ignored_total", "SMS replies from a phone with no survey taking replies", ["why"]
)
SURVEYS = Counter("fengqiao_rating_surveys_total", "Surveys asked for, by what became of the request", ["outcome"])

Staged = list[tuple[Event | Effect, str]]
#: a question's expiry when a survey has none yet (never: a sent survey has its own)
DEFAULT_EXPIRY = timedelta(hours=72)
#: how a callback's channel is rated: its SMS answer, a phone call, a visit (on site)
CALLBACK_CHANNELS = {"sms": "sms", "phone": "phone", "visit": "on_site"}
#: the longest officer or unit id the rating events carry (other systems send them as free text)
MAX_STAFF_REF = 64


@dataclass
class Evaluation:
    """Everything a use case of rating (评警) needs; `bootstrap` wires it (real adapters, or in-memory ones
    in tests)."""

    settings: RatingSettings
    clock: Clock
    publisher: RawPublisher
    surveys: Surveys
    ratings: RatingRecords
    followups: Followups
    checks: SpotChecks
    rollups: Rollups
    optouts: KeySet
    draws: KeySet

    def __post_init__(self) -> None:
        self.words = FollowupWords.load(self.settings.followup_words_path)
        effects = {ROLLUP: apply_rollup(lambda: self.rollups)}

        def uow(records: Any, kind: str) -> UnitOfWork[Any]:
            return UnitOfWork(records, self.publisher, self.staged, kind=kind, effects=effects)

        self.survey_uow = uow(self.surveys, "survey")
        self.rating_uow = uow(self.ratings, "rating")
        self.followup_uow = uow(self.followups, "followup")
        self.check_uow = uow(self.checks, "spot check")
        self.units = (self.survey_uow, self.rating_uow, self.followup_uow, self.check_uow)

    def staged(self, record: Any) -> Staged:
        """What a record's save stages: its roll-up increments, then its events as public contracts — so
        whoever is told (the console re-reading the weekly report on `ratings.received`) finds it counted."""
        return [*rollup_effect(record, self.settings.station_id), *public_events(EVENTS, self.settings, record)]

    @property
    def policy(self) -> SurveyPolicy:
        return self.settings.policy


# --- what rating tells the others ----------------------------------------------------------------


def _named(settings: RatingSettings, officer_id: str | None, unit_id: str | None) -> str:
    """The officer or unit as the citizen knows them."""
    if officer_id and officer_id in settings.names:
        return "民警" + settings.names[officer_id]
    if unit_id and unit_id in settings.names:
        return settings.names[unit_id]
    return "我所民警"


def survey_sms_id(survey_id: str, purpose: str) -> str:
    return f"{survey_id}:{purpose}"


def _survey_sent(settings: RatingSettings, survey: Survey, event: ev.SurveySent) -> Event:
    return contract.RatingSurveySent(
        survey_id=survey.survey_id, sms_id=survey_sms_id(survey.survey_id, "survey"), code=survey.code,
        subject_type=survey.subject_type, subject_id=survey.subject_id, officer_id=survey.officer_id,
        unit_id=survey.unit_id, at=event.at, expires_at=event.expires_at, week=event.week,
    )


def _survey_sms(settings: RatingSettings, survey: Survey, event: ev.SurveySent) -> Event:
    """The command asking notify to send the survey."""
    text = survey_text(station=settings.station_name, code=survey.code, subject_type=survey.subject_type,
                       named=_named(settings, survey.officer_id, survey.unit_id))
    return _sms(survey, survey_sms_id(survey.survey_id, "survey"), text, "survey", event.at, survey.send_at,
                event.expires_at)


def _reprompt_sms(settings: RatingSettings, survey: Survey, event: ev.SurveyReprompted) -> Event:
    text = reprompt_text(station=settings.station_name, code=survey.code)
    return _sms(survey, survey_sms_id(survey.survey_id, "reprompt"), text, "reprompt", event.at,
                send_time(event.at, settings.policy), survey.expires_at)


def _sms(survey: Survey, sms_id: str, text: str, purpose: str, at: datetime, not_before: datetime,
         expires_at: datetime | None) -> Event:
    """The `sms.send` of a survey or its re-prompt: the survey is its question, so the gateway tells rating
    the answer (its code picks it among the phone's open questions)."""
    question = Question(question_id=survey.survey_id, owner="rating", kind="survey", subject_id=survey.subject_id,
                        code=survey.code, expires_at=expires_at or at + DEFAULT_EXPIRY)
    return SmsSendRequested(
        sms_id=sms_id, phone=survey.phone, text=text, purpose=purpose, requested_by="rating",  # type: ignore[arg-type]
        ref=survey.survey_id, not_before=not_before, requested_at=at, question=question,
    )


def _received(settings: RatingSettings, rating: Rating, event: ev.RatingRecorded) -> Event:
    return contract.RatingReceived(
        rating_id=rating.rating_id, channel=rating.channel, level=rating.level, comment=rating.comment,
        subject_type=rating.subject_type, subject_id=rating.subject_id, officer_id=rating.officer_id,
        unit_id=rating.unit_id, week=rating.week, survey_id=rating.survey_id, entered_by=rating.entered_by,
        at=rating.at,  # type: ignore[arg-type]
    )


def _dissatisfied(settings: RatingSettings, rating: Rating, event: ev.RatingDissatisfied) -> Event:
    return contract.RatingDissatisfied(
        rating_id=rating.rating_id, channel=rating.channel, comment=rating.comment,
        subject_type=rating.subject_type, subject_id=rating.subject_id, officer_id=rating.officer_id,
        unit_id=rating.unit_id, at=rating.at, followup_id=followup_id_for(rating.rating_id),
        followup_due_at=rating.at + settings.policy.followup_within,  # type: ignore[arg-type]
    )


def _followup_overdue(settings: RatingSettings, followup: Followup, event: ev.FollowupOverdue) -> Event:
    return contract.RatingFollowupOverdue(
        followup_id=followup.followup_id, rating_id=followup.rating_id, channel=followup.channel,  # type: ignore[arg-type]
        officer_id=followup.officer_id, unit_id=followup.unit_id, week=followup.week, due_at=event.due_at,
        at=event.at,
    )


#: every domain event of rating's records -> its public contracts (the SMS commands' msg ids are their sms ids);
#: the roll-ups count them all (`rollup_effect`)
EVENTS: EventTable[RatingSettings] = {
    ev.SurveySent: (Row(contract.RatingSurveySent, _survey_sent), Row(SmsSendRequested, _survey_sms, by_key)),
    ev.SurveyReprompted: Row(SmsSendRequested, _reprompt_sms, by_key),
    ev.SurveyScheduled: INSIDE,
    ev.SurveySuppressed: INSIDE,
    ev.SurveyFailed: INSIDE,
    ev.SurveyAnswered: INSIDE,
    ev.SurveyReplyKept: INSIDE,
    ev.SurveyExpired: INSIDE,
    ev.SurveyOptedOut: INSIDE,
    ev.RatingRecorded: Row(contract.RatingReceived, _received, once()),
    ev.RatingDissatisfied: Row(contract.RatingDissatisfied, _dissatisfied, once()),
    ev.RatingExcluded: INSIDE,
    ev.FollowupOpened: INSIDE,
    ev.FollowupOverdue: Row(contract.RatingFollowupOverdue, _followup_overdue, once("overdue")),
    ev.FollowupCompleted: INSIDE,
    ev.SpotCheckRecorded: INSIDE,
}


# --- surveys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyRequest:
    """Someone had contact with the police and may be asked how it went."""

    subject_type: str
    subject_id: str
    phone: str
    officer_id: str | None
    unit_id: str | None
    requested_at: datetime


async def request_survey(m: Evaluation, request: SurveyRequest) -> Survey:
    """One survey per subject and phone, however often or late the request comes; sent at once when due."""
    for name in ("officer_id", "unit_id"):
        if len(getattr(request, name) or "") > MAX_STAFF_REF:
            raise Invalid(name, f"at most {MAX_STAFF_REF} characters")
    the_id = survey_id(request.subject_type, request.subject_id, request.phone)
    if await m.surveys.get(the_id) is None:
        phone = normalize_phone(request.phone)
        survey = Survey.schedule(
            subject_type=request.subject_type, subject_id=request.subject_id, phone=phone,
            officer_id=request.officer_id, unit_id=request.unit_id, requested_at=request.requested_at,
            now=m.clock.now(), opted_out=await m.optouts.has(phone),
            last_surveyed_at=await _last_surveyed(m, phone, the_id), policy=m.policy,
        )
        if await m.survey_uow.add(survey):
            SURVEYS.labels(survey.suppressed_reason or "scheduled").inc()
            log.info("survey.scheduled", survey_id=the_id, subject_id=request.subject_id, state=survey.state,
                     reason=survey.suppressed_reason, send_at=survey.send_at)
            if survey.state == "scheduled" and survey.send_at <= m.clock.now():
                return await _send_or_expire(m, the_id)
            return survey
    SURVEYS.labels("repeated").inc()
    return await m.survey_uow.get(the_id)  # also finishes what an earlier delivery left staged


async def _last_surveyed(m: Evaluation, phone: str, other_than: str) -> datetime | None:
    """When the phone's latest survey for another subject went, or will go, out."""
    times = [s.sent_at or s.send_at for s in await m.surveys.of_phone(phone)
             if s.survey_id != other_than and s.state not in ("suppressed", "opted_out", "failed")]
    return max(times, default=None)


async def survey_of_alert(m: Evaluation, event: AlertClosed) -> None:
    """The caller of a closed alert is asked how it went; a caller without a phone is not."""
    if not event.caller_phone:
        log.info("survey.no_phone", alert_id=event.alert_id)
        return
    await request_survey(m, SurveyRequest("alert", event.alert_id, event.caller_phone, event.officer_id or None,
                                          event.unit_id or None, event.at))


def callback_rating_id(callback_id: str) -> str:
    """The one rating of a callback, whichever way it came: 'rt-' and the callback's id."""
    return "rt-" + callback_id


async def callback_completed(m: Evaluation, event: CallbackCompleted) -> None:
    """A callback done: its level (the party's SMS answer, or what the officer recorded) is its rating; a party
    reached by phone or visit without a level is surveyed; an SMS answer without a level asks nothing more."""
    if event.level is not None:
        await rate_callback(m, event)
        return
    if event.channel == "sms":
        log.info("survey.not_for_callback", callback_id=event.callback_id, why="answered by SMS")
        return
    await survey_of_callback(m, event)


async def rate_callback(m: Evaluation, event: CallbackCompleted) -> Rating:
    """The rating of a callback: subject callback, counted under the case's officer in the week it was given."""
    assert event.level is not None
    channel = CALLBACK_CHANNELS[event.channel]
    rating = Rating.record(
        rating_id=callback_rating_id(event.callback_id), channel=channel, level=event.level,
        subject_type="callback", subject_id=event.callback_id, officer_id=event.officer_id, unit_id=event.unit_id,
        at=event.at, zone=m.settings.zone, comment=event.opinion[:COMMENT_MAX_CHARS], phone=event.phone,
        entered_by=None if channel == "sms" else event.completed_by,
    )
    if await m.rating_uow.add(rating):
        log.info("rating.recorded", rating_id=rating.rating_id, channel=channel, level=rating.level,
                 callback_id=event.callback_id)
    else:
        rating = await m.rating_uow.get(rating.rating_id)  # a redelivery finishes what the first left
    await _follow_up(m, rating)
    return rating


async def objection_escalated(m: Evaluation, event: ObjectionEscalated) -> None:
    """An objection the officer's explanation did not settle is leadership's: a follow-up on the callback's
    rating (one per rating: a 不满意 that opened one already keeps it)."""
    stored = await m.ratings.get(callback_rating_id(event.callback_id))
    if stored is None:  # callbacks.completed is another consumer's: not handled yet, so try again later
        raise Conflict(f"the rating of callback {event.callback_id} is not recorded yet")
    await _open_followup(m, stored.aggregate, "objection", event.at)


async def survey_of_callback(m: Evaluation, event: CallbackCompleted) -> None:
    """A party reached by a case callback is asked how it went; one not reached, or without a phone, is not."""
    if not event.phone or not event.reached:
        log.info("survey.not_for_callback", callback_id=event.callback_id, reached=event.reached)
        return
    await request_survey(m, SurveyRequest("callback", event.callback_id, event.phone, event.officer_id or None,
                                          event.unit_id or None, event.at))


async def survey_requested(m: Evaluation, event: contract.RatingRequested) -> None:
    await request_survey(m, SurveyRequest(event.subject_type, event.subject_id, event.phone, event.officer_id or None,
                                          event.unit_id or None, event.requested_at))


async def _send_or_expire(m: Evaluation, the_id: str) -> Survey:
    def due(survey: Survey) -> None:
        now = m.clock.now()
        if survey.state == "scheduled":
            survey.mark_sent(now=now, policy=m.policy)
        elif survey.state in OPEN_SURVEY_STATES and survey.expires_at is not None and survey.expires_at <= now:
            survey.expire(now=now)  # else another replica (or an earlier try) sent it meanwhile: nothing to do

    return await m.survey_uow.act(the_id, due)


async def sweep_surveys(m: Evaluation) -> int:
    """Send the surveys due and expire those unanswered for 72 h; the version-checked save is the claim."""
    due = await m.surveys.due(m.clock.now())
    for the_id in due:
        try:
            await _send_or_expire(m, the_id)
        except (Refused, Conflict) as exc:  # another replica took it, or it is not due after all
            log.info("survey.skipped", survey_id=the_id, reason=str(exc))
    return len(due)


# --- replies and receipts ------------------------------------------------------------------------


async def answered(m: Evaluation, event: SmsAnsweredRating) -> None:
    """A citizen's answer to one of rating's surveys, matched to it by notify's gateway; an opt-out stops the
    phone's surveys (the gateway keeps its own list and sends nothing more)."""
    phone = normalize_phone(event.phone)
    at = min(event.received_at, m.clock.now())
    if event.opt_out:
        await opt_out(m, phone, at)
        return
    reply = parse_reply(event.text)
    if reply.kind == "opt_out":  # a TD inside a longer text: not a rating, and not the gateway's opt-out
        reply = replace(reply, kind="unreadable", reason="opt-out words in a longer text")
    try:
        survey = await m.survey_uow.act(event.question_id, lambda s: _receive(s, reply, at, event.inbound_id))
    except Refused as exc:  # expired between the read and the write
        IGNORED_REPLIES.labels("closed").inc()
        log.info("reply.ignored", phone=phone, reason=exc.reason, inbound_id=event.inbound_id)
        return
    log.info("reply.received", survey_id=survey.survey_id, state=survey.state, reason=reply.reason)
    if survey.state == "answered":
        await _rate_survey(m, survey)


def _receive(survey: Survey, reply: Reply, at: datetime, inbound_id: str) -> None:
    if any(kept.message_id == inbound_id for kept in survey.replies):
        return  # a redelivery: this message was taken already
    survey.receive(reply, now=at, message_id=inbound_id)


async def opt_out(m: Evaluation, phone: str, at: datetime) -> None:
    """TD / 退订: no survey goes to the phone again, and those scheduled or open stop."""
    await m.optouts.add(phone, at)
    for survey in await m.surveys.of_phone(phone):
        if survey.state == "scheduled" or survey.state in OPEN_SURVEY_STATES:
            try:
                await m.survey_uow.act(survey.survey_id, lambda s: _stop(s, at))
            except (Refused, Conflict) as exc:
                log.warning("survey.opt_out_deferred", survey_id=survey.survey_id, error=str(exc))
    log.info("survey.opted_out", phone=phone)


def _stop(survey: Survey, at: datetime) -> None:
    if survey.state == "scheduled" or survey.state in OPEN_SURVEY_STATES:
        survey.opt_out(now=at)


async def delivery(m: Evaluation, event: SmsDeliveryRating) -> None:
    """notify's receipt of a survey SMS (the gateway tells rating its own only): delivered is noted; failed for
    good, nobody was asked."""
    if event.purpose != "survey" or not event.ref:
        return

    def note(survey: Survey) -> None:
        if event.status == "failed" and survey.state == "sent":
            survey.fail(now=event.at, detail=event.detail)
        elif event.status == "delivered" and survey.delivered_at is None and survey.accepts_replies:
            survey.delivered(now=event.at)

    await m.survey_uow.act(event.ref, note)


# --- ratings -------------------------------------------------------------------------------------


async def _rate_survey(m: Evaluation, survey: Survey) -> Rating:
    """The SMS rating of an answered survey (one each), and its follow-up when 不满意."""
    rating = Rating.from_survey(survey, zone=m.settings.zone)
    if not await m.rating_uow.add(rating):
        rating = await m.rating_uow.get(rating.rating_id)  # a redelivery finishes what the first left
    await _follow_up(m, rating)
    return rating


async def _follow_up(m: Evaluation, rating: Rating) -> None:
    """Leadership follows up a 不满意, and any rating whose comment states a problem or a suggestion."""
    reason = followup_reason(rating.level, rating.comment, m.words)
    if reason is not None:
        await _open_followup(m, rating, reason, rating.at)


async def _open_followup(m: Evaluation, rating: Rating, reason: str, now: datetime) -> None:
    followup = Followup.open(rating, now=now, policy=m.policy, reason=reason)
    if not await m.followup_uow.add(followup):
        await m.followup_uow.load(followup.followup_id)  # one per rating: a repeat finishes what the first left


@dataclass(frozen=True)
class RatingEntry:
    """A rating taken by staff on the phone (电话评警) or at the window (现场评警)."""

    channel: str
    level: str
    subject_type: str
    subject_id: str
    officer_id: str | None
    unit_id: str | None
    entered_by: str
    comment: str = ""
    phone: str | None = None
    at: datetime | None = None


def _rating_id(m: Evaluation, request_id: str | None) -> str:
    if request_id:
        return "rt-" + hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()
    return f"rt-{m.clock.now().astimezone(m.settings.zone):%Y%m%d}-{uuid.uuid4().hex[:12]}"


#: how far ahead of the service's clock a rating's time may be (the clocks of tablets and phones drift)
FUTURE_SLACK = timedelta(minutes=5)


async def record_rating(m: Evaluation, entry: RatingEntry, request_id: str | None = None) -> tuple[Rating, bool]:
    """Store a phone or on-site rating; a retry with the same request_id and body stores nothing new (False);
    the same request_id with another body is refused naming it."""
    now = m.clock.now()
    at = entry.at or now
    if at > now + FUTURE_SLACK:
        raise Invalid("at", "a rating cannot be taken more than 5 minutes in the future")
    try:
        rating = Rating.record(
            rating_id=_rating_id(m, request_id), channel=entry.channel, level=entry.level,
            subject_type=entry.subject_type, subject_id=entry.subject_id, officer_id=entry.officer_id,
            unit_id=entry.unit_id, at=at, zone=m.settings.zone, comment=entry.comment, phone=entry.phone,
            entered_by=entry.entered_by,
        )
    except RatingRefused as exc:
        raise Invalid("body", exc.reason) from exc
    stored = await m.rating_uow.add(rating)
    if not stored:
        kept = await m.rating_uow.get(rating.rating_id)
        if request_id and _entry_of(kept) != _entry_of(rating, at=None if entry.at is None else kept.at):
            raise Refused(f"request_id {request_id} was used for another rating ({kept.rating_id}): "
                          "a new rating needs a new request_id")
        rating = kept
    else:
        log.info("rating.recorded", rating_id=rating.rating_id, channel=rating.channel, level=rating.level)
    await _follow_up(m, rating)
    return rating, stored


def _entry_of(rating: Rating, at: datetime | None = None) -> tuple[Any, ...]:
    """What a request said of a rating (its time only when the request gave one)."""
    return (rating.channel, rating.level, rating.subject_type, rating.subject_id, rating.officer_id, rating.unit_id,
            rating.entered_by, rating.comment, rating.phone, at or rating.at)


async def find_ratings(m: Evaluation, query: RatingQuery) -> list[Rating]:
    return await m.ratings.find(query)


# --- the weekly report ---------------------------------------------------------------------------


async def weekly_report(m: Evaluation, week: str, scope: str) -> list[ReportRow]:
    """From the roll-ups of the week: no rating is read."""
    return report_rows(await m.rollups.of_week(week, scope), week=week, scope=scope)


async def rebuild_rollups(m: Evaluation, batch: int = 5000) -> int:
    """The roll-ups again from the records as they are (a repair: run it with the service stopped)."""
    station = m.settings.station_id
    parts = []
    async for ratings in m.ratings.scan(batch):
        parts.append(rebuild(ratings=ratings, surveys=[], followups=[], station=station))
    async for surveys in m.surveys.scan(batch):
        parts.append(rebuild(ratings=[], surveys=surveys, followups=[], station=station))
    async for followups in m.followups.scan(batch):
        parts.append(rebuild(ratings=[], surveys=[], followups=followups, station=station))
    rollups = merge(*parts)
    cells = [r for r in rollups.values() if any(r.counts.values())]
    await m.rollups.replace_all(cells)
    for records in (m.ratings, m.surveys, m.followups):
        await records.forget_all_staged()
    log.info("rollups.rebuilt", cells=len(cells))
    return len(cells)


# --- spot checks ---------------------------------------------------------------------------------


async def draw_week(m: Evaluation, week: str) -> int:
    """Draw the week's spot checks once it is over; drawing again stores nothing twice."""
    _, end = week_bounds(week, m.settings.zone)
    now = m.clock.now()
    if now < end or await m.draws.has(week):
        return 0
    checks = draw_spot_checks(week, await m.ratings.of_week(week), now=now,
                              share=m.settings.spot_check_share, minimum=m.settings.spot_check_minimum)
    for check in checks:
        await m.check_uow.add(check)
    await m.draws.add(week, now)
    log.info("spot_checks.drawn", week=week, checks=len(checks))
    return len(checks)


async def draw_last_week(m: Evaluation) -> int:
    return await draw_week(m, iso_week(m.clock.now() - timedelta(days=7), m.settings.zone))


async def spot_checks(m: Evaluation, week: str, *, limit: int, offset: int) -> list[SpotCheck]:
    await draw_week(m, week)
    return await m.checks.of_week(week, limit=limit, offset=offset)


async def record_check(m: Evaluation, check_id: str, *, outcome: str, actor: str, note: str) -> SpotCheck:
    """What calling the citizen back found; a denied rating leaves the report (a retry finishes that)."""

    def record(check: SpotCheck) -> None:
        if check.state == "denied" and outcome == "denied":
            return  # said before: make sure the rating is out
        check.record(outcome, now=m.clock.now(), actor=actor, note=note)

    check = await m.check_uow.act(check_id, record)
    if check.state == "denied":
        await m.rating_uow.act(check.rating_id, lambda r: _exclude(r, m.clock.now(), actor, check))
    return check


def _exclude(rating: Rating, now: datetime, actor: str, check: SpotCheck) -> None:
    if rating.state == "counted":
        rating.exclude(now=now, actor=actor, check_id=check.check_id, note=check.note)


# --- follow-ups ----------------------------------------------------------------------------------


async def followups(m: Evaluation, *, state: str | None, limit: int, offset: int) -> list[Followup]:
    return await m.followups.find(state=state, limit=limit, offset=offset)


async def followup(m: Evaluation, followup_id: str) -> tuple[Followup, Rating | None]:
    """The follow-up, with the rating it answers (its phone, for the call back)."""
    found = await m.followup_uow.get(followup_id)
    stored = await m.ratings.get(found.rating_id)
    return found, stored.aggregate if stored else None


async def complete_followup(m: Evaluation, followup_id: str, *, actor: str, findings: str, actions: str) -> Followup:
    return await m.followup_uow.act(
        followup_id, lambda f: f.complete(now=m.clock.now(), actor=actor, findings=findings, actions=actions)
    )


async def sweep_followups(m: Evaluation) -> int:
    """Flag each follow-up past its deadline once (ratings.followup_overdue)."""
    due = await m.followups.due(m.clock.now())
    for followup_id in due:
        try:
            await m.followup_uow.act(followup_id, lambda f: f.check_deadline(m.clock.now()))
        except Conflict as exc:
            log.warning("followup.deferred", followup_id=followup_id, error=str(exc))
    return len(due)


# --- what a crash or an outage left behind -------------------------------------------------------


async def relay(m: Evaluation) -> int:
    """Events and roll-up entries staged and left (a crash, an outage); marks no entry can need any more."""
    done = 0
    for unit in m.units:
        done += await unit.relay()
    # what is staged is read first: an entry staged after this read was marked after it, so it is not forgotten
    outboxes = await all_staged([unit.repository for unit in m.units])
    if outboxes is not None:  # else an outage left many staged: every mark stays until they are published
        staged = {mark for outbox in outboxes for mark in rollup_marks(outbox)}
        await m.rollups.forget_marks(wall_ms() - int(m.settings.rollup_marks_kept_s * 1000), staged)
    return done
