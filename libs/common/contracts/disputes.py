"""Dispute events (矛盾纠纷调处): the facts mediation publishes about a dispute's life."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from common.contracts import subjects
from common.contracts.alerts import Party
from common.contracts.base import Event, Identifier

Level = Literal["scene", "community", "village", "town", "escalated_out"]
State = Literal["reported", "mediating", "resolved", "escalated", "closed_unresolved", "reopened"]
Source = Literal["alert", "informant", "visit", "desk"]
Referral = Literal["court", "petition", "other"]  # 法院, 信访, another body


class _DisputeFact(Event):
    key: ClassVar[str] = "dispute_id"

    dispute_id: Identifier
    at: AwareDatetime


class DisputeOpened(_DisputeFact):
    """A dispute was reported: from an alert referred to mediation, an informant, a household visit or the desk."""

    subject: ClassVar[str] = subjects.DISPUTES_OPENED

    source: Source
    source_ref: str | None = Field(default=None, description="The alert_id of an alert; else the reporter's own id.")
    category: str
    summary: str = ""
    level: Level = Field(description="The gate it opened at: scene for an alert, community otherwise.")
    state: State = Field(description="The state right after opening: escalated when high risk raised its level.")
    high_risk: bool = Field(description="A threat of violence: an alerts.received (source 'mediation') follows.")
    risk_matches: list[str] = Field(default_factory=list, description="Ids of the risk rules that matched.")
    recurrence_of: str | None = Field(
        default=None, description="The latest earlier dispute of the same people or house within 90 days."
    )
    unit_id: str | None = None
    officer_id: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    parties: list[Party] = Field(default_factory=list)
    first_contact_due_at: datetime = Field(
        description="事不过夜: the end of the reporting day (local), or noon the next day for an evening report."
    )


class DisputeContacted(_DisputeFact):
    subject: ClassVar[str] = subjects.DISPUTES_CONTACTED

    actor: str
    first: bool = Field(description="The first contact: the one 事不过夜 is about.")


class DisputeEscalated(_DisputeFact):
    """Raised to a higher gate; mediation goes on there. to_level 'escalated_out' is 上交, counted and reported."""

    subject: ClassVar[str] = subjects.DISPUTES_ESCALATED

    actor: str
    from_level: Level
    to_level: Level
    reason: str = ""


class DisputeResolved(_DisputeFact):
    """Settled by an agreement signed by every party, the mediator and a witness."""

    subject: ClassVar[str] = subjects.DISPUTES_RESOLVED

    actor: str
    level: Level
    followup_due_at: datetime = Field(description="The follow-up visit is due 7 days after resolution.")


class DisputeClosed(_DisputeFact):
    """Mediation failed: closed unresolved and referred to a court, 信访 or another body."""

    subject: ClassVar[str] = subjects.DISPUTES_CLOSED

    outcome: Literal["closed_unresolved"] = "closed_unresolved"
    actor: str
    level: Level
    referred_to: Referral
    reason: str


class DisputeReopened(_DisputeFact):
    """The agreement did not hold: mediation resumes at the level it was resolved at."""

    subject: ClassVar[str] = subjects.DISPUTES_REOPENED

    actor: str
    level: Level
    reason: str


class DisputeOverdue(_DisputeFact):
    """No first contact by its deadline (事不过夜); published once per dispute."""

    subject: ClassVar[str] = subjects.DISPUTES_OVERDUE

    due_at: datetime
    level: Level
    unit_id: str | None = None
    officer_id: str | None = None


class DisputeFollowupDue(_DisputeFact):
    """The follow-up visit (回访) of a resolved dispute is due; published once per resolution."""

    subject: ClassVar[str] = subjects.DISPUTES_FOLLOWUP_DUE

    due_at: datetime
    unit_id: str | None = None
    officer_id: str | None = None
