"""The household visit (入户走访): an officer's record of a household in a grid unit's zone.

A visit is a record, not a process: it is recorded once and never changes. Its findings lead
elsewhere by its event (`visits.recorded`): a dispute finding opens a dispute in mediation (source
`visit`), a hazard finding a hazard here, a key-person finding a note on that person.

Refused: a visit in the future (beyond `CLOCK_SKEW`) or older than `RECORD_WITHIN` (the sheet of a
closed month does not move), a household outside every grid unit's zone (or in another unit's than
the one named), a dispute finding without parties, a hazard finding without kind, severity or responsible
unit, a key-person finding without the person's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc, require_aware
from community.domain import events as ev
from community.domain.grid import Grid

FINDING_KINDS = ("dispute", "hazard", "key_person", "note")
#: a visit is recorded within this long of making it
RECORD_WITHIN = timedelta(days=7)
#: a device's clock may run this far ahead of the station's
CLOCK_SKEW = timedelta(minutes=5)


class VisitRefused(Refusal):
    """A visit the rules do not accept (HTTP 409, or 422 naming the field where one is at fault)."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class Party:
    party_id: str
    name: str = ""
    phone: str | None = None
    role: str = "party"


@dataclass(frozen=True)
class Finding:
    kind: str
    summary: str
    category: str = "other"
    parties: tuple[Party, ...] = ()
    hazard_kind: str | None = None
    severity: str | None = None
    responsible_unit: str | None = None
    person_id: str | None = None

    def check(self, where: str) -> None:
        if self.kind not in FINDING_KINDS:
            raise VisitRefused(f"unknown finding kind {self.kind!r}", f"{where}.kind")
        if not self.summary.strip():
            raise VisitRefused("a finding needs a summary", f"{where}.summary")
        if self.kind == "dispute" and not self.parties:
            raise VisitRefused("a dispute finding names its parties", f"{where}.parties")
        if self.kind == "hazard":
            for name in ("hazard_kind", "severity", "responsible_unit"):
                if not getattr(self, name):
                    raise VisitRefused(f"a hazard finding needs {name}", f"{where}.{name}")
        if self.kind == "key_person" and not self.person_id:
            raise VisitRefused("a key-person finding names the person", f"{where}.person_id")


@dataclass(eq=False)
class Visit(Aggregate):
    refusal: ClassVar[type[Refusal]] = VisitRefused
    all_states: ClassVar[tuple[str, ...]] = ("recorded",)

    visit_id: str
    officer_id: str
    unit_id: str
    visited_at: datetime
    recorded_at: datetime
    household: str
    address: str
    lon: float
    lat: float
    met: list[str] = field(default_factory=list)
    opinions: str = ""  # 社情民意
    findings: list[Finding] = field(default_factory=list)
    state: str = "recorded"  # a record: it does not change

    @property
    def ident(self) -> str:
        return self.visit_id

    @classmethod
    def record(
        cls, *, visit_id: str, officer_id: str, visited_at: datetime, now: datetime, household: str, address: str,
        lon: float, lat: float, grid: Grid | None, met: Iterable[str] = (), opinions: str = "",
        findings: Iterable[Finding] = (), unit_id: str | None = None,
    ) -> Visit:
        require_aware(visited_at, now)
        if visited_at > now + CLOCK_SKEW:
            raise VisitRefused("a visit cannot be in the future", "visited_at")
        if visited_at < now - RECORD_WITHIN:
            raise VisitRefused(f"a visit is recorded within {RECORD_WITHIN.days} days of making it", "visited_at")
        if grid is None:
            raise VisitRefused("the grid is not known yet: community has not received grid.replaced")
        unit = grid.unit_at(lon, lat)
        if unit is None:
            raise VisitRefused("the household is outside every grid unit's zone", "lon")
        if unit_id is not None and unit_id != unit.unit_id:
            raise VisitRefused(f"the household is in the zone of {unit.unit_id}, not {unit_id}", "unit_id")
        findings = list(findings)
        for i, finding in enumerate(findings):
            finding.check(f"findings.{i}")
        visit = cls(visit_id, officer_id, unit.unit_id, visited_at, now, household, address, lon, lat,
                    list(met), opinions, findings)
        visit._record(now=now, actor=officer_id, action="record", from_state=None)
        visit.events.append(ev.VisitRecorded(visit_id, now))
        return visit

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        doc["findings"] = [asdict(f) for f in self.findings]
        doc["history"] = [asdict(h) for h in self.history]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Visit:
        values = {f.name: doc[f.name] for f in fields(cls) if f.name != "events"}
        values["visited_at"], values["recorded_at"] = as_utc(doc["visited_at"]), as_utc(doc["recorded_at"])
        values["met"] = list(doc["met"])
        values["history"] = [HistoryEntry(**{**h, "at": as_utc(h["at"])}) for h in doc["history"]]
        values["findings"] = [Finding(**{**f, "parties": tuple(Party(**p) for p in f["parties"])})
                              for f in doc["findings"]]
        return cls(**values)

