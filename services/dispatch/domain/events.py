"""What dispatch's aggregates record as it happens; the service layer maps each to its public contract
(`handlers.PUBLIC`), in one place. Plain dataclasses: no contract, no subject, no msg id here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Reason = Literal["zone", "nearest", "overflow"]
AssignmentEnd = Literal["acknowledged", "ack_timeout", "unit_unavailable", "closed", "reassigned"]
Disposition = Literal["resolved_on_scene", "referred_to_mediation", "converted_to_case", "no_action"]
UnitStatus = Literal["available", "busy", "off_duty"]


@dataclass(frozen=True)
class AlertAssigned:
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


@dataclass(frozen=True)
class AlertUnassigned:
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
class AlertAcknowledged:
    alert_id: str
    unit_id: str
    attempt: int
    at: datetime
    seconds_to_ack: float


@dataclass(frozen=True)
class AlertReleased:
    alert_id: str
    unit_id: str
    end: AssignmentEnd
    attempt: int
    at: datetime


@dataclass(frozen=True)
class AlertClosed:
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


AlertEvent = AlertAssigned | AlertUnassigned | AlertAcknowledged | AlertReleased | AlertClosed


@dataclass(frozen=True)
class UnitStatusChanged:
    unit_id: str
    status: UnitStatus
    at: datetime


@dataclass(frozen=True)
class GridReplaced:
    units: int
    at: datetime
