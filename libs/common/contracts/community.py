"""Community policing events (社区警务): household visits, hazards and key persons, as community publishes them.

Personal data stays in community's store: a key person's name, ID number and phone are never in an
event (events are kept in the stream for a year); a dispute finding names its parties as mediation's
reports do (name, phone, role), because mediation opens the dispute from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.contracts import subjects
from common.contracts.alerts import Party
from common.contracts.base import Event, Identifier

FindingKind = Literal["dispute", "hazard", "key_person", "note"]
Severity = Literal["minor", "serious", "major"]  # 一般, 较大, 重大
HazardSource = Literal["informant", "visit"]  # 信息员, 走访
RiskLevel = Literal["low", "medium", "high"]
Month = str

_MONTH = Field(pattern=r"^\d{4}-\d{2}$", description="The calendar month it counts in, station zone (2026-11).")


class Finding(BaseModel):
    """What a visit found; `kind` says which fields matter and what follows it."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    kind: FindingKind = Field(description="dispute: mediation opens one (source visit); hazard: community opens "
                                          "one (source visit); key_person: a note on that person; note: kept only.")
    summary: str = Field(max_length=2000)
    category: str = Field(default="other", max_length=30, description="A dispute's category (neighbour, land…).")
    parties: list[Party] = Field(default_factory=list, description="A dispute's parties.")
    hazard_kind: str | None = Field(default=None, max_length=40, description="fire, gas, electric, building…")
    severity: Severity | None = None
    responsible_unit: str | None = Field(default=None, max_length=100, description="Who must fix a hazard (责任单位).")
    person_id: Identifier | None = Field(default=None, description="The key person a note is about.")


class VisitRecorded(Event):
    """An officer's household visit (入户走访): who was met, what was heard (社情民意), what was found."""

    subject: ClassVar[str] = subjects.VISITS_RECORDED
    key: ClassVar[str] = "visit_id"

    visit_id: Identifier
    at: AwareDatetime = Field(description="When it was recorded.")
    visited_at: AwareDatetime
    month: Month = _MONTH
    officer_id: Identifier
    unit_id: Identifier = Field(description="The grid unit whose zone holds the household.")
    household: str = Field(max_length=100)
    address: str = Field(max_length=200)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    met: list[str] = Field(default_factory=list, description="Who was met (names or relations).")
    opinions: str = Field(default="", max_length=4000, description="What was heard (社情民意).")
    findings: list[Finding] = Field(default_factory=list)


class _HazardFact(Event):
    key: ClassVar[str] = "hazard_id"

    hazard_id: Identifier
    at: AwareDatetime


class HazardReported(_HazardFact):
    """A hazard (安全隐患) was reported by an information officer (信息员) or found on a visit."""

    subject: ClassVar[str] = subjects.HAZARDS_REPORTED

    source: HazardSource
    source_ref: str | None = Field(default=None, description="The visit_id of a visit's finding.")
    reported_by: str
    place: str
    lon: float | None = None
    lat: float | None = None
    unit_id: str | None = Field(default=None, description="The grid unit whose zone holds the place, if located.")
    kind: str
    severity: Severity
    responsible_unit: str
    due_at: datetime = Field(description="Rectified by then, or it is overdue (the deadline of its severity).")
    month: Month = _MONTH


class HazardAssigned(_HazardFact):
    """An officer follows the rectification up (督促整改)."""

    subject: ClassVar[str] = subjects.HAZARDS_ASSIGNED

    officer_id: str
    actor: str
    due_at: datetime


class HazardRectified(_HazardFact):
    """The responsible unit reports it fixed; an officer verifies next."""

    subject: ClassVar[str] = subjects.HAZARDS_RECTIFIED

    actor: str
    officer_id: str | None = None
    note: str = ""


class HazardVerified(_HazardFact):
    """An officer checked the rectification on site: the hazard is closed; counted on the officer's sheet."""

    subject: ClassVar[str] = subjects.HAZARDS_VERIFIED

    actor: str
    officer_id: str | None = Field(default=None, description="The officer it was assigned to: the sheet credits them.")
    responsible_unit: str
    severity: Severity
    late: bool = Field(description="Rectified at or after its deadline.")


class HazardRejected(_HazardFact):
    """The rectification did not pass the check: back to the assigned officer."""

    subject: ClassVar[str] = subjects.HAZARDS_REJECTED

    actor: str
    officer_id: str | None = None
    reason: str


class HazardOverdue(_HazardFact):
    """Not rectified by its deadline; once per hazard."""

    subject: ClassVar[str] = subjects.HAZARDS_OVERDUE

    due_at: datetime
    severity: Severity
    responsible_unit: str
    officer_id: str | None = None


class _KeyPersonFact(Event):
    key: ClassVar[str] = "person_id"

    person_id: Identifier
    at: AwareDatetime


class KeyPersonRegistered(_KeyPersonFact):
    """A person entered the key-person register (重点人员); no name, ID number or phone here."""

    subject: ClassVar[str] = subjects.KEYPERSONS_REGISTERED

    category: str
    risk_level: RiskLevel
    officer_id: str
    unit_id: str | None = None
    next_review_due_at: datetime


class KeyPersonReviewed(_KeyPersonFact):
    """The responsible officer reviewed the person (走访/谈话); the next review is due by the cadence."""

    subject: ClassVar[str] = subjects.KEYPERSONS_REVIEWED

    actor: str
    risk_level: RiskLevel
    next_review_due_at: datetime


class KeyPersonNoted(_KeyPersonFact):
    """A note was added (from a visit's finding, or by an officer); its text stays in community."""

    subject: ClassVar[str] = subjects.KEYPERSONS_NOTED

    actor: str
    source: Literal["visit", "officer"]
    source_ref: str | None = None


class KeyPersonReviewOverdue(_KeyPersonFact):
    """A review was not done by its due time; once per due review."""

    subject: ClassVar[str] = subjects.KEYPERSONS_REVIEW_OVERDUE

    due_at: datetime
    risk_level: RiskLevel
    officer_id: str
