"""The survey, the rating and the follow-up records, and the rules of their lives.

Every command either changes the record, appends one history entry and records an event in
`events` (not persisted; the service publishes them through the outbox), or raises
`RatingRefused` with the reason and changes nothing. `version` belongs to the repository.

Survey (one per subject and phone, id from `surveys.survey_id`):

| command  | allowed in state            | new state   | event                              |
|----------|-----------------------------|-------------|------------------------------------|
| schedule | —                           | scheduled   | SurveyScheduled                    |
| schedule | — (opted out, stale, cooldown) | suppressed | SurveySuppressed                 |
| mark_sent| scheduled, at/after send_at | sent        | SurveySent (expires_at = now + 72 h) |
| receive a rating      | sent, reprompted     | answered    | SurveyAnswered                 |
| receive unreadable    | sent                 | reprompted  | SurveyReprompted (one re-prompt) |
| receive unreadable    | reprompted           | reprompted  | SurveyReplyKept (comment, no 2nd re-prompt) |
| receive anything      | answered             | answered    | SurveyReplyKept (the first valid reply counts) |
| expire   | sent, reprompted, at/after expires_at | expired | SurveyExpired                     |
| fail     | sent (the SMS could not be delivered) | failed | SurveyFailed                        |
| delivered| sent, reprompted, answered  | (same)      | — (`delivered_at` noted once)      |
| opt_out  | scheduled, sent, reprompted | opted_out   | SurveyOptedOut                     |

`receive` is refused at or after `expires_at` (the sweep expires it), in any other state, and for
an opt-out reply (the service opts out every open survey of the phone). A reprompted survey stays
open until it expires: a later valid reply still counts; the re-prompt does not extend it. Every
reply is kept in `replies` with what became of it. An expired survey with kept replies has comments
and no rating.

Rating (any channel; SMS ratings come from an answered survey, phone and on-site ones are entered
by staff, `entered_by` required): `record` / `from_survey` → RatingRecorded, and RatingDissatisfied
for 不满意; `exclude` (a spot check found it false, once) → RatingExcluded.

Followup (one per dissatisfied rating, id `fu-` + rating id, station leadership):

| command        | allowed in state | new state | event                                     |
|----------------|------------------|-----------|-------------------------------------------|
| open           | —                | open      | FollowupOpened (due_at = now + 3 days)    |
| check_deadline | open, after due_at | overdue | FollowupOverdue (once)                    |
| complete       | open, overdue    | done      | FollowupCompleted(in_time = now <= due_at) |

Done late and never flagged by a sweep: `complete` records FollowupOverdue first, so it counts once.

A follow-up done exactly at `due_at` is in time; `outcome` is in_time / overdue / None (pending).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc
from common.timefmt import iso_week
from rating.domain import events as ev
from rating.domain.levels import CHANNELS, LEVELS, Channel, Level
from rating.domain.reply import COMMENT_MAX_CHARS, Reply
from rating.domain.surveys import (
    DEFAULT_POLICY,
    SUBJECT_TYPES,
    SurveyPolicy,
    normalize_phone,
    require_aware,
    send_time,
    short_code,
    suppression,
    survey_id,
)

SurveyState = Literal[
    "scheduled", "suppressed", "sent", "reprompted", "answered", "expired", "opted_out", "failed"
]
SURVEY_STATES: tuple[SurveyState, ...] = get_args(SurveyState)
OPEN_SURVEY_STATES: frozenset[SurveyState] = frozenset({"sent", "reprompted"})  # awaiting a rating
ReplyOutcome = Literal["rated", "reprompt", "kept"]
FollowupState = Literal["open", "overdue", "done"]
FOLLOWUP_STATES: tuple[FollowupState, ...] = get_args(FollowupState)
SYSTEM_ACTOR = "system"


class RatingRefused(Refusal):
    """A command a record does not accept in its present state; the HTTP layer answers 409 (422 for bad values)."""


@dataclass(frozen=True)
class SurveyReply:
    at: datetime
    text: str  # cleaned, at most COMMENT_MAX_CHARS
    outcome: ReplyOutcome
    message_id: str | None = None  # the inbound SMS id, for tracing


class Record(Aggregate):
    """Plain-data round trips shared by the records below (history, events and refusals: `Aggregate`)."""

    refusal: ClassVar[type[Refusal]] = RatingRefused
    _DATETIMES: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the store (datetimes stay datetimes); `events` are not persisted."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}  # type: ignore[arg-type]
        for name, value in doc.items():
            if isinstance(value, list):
                doc[name] = [asdict(item) for item in value]
        return doc

    @classmethod
    def _values(cls, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of `doc` (other keys, like `_id`, ignored), naive datetimes read as UTC."""
        values = {f.name: doc[f.name] for f in fields(cls) if f.name != "events"}  # type: ignore[arg-type]
        for name in cls._DATETIMES:
            values[name] = as_utc(values[name])
        values["history"] = [HistoryEntry(**{**entry, "at": as_utc(entry["at"])}) for entry in doc["history"]]
        return values


