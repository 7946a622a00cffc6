"""Alert events: `alerts.received` from the 110 desk, and what dispatch makes of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.contracts import subjects
from common.contracts.base import Event, Identifier, Phone

Category = Literal["dispute", "theft", "fraud", "violence", "traffic", "assistance", "noise", "other"]
Reason = Literal["zone", "nearest", "overflow", "ordered"]
Disposition = Literal[
    "resolved_on_scene", "help_given_on_scene", "statement_refused", "referred_to_mediation", "converted_to_case",
    "no_action",
]
#: who joins a unit on the scene: the community officer (社区民警), another officer, a village cadre (村干部)
AssistRole = Literal["community_officer", "assisting_officer", "village_cadre"]


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    address: str | None = Field(default=None, max_length=200)


class Party(BaseModel):
    """A person involved: a caller, a side of a dispute or of a case."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    party_id: Identifier
    name: str = Field(default="", max_length=60)
    phone: Phone | None = None
    role: str = Field(default="party", max_length=30)
    id_number: str | None = Field(default=None, max_length=30, description="Resident ID number, when known.")


class AlertReceived(Event):
    subject: ClassVar[str] = subjects.ALERTS_RECEIVED
    key: ClassVar[str] = "alert_id"

    alert_id: Identifier
    received_at: AwareDatetime
    category: Category
    priority: int = Field(default=2, ge=1, le=3, description="1 is the most urgent.")
    location: Location
    caller_phone: Phone | None = None
    summary: str = Field(default="", max_length=2000)
    source: str = Field(default="110", max_length=30)
    parties: list[Party] = Field(default_factory=list, description="Optional: people named by the caller.")


class _AlertFact(Event):
    key: ClassVar[str] = "alert_id"

    alert_id: Identifier
    at: AwareDatetime


class AlertAssigned(_AlertFact):
    """A grid unit holds the alert and must acknowledge it by `ack_due_at`."""

    subject: ClassVar[str] = subjects.ALERTS_ASSIGNED

    unit_id: str
    reason: Literal["zone", "nearest", "ordered"] = Field(
        description="ordered: the duty desk named the unit (the dispatcher's word, 根据派警员的指令)")
    distance_m: float
    attempt: int = Field(ge=1, description="1 for the first assignment, 2 after one reassignment, …")
    ack_due_at: datetime
    officers: list[str]
    category: Category
    priority: int
    location: Location
    ordered_by: str | None = Field(default=None, description="With reason ordered: who ordered it.")
    order_reason: str | None = Field(default=None, description="With reason ordered: why.")
    forced: bool = Field(default=False, description="The order gave the unit one alert beyond its capacity.")
    previous_unit_id: str | None = Field(default=None, description="With reason ordered: the unit it was taken from.")


class Assistant(BaseModel):
    """Someone who joined the holding unit on the scene."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: AssistRole
    officer_id: str | None = None
    name: str | None = Field(default=None, max_length=60)
    by: str = Field(description="Who recorded it.")
    at: AwareDatetime


class AlertAssisted(_AlertFact):
    """Someone joined the unit on the scene (社区民警、村干部介入处警现场)."""

    subject: ClassVar[str] = subjects.ALERTS_ASSISTED

    unit_id: str | None = Field(description="The holding unit then; None while the duty desk holds it.")
    role: AssistRole
    officer_id: str | None = None
    name: str | None = Field(default=None, max_length=60)
    by: str


class AlertUnassigned(_AlertFact):
    """No unit could take the alert within the radius: the station duty desk holds it, flagged."""

    subject: ClassVar[str] = subjects.ALERTS_UNASSIGNED

    reason: Literal["overflow"] = "overflow"
    category: Category
    priority: int
    location: Location


class AlertReleased(_AlertFact):
    """A unit lost the alert (no acknowledgement in time, or it went off duty); a reassignment follows."""

    subject: ClassVar[str] = subjects.ALERTS_RELEASED

    unit_id: str
    why: Literal["ack_timeout", "unit_unavailable"]


class AlertAcknowledged(_AlertFact):
    subject: ClassVar[str] = subjects.ALERTS_ACKNOWLEDGED

    unit_id: str
    seconds_to_ack: float
    officers: list[str] = Field(default_factory=list, description="The unit's officers (their sheets count it).")


class AlertClosed(_AlertFact):
    """Everything mediation and rating need to act on a closed alert."""

    subject: ClassVar[str] = subjects.ALERTS_CLOSED

    unit_id: str
    officer_id: str
    officers: list[str]
    disposition: Disposition
    note: str = ""
    signatures: dict[str, str] = Field(default_factory=dict)
    category: Category
    priority: int
    location: Location
    summary: str = ""
    caller_phone: Phone | None = None
    parties: list[Party] = Field(default_factory=list)
    received_at: AwareDatetime
    refused_to_sign: list[str] = Field(
        default_factory=list, description="On the on-scene form: who refused to sign, the refusal witnessed.")
    assistants: list[Assistant] = Field(default_factory=list, description="Who joined the unit on the scene.")


class GridReplaced(Event):
    subject: ClassVar[str] = subjects.GRID_REPLACED
    key: ClassVar[str] = "grid_version"

    grid_version: int
    units: int
    at: AwareDatetime
    grid: dict[str, Any] | None = Field(
        default=None, description="The grid as accepted (the GeoJSON FeatureCollection of PUT /v1/grid): services "
        "that need zones and officers (community) keep their own copy from it.")


class UnitStatusChanged(Event):
    subject: ClassVar[str] = subjects.UNITS_STATUS_CHANGED
    key: ClassVar[str] = "unit_id"

    unit_id: str
    status: Literal["available", "busy", "off_duty"]
    at: AwareDatetime
