"""Callback events (案件回访): the facts notify publishes about each party's callback of a case.

A callback's id is `cb-` + 24 hex digits, derived from (case_id, party_id, rule), so the same case
event delivered twice names the same callback. Times are UTC instants; `due_at` is exclusive (the
local midnight that ends the last day: done in time iff done before it).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.contracts import subjects
from common.contracts.base import MAX_TEXT, Event, Identifier, Moment, Phone

Rule = Literal["unsolved_7d", "solved_3d"]
Channel = Literal["phone", "visit", "sms"]
Level = Literal["satisfied", "basically", "dissatisfied"]


class _CallbackFact(Event):
    key: ClassVar[str] = "callback_id"

    callback_id: Identifier
    case_id: Identifier
    party_id: Identifier
    at: Moment


class _Responsible(_CallbackFact):
    officer_id: Identifier | None = Field(default=None, description="The responsible officer (承办民警), when known.")
    unit_id: Identifier | None = None


class CallbackScheduled(_Responsible):
    """A party's callback was scheduled: 7 days from acceptance, or 3 days from solving."""

    subject: ClassVar[str] = subjects.CALLBACKS_SCHEDULED

    rule: Rule
    due_at: Moment = Field(description="Exclusive: the end (local midnight) of the last day.")
    send_at: Moment | None = Field(default=None, description="The first SMS; null when it opened manual or overdue.")


class CallbackSent(_CallbackFact):
    """The callback SMS was handed to notify's gateway (an `sms.send` with `sms_id` = `message_id`)."""

    subject: ClassVar[str] = subjects.CALLBACKS_SENT

    message_id: Identifier = Field(description="The sms_id: `<callback_id>.<attempt>`; receipts name it.")
    attempt: int = Field(ge=1)


class CallbackDelivered(_CallbackFact):
    """The operator reported the callback SMS delivered to the party's phone."""

    subject: ClassVar[str] = subjects.CALLBACKS_DELIVERED

    message_id: Identifier


class CallbackManual(_Responsible):
    """A manual callback task (人工回访) for the responsible officer, due at the deadline: no phone,
    opted out, not deliverable, or the SMS had no answer by the cutoff."""

    subject: ClassVar[str] = subjects.CALLBACKS_MANUAL

    reason: str = Field(max_length=1000)
    due_at: Moment


class CallbackCompleted(_Responsible):
    """An officer recorded the callback made: channel, reached or not, the party's opinion."""

    subject: ClassVar[str] = subjects.CALLBACKS_COMPLETED

    rule: Rule
    channel: Channel
    reached: bool
    opinion: str = Field(default="", max_length=MAX_TEXT)
    completed_by: str = Field(max_length=64)
    late: bool = Field(description="Done at or after the deadline.")
    phone: Phone | None = Field(default=None, description="The party's phone: rating asks how the callback went "
                                                          "when the callback has no level.")
    level: Level | None = Field(
        default=None, description="The party's view: the answer to the callback SMS (channel sms) or what the "
                                  "officer recorded (phone, visit). It is the rating of this callback: rating records "
                                  "it and asks nothing more.")
    objection: bool = Field(default=False, description="The party objects (异议): an explanation task is open.")


class CallbackOverdue(_Responsible):
    """Not done by its deadline: a task for station leadership; once per callback."""

    subject: ClassVar[str] = subjects.CALLBACKS_OVERDUE

    rule: Rule
    due_at: Moment


class CallbackSuperseded(_CallbackFact):
    """The case was solved: this open 7-day callback gives way to the party's 3-day one."""

    subject: ClassVar[str] = subjects.CALLBACKS_SUPERSEDED

    superseded_by: Identifier