@dataclass(eq=False)
class Survey(Record):
    all_states: ClassVar[tuple[str, ...]] = SURVEY_STATES

    survey_id: str
    subject_type: str
    subject_id: str
    phone: str  # normalised digits
    officer_id: str | None
    unit_id: str | None
    requested_at: datetime
    code: str
    state: SurveyState
    send_at: datetime
    suppressed_reason: str | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    week: str | None = None  # ISO week of sending, station zone
    level: Level | None = None
    comment: str = ""
    answered_at: datetime | None = None
    reprompted_at: datetime | None = None
    delivered_at: datetime | None = None
    replies: list[SurveyReply] = field(default_factory=list)

    _DATETIMES = ("requested_at", "send_at", "sent_at", "expires_at", "answered_at", "reprompted_at", "delivered_at")

    @classmethod
    def schedule(
        cls,
        *,
        subject_type: str,
        subject_id: str,
        phone: str,
        officer_id: str | None,
        unit_id: str | None,
        requested_at: datetime,
        now: datetime,
        opted_out: bool = False,
        last_surveyed_at: datetime | None = None,
        policy: SurveyPolicy = DEFAULT_POLICY,
    ) -> Survey:
        """A new survey, scheduled inside the allowed hours or suppressed with its reason.

        `requested_at`: when the contact ended (the event's time); `now`: when the event is handled;
        the survey is due at the later of the two. `last_surveyed_at`: the phone's latest survey for
        another subject (its send time), from the store."""
        require_aware(requested_at)
        require_aware(now)
        the_id = survey_id(subject_type, subject_id, phone)
        send_at = send_time(max(requested_at, now), policy)
        reason = suppression(
            requested_at=requested_at,
            send_at=send_at,
            opted_out=opted_out,
            last_surveyed_at=last_surveyed_at,
            policy=policy,
        )
        survey = cls(
            survey_id=the_id,
            subject_type=subject_type,
            subject_id=subject_id,
            phone=normalize_phone(phone),
            officer_id=officer_id,
            unit_id=unit_id,
            requested_at=requested_at,
            code=short_code(the_id),
            state="scheduled" if reason is None else "suppressed",
            send_at=send_at,
            suppressed_reason=reason,
        )
        survey._record(now=now, actor=SYSTEM_ACTOR, action="schedule", from_state=None, note=reason or "")
        if reason is None:
            survey.events.append(ev.SurveyScheduled(at=now, survey_id=the_id, send_at=send_at))
        else:
            survey.events.append(ev.SurveySuppressed(at=now, survey_id=the_id, reason=reason))
        return survey

    def mark_sent(self, *, now: datetime, policy: SurveyPolicy = DEFAULT_POLICY) -> None:
        """The send command went to notify; the 72 h start now."""
        self._allow("send", now, {"scheduled"})
        if now < self.send_at:
            raise RatingRefused(f"survey {self.survey_id} is not to be sent before {self.send_at.isoformat()}")
        self.state, self.sent_at = "sent", now
        self.expires_at, self.week = now + policy.expires_after, iso_week(now, policy.zone)
        self._record(now=now, actor=SYSTEM_ACTOR, action="send", from_state="scheduled")
        self.events.append(
            ev.SurveySent(
                at=now,
                survey_id=self.survey_id,
                subject_type=self.subject_type,
                subject_id=self.subject_id,
                officer_id=self.officer_id,
                unit_id=self.unit_id,
                expires_at=self.expires_at,
                week=self.week,
            )
        )

    def receive(self, reply: Reply, *, now: datetime, message_id: str | None = None) -> ReplyOutcome:
        """A reply routed to this survey (see `matching.route_reply`); what became of it."""
        if reply.kind == "opt_out":
            raise RatingRefused("an opt-out is not an answer: opt out every open survey of the phone")
        self._allow("receive a reply on", now, OPEN_SURVEY_STATES | {"answered"})
        if self.expires_at is not None and now >= self.expires_at:
            raise RatingRefused(f"survey {self.survey_id} expired at {self.expires_at.isoformat()}")
        previous = self.state
        outcome: ReplyOutcome
        if self.state == "answered":
            outcome, note = "kept", "after the first valid reply"
            self.events.append(ev.SurveyReplyKept(at=now, survey_id=self.survey_id, reason=note))
        elif reply.level is not None:
            outcome, note = "rated", reply.reason
            self.state, self.level, self.comment, self.answered_at = "answered", reply.level, reply.comment, now
            self.events.append(
                ev.SurveyAnswered(
                    at=now,
                    survey_id=self.survey_id,
                    level=reply.level,
                    officer_id=self.officer_id,
                    unit_id=self.unit_id,
                    week=self.week or "",
                )
            )
        elif self.state == "sent":
            outcome, note = "reprompt", reply.reason
            self.state, self.reprompted_at = "reprompted", now
            self.events.append(ev.SurveyReprompted(at=now, survey_id=self.survey_id))
        else:
            outcome, note = "kept", "unreadable again: " + reply.reason
            self.events.append(ev.SurveyReplyKept(at=now, survey_id=self.survey_id, reason=note))
        self.replies.append(SurveyReply(now, reply.text[:COMMENT_MAX_CHARS], outcome, message_id))
        self._record(now=now, actor="citizen", action=f"reply: {outcome}", from_state=previous, note=note)
        return outcome

    def expire(self, *, now: datetime) -> None:
        """No valid reply within 72 h of sending."""
        self._allow("expire", now, OPEN_SURVEY_STATES)
        assert self.expires_at is not None  # set by mark_sent
        if now < self.expires_at:
            raise RatingRefused(f"survey {self.survey_id} expires at {self.expires_at.isoformat()}, not before")
        previous, self.state = self.state, "expired"
        self._record(now=now, actor=SYSTEM_ACTOR, action="expire", from_state=previous)
        self.events.append(ev.SurveyExpired(at=now, survey_id=self.survey_id))

    def fail(self, *, now: datetime, detail: str = "") -> None:
        """The gateway gave up on the survey SMS: nobody was asked, so it leaves the surveyed count."""
        self._allow("fail", now, {"sent"})
        previous, self.state = self.state, "failed"
        self._record(now=now, actor=SYSTEM_ACTOR, action="fail", from_state=previous, note=detail[:200])
        self.events.append(
            ev.SurveyFailed(
                at=now,
                survey_id=self.survey_id,
                officer_id=self.officer_id,
                unit_id=self.unit_id,
                week=self.week or "",
                detail=detail[:200],
            )
        )

    def delivered(self, *, now: datetime) -> None:
        """The operator reported the survey SMS delivered; noted once, the state does not change."""
        self._allow("note the delivery of", now, OPEN_SURVEY_STATES | {"answered"})
        if self.delivered_at is None:
            self.delivered_at = now
            self._record(now=now, actor=SYSTEM_ACTOR, action="delivered", from_state=self.state)

    def opt_out(self, *, now: datetime) -> None:
        """The phone replied TD / 退订: this survey stops (the service stores the opt-out for good)."""
        self._allow("opt out", now, {"scheduled"} | OPEN_SURVEY_STATES)
        previous, self.state = self.state, "opted_out"
        self._record(now=now, actor="citizen", action="opt_out", from_state=previous)
        self.events.append(ev.SurveyOptedOut(at=now, survey_id=self.survey_id))

    @property
    def next_due_at(self) -> datetime | None:
        """When a sweep has something to do: send (scheduled) or expire (open); `<= now` by index."""
        if self.state == "scheduled":
            return self.send_at
        return self.expires_at if self.state in OPEN_SURVEY_STATES else None

    @property
    def accepts_replies(self) -> bool:
        return self.state in OPEN_SURVEY_STATES or self.state == "answered"

    @property
    def ident(self) -> str:
        return self.survey_id

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"next_due_at": self.next_due_at}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Survey:
        values = cls._values(doc)
        values["replies"] = [SurveyReply(**{**r, "at": as_utc(r["at"])}) for r in doc["replies"]]
        return cls(**values)


