"""What happened to a dispute. The aggregate records these in `Dispute.events`; the service maps
each to its public contract in `common.contracts` and publishes it through the outbox.

Levels and states are the plain strings of `mediation.domain.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.domain import DomainEvent


@dataclass(frozen=True)
class DisputeEvent(DomainEvent):
    dispute_id: str
    at: datetime


@dataclass(frozen=True)
class DisputeOpened(DisputeEvent):
    source: str
    source_ref: str | None
    category: str
    level: str
    high_risk: bool
    recurrence_of: str | None
    unit_id: str | None
    officer_id: str | None


@dataclass(frozen=True)
class DisputeHighRisk(DisputeEvent):
    """The report threatens violence: the service raises an alert for dispatch (source 'mediation')."""

    category: str
    summary: str
    address: str | None
    lon: float | None
    lat: float | None
    unit_id: str | None
    officer_id: str | None
    risk_matches: tuple[str, ...]  # rule ids of risk_rules.toml


@dataclass(frozen=True)
class DisputeContacted(DisputeEvent):
    actor: str
    first: bool  # the first contact, the one 事不过夜 is about


@dataclass(frozen=True)
class DisputeEscalated(DisputeEvent):
    actor: str
    from_level: str
    to_level: str  # "escalated_out" is 上交, counted and reported
    reason: str


@dataclass(frozen=True)
class DisputeResolved(DisputeEvent):
    actor: str
    level: str
    followup_due_at: datetime


@dataclass(frozen=True)
class DisputeClosedUnresolved(DisputeEvent):
    actor: str
    level: str
    referred_to: str
    reason: str


@dataclass(frozen=True)
class DisputeReopened(DisputeEvent):
    actor: str
    level: str
    reason: str


@dataclass(frozen=True)
class DisputeOverdue(DisputeEvent):
    """No first contact by its deadline (事不过夜)."""

    due_at: datetime
    level: str
    unit_id: str | None
    officer_id: str | None


@dataclass(frozen=True)
class DisputeFollowupDue(DisputeEvent):
    """The follow-up visit of a resolved dispute is due (7 days after resolution)."""

    due_at: datetime
    unit_id: str | None
    officer_id: str | None
