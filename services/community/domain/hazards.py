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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from common.domain import HistoryEntry, Refusal, as_utc, require_aware
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
class Hazard:
    hazard_id: str
    source: str
    source_ref: str | None
    reported_by: str
    reported_at: datetime
    place: str
    lon: float | None
    lat: float | None
    unit_id: str | None  # the grid unit whose zone holds the place
    kind: str
    severity: str
    responsible_unit: str  # 责任单位: who must fix it
    due_at: datetime
    state: str = "reported"
    officer_id: str | None = None
    rectified_at: datetime | None = None
    verified_at: datetime | None = None
    overdue: bool = False
    history: list[HistoryEntry] = field(default_factory=list)
    version: int = 0
    events: list[ev.HazardEvent] = field(default_factory=list, repr=False)

    @classmethod
    def report(
        cls, *, hazard_id: str, source: str, reported_by: str, reported_at: datetime, place: str, kind: str,
        severity: str, responsible_unit: str, source_ref: str | None = None, lon: float | None = None,
        lat: float | None = None, unit_id: str | None = None, deadline_days: Mapping[str, float] = DEFAULT_DEADLINE_DAYS,
    ) -> Hazard:
        require_aware(reported_at)
        if source not in SOURCES:
            raise HazardRefused(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        due = deadline_for(severity, reported_at, deadline_days)
        hazard = cls(hazard_id, source, source_ref, reported_by, reported_at, place, lon, lat, unit_id, kind,
                     severity, responsible_unit, due)
        hazard._record(reported_at, reported_by, "report", None, f"source: {source}")
        hazard.events.append(ev.HazardReported(hazard_id, reported_at))
        return hazard

    def assign(self, *, now: datetime, actor: str, officer_id: str) -> None:
        self._allow("assign", now, ("reported", "assigned"))
        previous, self.state, self.officer_id = self.state, "assigned", officer_id
        self._record(now, actor, "assign", previous, officer_id)
        self.events.append(ev.HazardAssigned(self.hazard_id, now, officer_id, actor, self.due_at))

    def rectify(self, *, now: datetime, actor: str, note: str = "") -> None:
        self._allow("rectify", now, ("assigned",))
        self.state, self.rectified_at = "rectified", now
        self._record(now, actor, "rectify", "assigned", note)
        self.events.append(ev.HazardRectified(self.hazard_id, now, actor, self.officer_id, note))

    def verify(self, *, now: datetime, actor: str, passed: bool, reason: str = "") -> None:
        """An officer's check on site: passed closes the hazard; failed sends it back to the assigned officer."""
        self._allow("verify", now, ("rectified",))
        if passed:
            self.state, self.verified_at = "verified", now
            self._record(now, actor, "verify", "rectified", reason)
            late = self.rectified_at is not None and self.rectified_at >= self.due_at
            self.events.append(ev.HazardVerified(self.hazard_id, now, actor, self.officer_id, self.responsible_unit,
                                                 self.severity, late))
            return
        if not reason.strip():
            raise HazardRefused("a failed check needs the reason")
        self.state, self.rectified_at = "assigned", None
        self._record(now, actor, "reject", "rectified", reason)
        self.events.append(ev.HazardRejected(self.hazard_id, now, actor, self.officer_id, reason))

    def check_deadlines(self, now: datetime) -> list[ev.HazardEvent]:
        require_aware(now)
        if self.next_due_at is None or now < self.next_due_at:
            return []
        self.overdue = True
        self._record(now, SYSTEM_ACTOR, "overdue", self.state, "not rectified by the deadline")
        event = ev.HazardOverdue(self.hazard_id, now, self.due_at, self.severity, self.responsible_unit,
                                 self.officer_id)
        self.events.append(event)
        return [event]

    @property
    def next_due_at(self) -> datetime | None:
        """The deadline a sweep has yet to fire: while not rectified and not flagged."""
        return self.due_at if self.state in ("reported", "assigned") and not self.overdue else None

    def to_dict(self) -> dict[str, Any]:
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "events"}
        doc["history"] = [asdict(entry) for entry in self.history]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Hazard:
        values = {name: doc[name] for name in cls.__dataclass_fields__ if name != "events"}
        for name in ("reported_at", "due_at", "rectified_at", "verified_at"):
            values[name] = as_utc(values[name])
        values["history"] = [HistoryEntry(**{**h, "at": as_utc(h["at"])}) for h in doc["history"]]
        return cls(**values)

    def _allow(self, command: str, now: datetime, states: tuple[str, ...]) -> None:
        require_aware(now)
        if self.state not in states:
            raise HazardRefused(
                f"cannot {command} hazard {self.hazard_id}: it is {self.state} (allowed when {', '.join(states)})")

    def _record(self, now: datetime, actor: str, action: str, from_state: str | None, note: str = "") -> None:
        self.history.append(HistoryEntry(now, actor, action, from_state, self.state, note))
