"""What happened to a callback. The `Callback` aggregate records these in `Callback.events`; the
service maps each to its public contract (`callbacks.scheduled`, `callbacks.overdue`, ...) and
publishes it through the outbox. Rules, states and channels are the plain strings of
`notify.domain.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.domain import DomainEvent


@dataclass(frozen=True)
class CallbackEvent(DomainEvent):
    callback_id: str
    case_id: str
    party_id: str
    at: datetime


@dataclass(frozen=True)
class CallbackScheduled(CallbackEvent):
    rule: str
    due_at: datetime  # exclusive: done in time iff done before it
    send_at: datetime | None  # the first SMS; None when it opened manual or overdue
    officer_id: str | None
    unit_id: str | None


@dataclass(frozen=True)
class CallbackSent(CallbackEvent):
    message_id: str  # the gateway's id, for the delivery receipt
    attempt: int  # 1 for the first send


@dataclass(frozen=True)
class CallbackDelivered(CallbackEvent):
    message_id: str


@dataclass(frozen=True)
class CallbackSendFailed(CallbackEvent):
    """A send refused by the gateway or a failed receipt; `retry_at` None means it went manual."""

    reason: str
    failures: int
    retry_at: datetime | None


@dataclass(frozen=True)
class CallbackManual(CallbackEvent):
    """A manual callback task (人工回访) for the responsible officer, due at the deadline."""

    reason: str
    due_at: datetime
    officer_id: str | None
    unit_id: str | None


@dataclass(frozen=True)
class CallbackCompleted(CallbackEvent):
    rule: str
    channel: str  # phone | visit | sms
    reached: bool
    opinion: str
    completed_by: str
    late: bool  # done at or after due_at
    officer_id: str | None
    unit_id: str | None
    level: str | None = None  # the party's view: satisfied | basically | dissatisfied (the callback's rating)
    objection: bool = False


@dataclass(frozen=True)
class CallbackReprompted(CallbackEvent):
    """The party's answer could not be read: the one re-prompt goes under `message_id`."""

    message_id: str


@dataclass(frozen=True)
class ObjectionEvent(DomainEvent):
    objection_id: str
    callback_id: str
    case_id: str
    officer_id: str | None
    unit_id: str | None
    at: datetime


@dataclass(frozen=True)
class ObjectionOpened(ObjectionEvent):
    party_id: str
    why: str  # dissatisfied | recorded
    comment: str
    due_at: datetime


@dataclass(frozen=True)
class ObjectionExplained(ObjectionEvent):
    explained_by: str
    explained_at: datetime
    how: str
    outcome: str  # accepted | still_objects


@dataclass(frozen=True)
class ObjectionEscalated(ObjectionEvent):
    why: str  # still_objects | deadline_missed
    comment: str


@dataclass(frozen=True)
class CallbackOverdue(CallbackEvent):
    """Not done by its deadline: the service publishes `callbacks.overdue` and opens a task for
    station leadership."""

    rule: str
    due_at: datetime
    officer_id: str | None
    unit_id: str | None


@dataclass(frozen=True)
class CallbackSuperseded(CallbackEvent):
    """The case was solved: this 7-day callback gives way to the 3-day one."""

    superseded_by: str  # the callback_id of the party's solved_3d callback