@dataclass(eq=False)
class Rating(Record):
    all_states: ClassVar[tuple[str, ...]] = ("counted", "excluded")

    rating_id: str
    channel: Channel
    level: Level
    comment: str
    subject_type: str
    subject_id: str
    officer_id: str | None
    unit_id: str | None
    at: datetime
    week: str  # ISO week of `at`, station zone
    phone: str | None = None  # normalised; None on site when the citizen gave none
    entered_by: str | None = None  # staff who entered a phone / on-site rating
    survey_id: str | None = None
    state: Literal["counted", "excluded"] = "counted"
    excluded_by_check: str | None = None

    _DATETIMES = ("at",)

    @classmethod
    def record(
        cls,
        *,
        rating_id: str,
        channel: str,
        level: str,
        subject_type: str,
        subject_id: str,
        officer_id: str | None,
        unit_id: str | None,
        at: datetime,
        zone: ZoneInfo,
        comment: str = "",
        phone: str | None = None,
        entered_by: str | None = None,
        survey_id: str | None = None,
    ) -> Rating:
        """A rating by any channel; phone and on-site ones need `entered_by`, SMS ones a `survey_id`."""
        require_aware(at)
        if channel not in CHANNELS:
            raise RatingRefused(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        if level not in LEVELS:
            raise RatingRefused(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
        if subject_type not in SUBJECT_TYPES:
            raise RatingRefused(f"unknown subject_type {subject_type!r}; expected one of {', '.join(SUBJECT_TYPES)}")
        if channel == "sms" and not survey_id:
            raise RatingRefused("an SMS rating comes from a survey: survey_id is required")
        if channel != "sms" and not (entered_by or "").strip():
            raise RatingRefused(f"a {channel} rating needs entered_by: the staff member who took it")
        if len(comment) > COMMENT_MAX_CHARS:
            raise RatingRefused(f"comment is longer than {COMMENT_MAX_CHARS} characters")
        rating = cls(
            rating_id=rating_id,
            channel=channel,  # type: ignore[arg-type]
            level=level,  # type: ignore[arg-type]
            comment=comment,
            subject_type=subject_type,
            subject_id=subject_id,
            officer_id=officer_id,
            unit_id=unit_id,
            at=at,
            week=iso_week(at, zone),
            phone=normalize_phone(phone) if phone else None,
            entered_by=entered_by if channel != "sms" else None,
            survey_id=survey_id,
        )
        rating._record(now=at, actor=entered_by or "citizen", action="record", from_state=None, note=channel)
        rating.events.append(
            ev.RatingRecorded(
                at=at,
                rating_id=rating_id,
                channel=channel,
                level=level,
                subject_type=subject_type,
                subject_id=subject_id,
                officer_id=officer_id,
                unit_id=unit_id,
                week=rating.week,
                survey_id=survey_id,
                entered_by=rating.entered_by,
            )
        )
        if level == "dissatisfied":
            rating.events.append(
                ev.RatingDissatisfied(
                    at=at,
                    rating_id=rating_id,
                    channel=channel,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    officer_id=officer_id,
                    unit_id=unit_id,
                    comment=comment,
                )
            )
        return rating

    @classmethod
    def from_survey(cls, survey: Survey, *, zone: ZoneInfo) -> Rating:
        """The SMS rating of an answered survey; its id is derived from the survey's (one each)."""
        if survey.state != "answered" or survey.level is None or survey.answered_at is None:
            raise RatingRefused(f"survey {survey.survey_id} has no rating: it is {survey.state}")
        return cls.record(
            rating_id=rating_id_for(survey.survey_id),
            channel="sms",
            level=survey.level,
            subject_type=survey.subject_type,
            subject_id=survey.subject_id,
            officer_id=survey.officer_id,
            unit_id=survey.unit_id,
            at=survey.answered_at,
            zone=zone,
            comment=survey.comment,
            phone=survey.phone,
            survey_id=survey.survey_id,
        )

    def exclude(self, *, now: datetime, actor: str, check_id: str, note: str = "") -> None:
        """A spot check found the rating false (denied): it leaves the report and counts against nobody."""
        self._allow("exclude", now, {"counted"})
        self.state, self.excluded_by_check = "excluded", check_id
        self._record(now=now, actor=actor, action="exclude", from_state="counted", note=note or check_id)
        self.events.append(
            ev.RatingExcluded(
                at=now,
                rating_id=self.rating_id,
                check_id=check_id,
                channel=self.channel,
                level=self.level,
                officer_id=self.officer_id,
                unit_id=self.unit_id,
                week=self.week,
            )
        )

    @property
    def ident(self) -> str:
        return self.rating_id

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Rating:
        return cls(**cls._values(doc))


@dataclass(eq=False)
class Followup(Record):
    all_states: ClassVar[tuple[str, ...]] = FOLLOWUP_STATES

    followup_id: str
    rating_id: str
    channel: str
    officer_id: str | None
    unit_id: str | None
    week: str  # of the rating: where the report counts it
    opened_at: datetime
    due_at: datetime
    state: FollowupState = "open"
    overdue: bool = False
    done_at: datetime | None = None
    done_by: str | None = None
    findings: str = ""  # 调查情况: what was found
    actions: str = ""  # 处理结果: what was done

    _DATETIMES = ("opened_at", "due_at", "done_at")

    @classmethod
    def open(cls, rating: Rating, *, now: datetime, policy: SurveyPolicy = DEFAULT_POLICY) -> Followup:
        """The leadership follow-up of a 不满意, due `policy.followup_within` (3 days) from now."""
        require_aware(now)
        if rating.level != "dissatisfied":
            raise RatingRefused(f"rating {rating.rating_id} is {rating.level}: only 不满意 opens a follow-up")
        followup = cls(
            followup_id=followup_id_for(rating.rating_id),
            rating_id=rating.rating_id,
            channel=rating.channel,
            officer_id=rating.officer_id,
            unit_id=rating.unit_id,
            week=rating.week,
            opened_at=now,
            due_at=now + policy.followup_within,
        )
        followup._record(now=now, actor=SYSTEM_ACTOR, action="open", from_state=None)
        followup.events.append(
            ev.FollowupOpened(
                at=now, followup_id=followup.followup_id, rating_id=rating.rating_id, due_at=followup.due_at
            )
        )
        return followup

    def check_deadline(self, now: datetime) -> list[ev.RatingDomainEvent]:
        """FollowupOverdue once, when still open after `due_at`."""
        require_aware(now)
        if self.state != "open" or now <= self.due_at:
            return []
        self.state, self.overdue = "overdue", True
        self._record(now=now, actor=SYSTEM_ACTOR, action="overdue", from_state="open")
        due = [self._overdue_event(now)]
        self.events.extend(due)
        return due

    def complete(self, *, now: datetime, actor: str, findings: str, actions: str) -> None:
        """Leadership called the citizen back: what was found and what was done, both required."""
        self._allow("complete", now, {"open", "overdue"})
        if not findings.strip() or not actions.strip():
            raise RatingRefused("completing a follow-up needs what was found (findings) and what was done (actions)")
        in_time = now <= self.due_at
        if not in_time and not self.overdue:
            self.overdue = True
            self.events.append(self._overdue_event(now))
        previous = self.state
        self.state, self.done_at, self.done_by, self.findings, self.actions = "done", now, actor, findings, actions
        self._record(now=now, actor=actor, action="complete", from_state=previous, note=findings)
        self.events.append(
            ev.FollowupCompleted(
                at=now,
                followup_id=self.followup_id,
                rating_id=self.rating_id,
                actor=actor,
                in_time=in_time,
                channel=self.channel,
                officer_id=self.officer_id,
                unit_id=self.unit_id,
                week=self.week,
            )
        )

    @property
    def outcome(self) -> Literal["in_time", "overdue"] | None:
        if self.overdue:
            return "overdue"
        return "in_time" if self.state == "done" else None

    @property
    def next_due_at(self) -> datetime | None:
        return self.due_at if self.state == "open" else None

    def _overdue_event(self, now: datetime) -> ev.FollowupOverdue:
        return ev.FollowupOverdue(
            at=now,
            followup_id=self.followup_id,
            rating_id=self.rating_id,
            due_at=self.due_at,
            channel=self.channel,
            officer_id=self.officer_id,
            unit_id=self.unit_id,
            week=self.week,
        )

    @property
    def ident(self) -> str:
        return self.followup_id

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"next_due_at": self.next_due_at}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Followup:
        return cls(**cls._values(doc))


def rating_id_for(survey_id: str) -> str:
    """The one SMS rating of a survey: 'rt-' and the survey id's digits."""
    return "rt-" + survey_id.removeprefix("sv-")


def followup_id_for(rating_id: str) -> str:
    return "fu-" + rating_id
