"""What dispatch's aggregates record as it happens; the service layer maps each to its public contract
(`handlers.public.EVENTS`, read by `common.event_table`). No contract, no subject, no msg id here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from common.domain import DomainEvent

Reason = Literal["zone", "nearest", "overflow", "ordered"]
AssignmentEnd = Literal["acknowledged", "ack_timeout", "unit_unavailable", "closed", "reassigned"]
Disposition = Literal[
    "resolved_on_scene", "help_given_on_scene", "statement_refused", "referred_to_mediation", "converted_to_case",
    "no_action",
]
#: who joins a unit on the scene: the community officer (社区民警), another officer, a village cadre (村干部)
AssistRole = Literal["community_officer", "assisting_officer", "village_cadre"]
UnitStatus = Literal["available", "busy", "off_duty"]


@dataclass(frozen=True)
class AlertAssigned(DomainEvent):
    alert_id: str
    unit_id: str
    reason: Reason
    distance_m: float
    attempt: int  # 1 for the first assignment, 2 after one reassignment…
    at: datetime
    ack_due_at: datetime
    category: str
    priority: int
    lon: float
    lat: float
    address: str | None
    #: the dispatcher's word (reason "ordered"): who ordered it and why, and whether it exceeded the capacity
    ordered_by: str | None = None
    order_reason: str | None = None
    forced: bool = False
    previous_unit_id: str | None = None  # the unit it was taken from, if another held it


@dataclass(frozen=True)
class AlertAssisted(DomainEvent):
    alert_id: str
    unit_id: str | None
    role: AssistRole
    officer_id: str | None
    name: str | None
    by: str
    at: datetime


@dataclass(frozen=True)
class AlertUnassigned(DomainEvent):
    alert_id: str
    attempt: int
    at: datetime
    category: str
    priority: int
    lon: float
    lat: float
    address: str | None
    reason: Reason = "overflow"


@dataclass(frozen=True)
class AlertAcknowledged(DomainEvent):
    alert_id: str
    unit_id: str
    attempt: int
    at: datetime
    seconds_to_ack: float


@dataclass(frozen=True)
class AlertReleased(DomainEvent):
    alert_id: str
    unit_id: str
    end: AssignmentEnd
    attempt: int
    at: datetime


@dataclass(frozen=True)
class AlertClosed(DomainEvent):
    alert_id: str
    unit_id: str
    officer_id: str
    disposition: Disposition
    note: str
    signatures: dict[str, str]
    category: str
    priority: int
    lon: float
    lat: float
    address: str | None
    summary: str
    caller_phone: str | None
    parties: list[dict[str, Any]]
    received_at: datetime
    at: datetime
    refused_to_sign: list[str] = field(default_factory=list)
    assistants: list[dict[str, Any]] = field(default_factory=list)


AlertEvent = AlertAssigned | AlertUnassigned | AlertAcknowledged | AlertReleased | AlertClosed | AlertAssisted


@dataclass(frozen=True)
class UnitStatusChanged(DomainEvent):
    unit_id: str
    status: UnitStatus
    at: datetime


@dataclass(frozen=True)
class GridReplaced(DomainEvent):
    units: int
    at: datetime
