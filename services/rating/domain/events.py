"""What happened to a survey, a rating, a follow-up or a spot check. The records append these to
their `events`; the service maps each to its public contract (`ratings.survey_sent`,
`ratings.received`, `ratings.dissatisfied`, `ratings.followup_overdue`) and publishes it through
the outbox, and feeds them to `report.increments` to keep the weekly roll-ups current.

Events that move a roll-up carry its cell: `week` (ISO week in the station zone), `channel`,
`officer_id`, `unit_id`. Levels and channels are the plain strings of `rating.domain.levels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.domain import DomainEvent


@dataclass(frozen=True)
class RatingDomainEvent(DomainEvent):
    at: datetime


@dataclass(frozen=True)
class SurveyScheduled(RatingDomainEvent):
    survey_id: str
    send_at: datetime


@dataclass(frozen=True)
class SurveySuppressed(RatingDomainEvent):
    survey_id: str
    reason: str  # opted_out, stale, cooldown


@dataclass(frozen=True)
class SurveySent(RatingDomainEvent):
    """The service asks notify to send `Survey.text`; counts as surveyed in the week it went out."""

    survey_id: str
    subject_type: str
    subject_id: str
    officer_id: str | None
    unit_id: str | None
    expires_at: datetime
    week: str
    channel: str = "sms"


@dataclass(frozen=True)
class SurveyFailed(RatingDomainEvent):
    """The gateway could not deliver the survey SMS for good: it no longer counts as surveyed."""

    survey_id: str
    officer_id: str | None
    unit_id: str | None
    week: str  # of sending
    detail: str = ""
    channel: str = "sms"


@dataclass(frozen=True)
class SurveyReprompted(RatingDomainEvent):
    """The first unreadable reply: the service sends `reprompt_text` once."""

    survey_id: str


@dataclass(frozen=True)
class SurveyAnswered(RatingDomainEvent):
    """The first valid reply; counts as answered in the week the survey was sent."""

    survey_id: str
    level: str
    officer_id: str | None
    unit_id: str | None
    week: str  # of sending
    channel: str = "sms"


@dataclass(frozen=True)
class SurveyReplyKept(RatingDomainEvent):
    """A reply kept as a comment only: after the first valid one, or a second unreadable one."""

    survey_id: str
    reason: str


@dataclass(frozen=True)
class SurveyExpired(RatingDomainEvent):
    survey_id: str


@dataclass(frozen=True)
class SurveyOptedOut(RatingDomainEvent):
    survey_id: str


@dataclass(frozen=True)
class RatingRecorded(RatingDomainEvent):
    """A rating by any channel (public: ratings.received)."""

    rating_id: str
    channel: str
    level: str
    subject_type: str
    subject_id: str
    officer_id: str | None
    unit_id: str | None
    week: str
    survey_id: str | None
    entered_by: str | None


@dataclass(frozen=True)
class RatingDissatisfied(RatingDomainEvent):
    """A 不满意 (public: ratings.dissatisfied); the service opens a `Followup`."""

    rating_id: str
    channel: str
    subject_type: str
    subject_id: str
    officer_id: str | None
    unit_id: str | None
    comment: str


@dataclass(frozen=True)
class RatingExcluded(RatingDomainEvent):
    """A spot check found the rating false: it leaves the report."""

    rating_id: str
    check_id: str
    channel: str
    level: str
    officer_id: str | None
    unit_id: str | None
    week: str


@dataclass(frozen=True)
class FollowupOpened(RatingDomainEvent):
    followup_id: str
    rating_id: str
    due_at: datetime


@dataclass(frozen=True)
class FollowupOverdue(RatingDomainEvent):
    """Not done by its deadline (public: ratings.followup_overdue); recorded once."""

    followup_id: str
    rating_id: str
    due_at: datetime
    channel: str
    officer_id: str | None
    unit_id: str | None
    week: str  # of the rating


@dataclass(frozen=True)
class FollowupCompleted(RatingDomainEvent):
    followup_id: str
    rating_id: str
    actor: str
    in_time: bool
    channel: str
    officer_id: str | None
    unit_id: str | None
    week: str  # of the rating


@dataclass(frozen=True)
class SpotCheckRecorded(RatingDomainEvent):
    """Staff called the citizen back; on `denied` the service excludes the rating."""

    check_id: str
    rating_id: str
    outcome: str
    actor: str
