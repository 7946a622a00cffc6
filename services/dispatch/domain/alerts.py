"""The Alert aggregate: from the 110 desk to a grid unit, acknowledged, closed (接处警)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from common.domain import Refusal, as_utc
from dispatch.domain.assignment import Candidate
from dispatch.domain.events import (
    AlertAcknowledged,
    AlertAssigned,
    AlertClosed,
    AlertEvent,
    AlertReleased,
    AlertUnassigned,
    AssignmentEnd,
    Disposition,
    Reason,
)
from dispatch.domain.grid import DUTY_DESK

AlertState = Literal["received", "assigned", "acknowledged", "closed", "unassigned"]

DISPOSITIONS: tuple[Disposition, ...] = ("resolved_on_scene", "referred_to_mediation", "converted_to_case", "no_action")
RELEASE_ENDS: tuple[AssignmentEnd, ...] = ("ack_timeout", "unit_unavailable")
# 处警现场处结备案单: a settlement on the scene is signed by the party, the responding officer and a witness.
ON_SCENE_SIGNATURES = ("party", "officer", "witness")


#: every refusal of dispatch's rules (common.domain's, with the reason a person reads)
DomainError = Refusal


class AlertRefused(Refusal):
    """The alert's rules refuse the move."""


@dataclass(frozen=True)
class Assignment:
    """One attempt to hand the alert over: to a unit, or to the duty desk (unit_id None)."""

    unit_id: str | None
    reason: Reason
    distance_m: float | None
    at: datetime
    ended_at: datetime | None = None
    end: AssignmentEnd | None = None


@dataclass(frozen=True)
class Closure:
    disposition: Disposition
    officer_id: str
    unit_id: str
    note: str
    signatures: dict[str, str]




