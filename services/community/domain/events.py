"""What happened in community policing. Aggregates record these in `.events`; the service maps each
to its public contract in `common.contracts.community` and publishes it through the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.domain import DomainEvent


@dataclass(frozen=True)
class VisitRecorded(DomainEvent):
    visit_id: str
    at: datetime


@dataclass(frozen=True)
class HazardEvent(DomainEvent):
    hazard_id: str
    at: datetime


@dataclass(frozen=True)
class HazardReported(HazardEvent):
    pass


@dataclass(frozen=True)
class HazardAssigned(HazardEvent):
    officer_id: str
    actor: str
    due_at: datetime


@dataclass(frozen=True)
class HazardRectified(HazardEvent):
    actor: str
    officer_id: str | None
    note: str


@dataclass(frozen=True)
class HazardVerified(HazardEvent):
    actor: str
    officer_id: str | None
    responsible_unit: str
    severity: str
    late: bool


@dataclass(frozen=True)
class HazardRejected(HazardEvent):
    actor: str
    officer_id: str | None
    reason: str


@dataclass(frozen=True)
class HazardOverdue(HazardEvent):
    due_at: datetime
    severity: str
    responsible_unit: str
    officer_id: str | None


@dataclass(frozen=True)
class KeyPersonEvent(DomainEvent):
    person_id: str
    at: datetime


@dataclass(frozen=True)
class KeyPersonRegistered(KeyPersonEvent):
    category: str
    risk_level: str
    officer_id: str
    unit_id: str | None
    next_review_due_at: datetime


@dataclass(frozen=True)
class KeyPersonReviewed(KeyPersonEvent):
    actor: str
    risk_level: str
    next_review_due_at: datetime


@dataclass(frozen=True)
class KeyPersonNoted(KeyPersonEvent):
    actor: str
    source: str
    source_ref: str | None


@dataclass(frozen=True)
class KeyPersonReviewOverdue(KeyPersonEvent):
    due_at: datetime
    risk_level: str
    officer_id: str
