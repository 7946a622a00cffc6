"""Rating: any system asks for a citizen's SMS survey (短信评警); what rating makes of the answers."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.contracts import subjects
from common.contracts.base import WEEK_PATTERN, Event, Identifier, Moment, Phone


class RatingRequested(Event):
    subject: ClassVar[str] = subjects.RATINGS_REQUESTED
    key: ClassVar[str] = "request_id"

    request_id: Identifier
    subject_type: Literal["alert", "service", "callback"]
    subject_id: Identifier
    officer_id: Identifier
    unit_id: Identifier | None = None
    phone: Phone
    requested_at: Moment


#: an officer's or unit's id as other systems send it (`RatingRequested.officer_id` is free text)
StaffRef = Identifier
Level = Literal["satisfied", "basically", "dissatisfied"]
Channel = Literal["sms", "phone", "on_site"]
SubjectType = Literal["alert", "service", "callback"]


class _Attributed(Event):
    """Who a rating fact counts for, and when it happened."""

    officer_id: StaffRef | None = None
    unit_id: StaffRef | None = None
    at: Moment


class _Rated(_Attributed):
    """What was rated."""

    subject_type: SubjectType
    subject_id: Identifier


class RatingSurveySent(_Rated):
    """Rating asked notify (`sms.send`, msg id = `sms_id`) to send a citizen the survey SMS."""

    subject: ClassVar[str] = subjects.RATINGS_SURVEY_SENT
    key: ClassVar[str] = "survey_id"

    survey_id: Identifier
    sms_id: Identifier
    code: str = Field(max_length=8, description="The short code a reply may carry to name this survey.")
    expires_at: Moment = Field(description="Unanswered by then (72 h after sending), the survey expires.")
    week: str = Field(pattern=WEEK_PATTERN, description="ISO week of sending, station zone.")


class RatingReceived(_Rated):
    """A rating by any channel: an SMS reply (短信评警), a phone call (电话评警) or on site (现场评警)."""

    subject: ClassVar[str] = subjects.RATINGS_RECEIVED
    key: ClassVar[str] = "rating_id"

    rating_id: Identifier
    channel: Channel
    level: Level
    comment: str = Field(default="", max_length=500)
    week: str = Field(pattern=WEEK_PATTERN, description="ISO week of the rating, station zone.")
    survey_id: Identifier | None = Field(default=None, description="The survey an SMS rating answers.")
    entered_by: StaffRef | None = Field(default=None, description="Who entered a phone or on-site rating.")


class RatingDissatisfied(_Rated):
    """A 不满意: station leadership follows it up by `followup_due_at` (派出所领导及时回访调查)."""

    subject: ClassVar[str] = subjects.RATINGS_DISSATISFIED
    key: ClassVar[str] = "rating_id"

    rating_id: Identifier
    channel: Channel
    comment: str = Field(default="", max_length=500)
    followup_id: Identifier
    followup_due_at: Moment


class RatingFollowupOverdue(_Attributed):
    """A dissatisfied citizen's follow-up was not done by its deadline; published once."""

    subject: ClassVar[str] = subjects.RATINGS_FOLLOWUP_OVERDUE
    key: ClassVar[str] = "followup_id"

    followup_id: Identifier
    rating_id: Identifier
    channel: Channel
    week: str = Field(pattern=WEEK_PATTERN, description="ISO week of the rating, where the report counts it.")
    due_at: Moment