@dataclass
class Alert:
    """One alert and who holds it; never two units at once.

    received ─assign→ assigned ─acknowledge→ acknowledged ─close→ closed
    assigned ─release (ack timeout, unit unavailable)→ received (waits for the next-best unit)
    assigned ─close→ closed
    received ─send_to_duty_desk→ unassigned (flagged) ─assign→ assigned, or ─close by the duty desk→ closed
    """

    alert_id: str
    received_at: datetime
    category: str
    priority: int
    lon: float
    lat: float
    address: str | None
    caller_phone: str | None
    summary: str
    source: str
    parties: list[dict[str, Any]] = field(default_factory=list)  # people named by the caller, passed on at closing
    state: AlertState = "received"
    unit_id: str | None = None  # the current holder
    #: which of the holder's places (0 ≤ place < capacity) the alert takes while it holds it
    place: int | None = None
    reason: Reason | None = None
    distance_m: float | None = None
    assigned_at: datetime | None = None
    ack_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    flagged: bool = False  # went to the duty desk
    #: waits at the duty desk beyond every unit's reach (see `assignment.within_reach`): a freed
    #: place is not offered to it; a new grid may bring it within reach
    beyond_reach: bool = False
    assignments: list[Assignment] = field(default_factory=list)
    closure: Closure | None = None
    version: int = 0  # owned by the repository (optimistic concurrency); rules never touch it
    events: list[AlertEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def receive(
        cls,
        *,
        alert_id: str,
        received_at: datetime,
        category: str,
        priority: int,
        lon: float,
        lat: float,
        address: str | None,
        caller_phone: str | None,
        summary: str,
        source: str,
        parties: list[dict[str, Any]] | None = None,
    ) -> Alert:
        if received_at.tzinfo is None:
            raise AlertRefused("received_at must carry a time zone")
        return cls(alert_id, received_at, category, priority, lon, lat, address, caller_phone, summary, source,
                   list(parties or []))

    # --- moves ---

    def assign(self, candidate: Candidate, now: datetime, ack_timeout: timedelta, place: int = 0) -> None:
        if self.state not in ("received", "unassigned"):
            raise AlertRefused(self._why_not_waiting())
        if candidate.unit_id in self.excluded_units():
            raise AlertRefused(f"unit {candidate.unit_id} already let this alert's acknowledgement time out")
        if self.state == "unassigned":
            self._end_attempt(now, "reassigned")
        self.assignments.append(Assignment(candidate.unit_id, candidate.reason, candidate.distance_m, now))
        if place < 0:
            raise AlertRefused(f"a unit's places are numbered from 0, not {place}")
        self.state, self.unit_id, self.place = "assigned", candidate.unit_id, place
        self.reason, self.distance_m = candidate.reason, candidate.distance_m
        self.assigned_at, self.ack_due_at = now, now + ack_timeout
        self.beyond_reach = False
        self.events.append(self.placement())

    def send_to_duty_desk(self, now: datetime, *, beyond_reach: bool = False) -> None:
        if self.state != "received":
            raise AlertRefused(self._why_not_waiting())
        self.beyond_reach = beyond_reach
        self.assignments.append(Assignment(None, "overflow", None, now))
        self.state, self.unit_id, self.reason, self.distance_m = "unassigned", None, "overflow", None
        self.place = None
        self.assigned_at, self.ack_due_at, self.flagged = now, None, True
        self.events.append(self.placement())

    def placement(self) -> AlertAssigned | AlertUnassigned:
        """The fact of where the alert is now, derived from its state: what `assign` and `send_to_duty_desk`
        record, and what a redelivered alert tells again (the same fact, the same attempt)."""
        attempt = len(self.assignments)
        if self.state == "assigned" and self.unit_id is not None:
            assert self.reason in ("zone", "nearest") and self.assigned_at and self.ack_due_at
            return AlertAssigned(self.alert_id, self.unit_id, self.reason, self.distance_m or 0.0, attempt,
                                 self.assigned_at, self.ack_due_at, self.category, self.priority, self.lon,
                                 self.lat, self.address)
        if self.state == "unassigned":
            return AlertUnassigned(self.alert_id, attempt, self.assignments[-1].at, self.category, self.priority,
                                   self.lon, self.lat, self.address)
        raise AlertRefused(f"no placement to tell: {self._holding()}")

    def acknowledge(self, unit_id: str, now: datetime) -> None:
        if self.state == "acknowledged" and unit_id == self.unit_id:
            return  # a repeated acknowledgement changes nothing
        if self.state != "assigned" or unit_id != self.unit_id:
            raise AlertRefused(f"unit {unit_id} cannot acknowledge: {self._holding()}")
        self._end_attempt(now, "acknowledged")
        self.state, self.acknowledged_at = "acknowledged", now
        self.events.append(AlertAcknowledged(
            self.alert_id, unit_id, len(self.assignments), now, (now - self.assignments[-1].at).total_seconds()))

    def ack_overdue(self, now: datetime) -> bool:
        return self.state == "assigned" and self.ack_due_at is not None and now >= self.ack_due_at

    def release(self, now: datetime, end: AssignmentEnd) -> str:
        """The holder lets go before acknowledging; the alert waits for the next-best unit."""
        if end not in RELEASE_ENDS:
            raise AlertRefused(f"a release ends with one of {', '.join(RELEASE_ENDS)}, not {end!r}")
        if self.state != "assigned" or self.unit_id is None:
            raise AlertRefused(f"nothing to release: {self._holding()}")
        if end == "ack_timeout" and not self.ack_overdue(now):
            raise AlertRefused(f"unit {self.unit_id} still has until {self.ack_due_at} to acknowledge")
        unit_id = self.unit_id
        self._end_attempt(now, end)
        self.state, self.unit_id, self.reason, self.distance_m = "received", None, None, None
        self.place = None
        self.assigned_at = self.ack_due_at = None
        self.events.append(AlertReleased(self.alert_id, unit_id, end, len(self.assignments), now))
        return unit_id

    def close(
        self,
        unit_id: str,
        officer_id: str,
        disposition: Disposition,
        note: str,
        signatures: Mapping[str, str],
        now: datetime,
        parties: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Close with a disposition; `parties` named at the closing join those the caller named."""
        if disposition not in DISPOSITIONS:
            raise AlertRefused(f"disposition must be one of {', '.join(DISPOSITIONS)}, not {disposition!r}")
        if self.state == "closed":
            if self.closure is not None and self.closure.disposition == disposition:
                return  # the same closing, repeated
            raise AlertRefused(f"already closed as {self.closure.disposition if self.closure else None}")
        if self.state == "unassigned":
            if unit_id != DUTY_DESK:
                raise AlertRefused(f"unit {unit_id} cannot close: the duty desk holds this alert")
        elif self.state not in ("assigned", "acknowledged") or unit_id != self.unit_id:
            raise AlertRefused(f"unit {unit_id} cannot close: {self._holding()}")
        if not isinstance(officer_id, str) or not officer_id.strip():
            raise AlertRefused("officer_id is required to close an alert")
        if disposition == "resolved_on_scene":
            missing = [role for role in ON_SCENE_SIGNATURES
                       if not isinstance(signatures.get(role), str) or not signatures[role].strip()]
            if missing:
                raise AlertRefused(
                    f"resolved_on_scene needs the signatures of {', '.join(missing)} (处警现场处结备案单)")
        if self.assignments and self.assignments[-1].end is None:
            self._end_attempt(now, "closed")
        known = {p["party_id"] for p in self.parties}
        self.parties = [*self.parties, *(dict(p) for p in parties if p["party_id"] not in known)]
        self.closure = Closure(disposition, officer_id, unit_id, note, dict(signatures))
        self.state, self.closed_at, self.ack_due_at, self.place = "closed", now, None, None
        self.events.append(AlertClosed(
            self.alert_id, unit_id, officer_id, disposition, note, dict(signatures),
            self.category, self.priority, self.lon, self.lat, self.address, self.summary, self.caller_phone,
            [dict(p) for p in self.parties], self.received_at, now))

    def note_reach(self, within: bool) -> bool:
        """Whether a unit of the grid can reach the alert waiting at the duty desk (the grid changed, or it
        was stored before reach was kept). Returns whether that changed what the alert waits for."""
        if self.state != "unassigned" or self.beyond_reach == (not within):
            return False
        self.beyond_reach = not within
        return True

    def copy(self) -> Alert:
        """The alert as it is now, apart from this one: a move on the copy leaves it as it was."""
        return replace(self, parties=[dict(p) for p in self.parties], assignments=list(self.assignments),
                       events=list(self.events))

    def excluded_units(self) -> frozenset[str]:
        """Units that let this alert's acknowledgement time out: reassignment goes to the next best."""
        return frozenset(a.unit_id for a in self.assignments if a.end == "ack_timeout" and a.unit_id)

    # --- plain data for the repository ---

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        data["parties"] = [dict(p) for p in self.parties]
        data["assignments"] = [asdict(a) for a in self.assignments]
        data["closure"] = asdict(self.closure) if self.closure else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """The inverse of to_dict; ignores keys the store adds (_id, outbox…)."""
        names = {f.name for f in fields(cls)} - {"events", "assignments", "closure"}
        values = {k: _aware(v) for k, v in data.items() if k in names}
        values["parties"] = [dict(p) for p in data.get("parties", [])]
        closure = data.get("closure")
        return cls(
            **values,
            assignments=[Assignment(**{k: _aware(v) for k, v in a.items()}) for a in data.get("assignments", [])],
            closure=Closure(**{**closure, "signatures": dict(closure["signatures"])}) if closure else None,
        )

    # --- helpers ---

    def _end_attempt(self, now: datetime, end: AssignmentEnd) -> None:
        self.assignments[-1] = replace(self.assignments[-1], ended_at=now, end=end)

    def _holding(self) -> str:
        if self.state in ("assigned", "acknowledged"):
            return f"alert is {self.state}, held by unit {self.unit_id}"
        return f"alert is {self.state}"

    def _why_not_waiting(self) -> str:
        if self.state in ("assigned", "acknowledged"):
            return f"alert is {self.state}, held by unit {self.unit_id}; it must be released first"
        return f"alert is {self.state}"


def desk_order(alert: Alert) -> str:
    """The alert's rank in the duty desk's queue: priority (1 first), then age, then id.

    A string that sorts as the queue does, `2:001764000000000:110-A`, so that the rank is also
    a cursor: "the next n after this one" is one range of an index.
    """
    received_ms = max(0, int(alert.received_at.timestamp() * 1000))
    return f"{alert.priority}:{received_ms:015d}:{alert.alert_id}"


def _aware(value: Any) -> Any:
    """A stored value as the rules want it: a datetime aware (BSON hands them back naive, in UTC)."""
    return as_utc(value) if isinstance(value, datetime) else value
