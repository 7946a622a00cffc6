"""The hazard (安全隐患) from report to verified rectification, with a deadline per severity.

| command   | allowed in state     | new state  |
|-----------|----------------------|------------|
| report    | —                    | reported   |
| assign    | reported, assigned   | assigned   |
| rectify   | assigned             | rectified  |
| verify ok | rectified            | verified   |
| verify no | rectified            | assigned   |

The deadline is `reported_at + deadline(severity)`; a hazard not rectified by then is overdue:
`check_deadlines(now)` flags it once (`HazardOverdue`). A rectification after the deadline is
`late` on its verification. Every refusal names the hazard, its state and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc, require_aware
from community.domain import events as ev

SEVERITIES = ("minor", "serious", "major")  # 一般, 较大, 重大
SOURCES = ("informant", "visit")
STATES = ("reported", "assigned", "rectified", "verified")
#: days to rectify, by severity (a station's own through settings)
DEFAULT_DEADLINE_DAYS: Mapping[str, float] = {"major": 3, "serious": 7, "minor": 15}
SYSTEM_ACTOR = "system"


class HazardRefused(Refusal):
    """A command the hazard does not accept in its present state (HTTP 409)."""


def deadline_for(severity: str, reported_at: datetime, days: Mapping[str, float] = DEFAULT_DEADLINE_DAYS) -> datetime:
    if severity not in SEVERITIES:
        raise HazardRefused(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    return reported_at + timedelta(days=days.get(severity, DEFAULT_DEADLINE_DAYS[severity]))


@dataclass(eq=False)
class Hazard(Aggregate):
    refusal: ClassVar[type[Refusal]] = HazardRefused
    all_states: ClassVar[tuple[str, ...]] = STATES

    hazard_id: str
    source: str
    source_ref: str | None
    reported_by: str
    reported_at: datetime
    place: str
    lon: float | None
    lat: float | None
    unit_id: str | None  # the grid unit whose zone holds the place
    hazard_kind: str  # fire, gas, electric, building…
    severity: str
    responsible_unit: str  # 责任单位: who must fix it
    due_at: datetime
    state: str = "reported"
    officer_id: str | None = None
    rectified_at: datetime | None = None
    verified_at: datetime | None = None
    overdue: bool = False

    @property
    def ident(self) -> str:
        return self.hazard_id

    @classmethod
    def report(
        cls, *, hazard_id: str, source: str, reported_by: str, reported_at: datetime, place: str, hazard_kind: str,
        severity: str, responsible_unit: str, source_ref: str | None = None, lon: float | None = None,
        lat: float | None = None, unit_id: str | None = None,
        deadline_days: Mapping[str, float] = DEFAULT_DEADLINE_DAYS,
    ) -> Hazard:
        require_aware(reported_at)
        if source not in SOURCES:
            raise HazardRefused(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        due = deadline_for(severity, reported_at, deadline_days)
        hazard = cls(hazard_id, source, source_ref, reported_by, reported_at, place, lon, lat, unit_id, hazard_kind,
                     severity, responsible_unit, due)
        hazard._record(now=reported_at, actor=reported_by, action="report", from_state=None,
                       note=f"source: {source}")
        hazard.events.append(ev.HazardReported(hazard_id, reported_at))
        return hazard

    def assign(self, *, now: datetime, actor: str, officer_id: str) -> None:
        self._allow("assign", now, ("reported", "assigned"))
        previous, self.state, self.officer_id = self.state, "assigned", officer_id
        self._record(now=now, actor=actor, action="assign", from_state=previous, note=officer_id)
        self.events.append(ev.HazardAssigned(self.hazard_id, now, officer_id, actor, self.due_at))

    def rectify(self, *, now: datetime, actor: str, note: str = "") -> None:
        self._allow("rectify", now, ("assigned",))
        self.state, self.rectified_at = "rectified", now
        self._record(now=now, actor=actor, action="rectify", from_state="assigned", note=note)
        self.events.append(ev.HazardRectified(self.hazard_id, now, actor, self.officer_id, note))

    def verify(self, *, now: datetime, actor: str, passed: bool, reason: str = "") -> None:
        """An officer's check on site: passed closes the hazard; failed sends it back to the assigned officer."""
        self._allow("verify", now, ("rectified",))
        if passed:
            self.state, self.verified_at = "verified", now
            self._record(now=now, actor=actor, action="verify", from_state="rectified", note=reason)
            late = self.rectified_at is not None and self.rectified_at >= self.due_at
            self.events.append(ev.HazardVerified(self.hazard_id, now, actor, self.officer_id, self.responsible_unit,
                                                 self.severity, late))
            return
        if not reason.strip():
            raise HazardRefused("a failed check needs the reason")
        self.state, self.rectified_at = "assigned", None
        self._record(now=now, actor=actor, action="reject", from_state="rectified", note=reason)
        self.events.append(ev.HazardRejected(self.hazard_id, now, actor, self.officer_id, reason))

    def check_deadlines(self, now: datetime) -> list[ev.HazardEvent]:
        require_aware(now)
        if self.next_due_at is None or now < self.next_due_at:
            return []
        self.overdue = True
        self._record(now=now, actor=SYSTEM_ACTOR, action="overdue", from_state=self.state,
                     note="not rectified by the deadline")
        event = ev.HazardOverdue(self.hazard_id, now, self.due_at, self.severity, self.responsible_unit,
                                 self.officer_id)
        self.events.append(event)
        return [event]

    @property
    def next_due_at(self) -> datetime | None:
        """The deadline a sweep has yet to fire: while not rectified and not flagged."""
        return self.due_at if self.state in ("reported", "assigned") and not self.overdue else None

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        doc["history"] = [asdict(entry) for entry in self.history]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Hazard:
        values = {f.name: doc[f.name] for f in fields(cls) if f.name != "events"}
        for name in ("reported_at", "due_at", "rectified_at", "verified_at"):
            values[name] = as_utc(values[name])
        values["history"] = [HistoryEntry(**{**h, "at": as_utc(h["at"])}) for h in doc["history"]]
        return cls(**values)
