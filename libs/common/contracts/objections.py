"""Objections (异议) to a case callback: a party answered 不满意, or the officer recorded one.

notify opens one per callback for the responsible officer, due in 3 days (a setting). The officer
explains (说理式执法) and records the outcome; a party who still objects, or a deadline missed, hands it
to station leadership: `callbacks.objection_escalated`, which rating turns into a follow-up on the
callback's rating (leadership's one list is rating's follow-ups). Its id is `ob-` + the 24 hex
digits of its callback's id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.contracts import subjects
from common.contracts.base import MAX_TEXT, Event, Identifier, Moment

Outcome = Literal["accepted", "still_objects"]
Why = Literal["dissatisfied", "recorded"]
Escalation = Literal["still_objects", "deadline_missed"]


class _ObjectionFact(Event):
    key: ClassVar[str] = "objection_id"

    objection_id: Identifier
    callback_id: Identifier
    case_id: Identifier
    officer_id: Identifier | None = Field(default=None, description="The responsible officer, who explains.")
    unit_id: Identifier | None = None
    at: Moment


class ObjectionOpened(_ObjectionFact):
    """A party objects: the officer explains by `due_at`."""

    subject: ClassVar[str] = subjects.CALLBACKS_OBJECTION_OPENED

    party_id: Identifier
    why: Why = Field(description="dissatisfied: the party's answer was 不满意; recorded: the officer recorded it.")
    comment: str = Field(default="", max_length=MAX_TEXT, description="The party's words.")
    due_at: Moment


class ObjectionExplained(_ObjectionFact):
    """The officer explained (说理): who, when, how, and whether the party accepted it."""

    subject: ClassVar[str] = subjects.CALLBACKS_OBJECTION_EXPLAINED

    explained_by: Identifier
    explained_at: Moment
    how: str = Field(min_length=1, max_length=MAX_TEXT)
    outcome: Outcome


class ObjectionEscalated(_ObjectionFact):
    """Leadership takes the objection over: the party still objects, or no explanation by the deadline."""

    subject: ClassVar[str] = subjects.CALLBACKS_OBJECTION_ESCALATED

    why: Escalation
    comment: str = Field(default="", max_length=MAX_TEXT)
