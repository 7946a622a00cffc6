"""The Alert aggregate: from the 110 desk to a grid unit, acknowledged, closed (接处警)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc
from dispatch.domain.assignment import Candidate
from dispatch.domain.events import (
    AlertAcknowledged,
    AlertAssigned,
    AlertAssisted,
    AlertClosed,
    AlertReleased,
    AlertUnassigned,
    AssignmentEnd,
    AssistRole,
    Disposition,
    Reason,
)
from dispatch.domain.grid import DUTY_DESK

AlertState = Literal["received", "assigned", "acknowledged", "closed", "unassigned"]

DISPOSITIONS: tuple[Disposition, ...] = (
    "resolved_on_scene", "help_given_on_scene", "statement_refused", "referred_to_mediation", "converted_to_case",
    "no_action",
)
#: closes finished on the scene, each filed with the on-scene form (处警现场处结备案单, 004): a dispute settled
#: there, emergency help finished there, a caller who refuses to give a statement
ON_SCENE: tuple[Disposition, ...] = ("resolved_on_scene", "help_given_on_scene", "statement_refused")
#: who on the form may refuse to sign, the refusal then recorded and witnessed (the officer always signs)
MAY_REFUSE_TO_SIGN = ("party",)
ASSIST_ROLES: tuple[AssistRole, ...] = ("community_officer", "assisting_officer", "village_cadre")
#: those an alert may name as joining the scene
MAX_ASSISTANTS = 20
RELEASE_ENDS: tuple[AssignmentEnd, ...] = ("ack_timeout", "unit_unavailable")
# 处警现场处结备案单: signed by the party, the responding officer and a witness.
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
    #: the dispatcher's word: who ordered this unit, why, and whether it took a place beyond its capacity
    ordered_by: str | None = None
    order_reason: str | None = None
    forced: bool = False


@dataclass(frozen=True)
class Closure:
    disposition: Disposition
    officer_id: str
    unit_id: str
    note: str
    signatures: dict[str, str]
    refused_to_sign: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Assistant:
    """Someone who joined the holding unit on the scene: an officer by id, a village cadre by name (or id)."""

    role: AssistRole
    officer_id: str | None
    name: str | None
    by: str  # who recorded it
    at: datetime

    def same_person(self, other: Assistant) -> bool:
        if self.officer_id and other.officer_id:
            return self.officer_id == other.officer_id
        return self.role == other.role and self.name == other.name and self.officer_id == other.officer_id




@dataclass
class Alert(Aggregate):
    """One alert and who holds it; never two units at once.

    received ─assign→ assigned ─acknowledge→ acknowledged ─close→ closed
    assigned ─release (ack timeout, unit unavailable)→ received (waits for the next-best unit)
    assigned ─close→ closed
    received ─send_to_duty_desk→ unassigned (flagged) ─assign→ assigned, or ─close by the duty desk→ closed
    """

    refusal: ClassVar[type[Refusal]] = AlertRefused
    all_states: ClassVar[tuple[str, ...]] = ("received", "assigned", "acknowledged", "unassigned", "closed")

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
    assistants: list[Assistant] = field(default_factory=list)
    closure: Closure | None = None

    @property
    def ident(self) -> str:
        return self.alert_id

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
            assert self.reason in ("zone", "nearest", "ordered") and self.assigned_at and self.ack_due_at
            last = self.assignments[-1]
            before = self.assignments[-2].unit_id if last.ordered_by and len(self.assignments) > 1 else None
            return AlertAssigned(self.alert_id, self.unit_id, self.reason, self.distance_m or 0.0, attempt,
                                 self.assigned_at, self.ack_due_at, self.category, self.priority, self.lon,
                                 self.lat, self.address, last.ordered_by, last.order_reason, last.forced, before)
        if self.state == "unassigned":
            return AlertUnassigned(self.alert_id, attempt, self.assignments[-1].at, self.category, self.priority,
                                   self.lon, self.lat, self.address)
        raise AlertRefused(f"no placement to tell: {self._holding()}")

    def order(self, unit_id: str, *, by: str, reason: str, distance_m: float, place: int, forced: bool,
              now: datetime, ack_timeout: timedelta) -> None:
        """The dispatcher's word (根据派警员的指令): the alert goes to a named unit, from the queue or from
        another unit (acknowledged or not), into `place`; `forced` when that place is beyond the unit's
        capacity. The named unit acknowledges as after any assignment."""
        self._allow("assign", now, ("received", "unassigned", "assigned", "acknowledged"))
        if not by.strip():
            raise AlertRefused("an order names who gave it (by)")
        if not reason.strip():
            raise AlertRefused("an order gives its reason")
        if self.state in ("assigned", "acknowledged") and self.unit_id == unit_id:
            raise AlertRefused(f"unit {unit_id} holds this alert already")
        if place < 0:
            raise AlertRefused(f"a unit's places are numbered from 0, not {place}")
        from_state = self.state
        if self.assignments and self.assignments[-1].end is None:
            self._end_attempt(now, "reassigned")
        self.assignments.append(Assignment(unit_id, "ordered", distance_m, now, ordered_by=by, order_reason=reason,
                                           forced=forced))
        self.state, self.unit_id, self.place, self.reason, self.distance_m = "assigned", unit_id, place, "ordered", \
            distance_m
        self.assigned_at, self.ack_due_at, self.acknowledged_at, self.beyond_reach = now, now + ack_timeout, None, False
        self._record(now=now, actor=by, action=f"ordered to {unit_id}" + (" beyond its capacity" if forced else ""),
                     from_state=from_state, note=reason)
        self.events.append(self.placement())

    def assist(self, *, role: AssistRole, officer_id: str | None, name: str | None, by: str, now: datetime) -> None:
        """Someone joined the unit on the scene (社区民警、村干部介入处警现场): recorded once, shown at the closing."""
        self._allow("record who joined the scene of", now, ("assigned", "acknowledged", "unassigned"))
        if role not in ASSIST_ROLES:
            raise AlertRefused(f"role must be one of {', '.join(ASSIST_ROLES)}, not {role!r}")
        officer_id, name = (officer_id or "").strip() or None, (name or "").strip() or None
        if role != "village_cadre" and officer_id is None:
            raise AlertRefused(f"a {role} is named by officer_id")
        if officer_id is None and name is None:
            raise AlertRefused("a village cadre is named by name or officer_id")
        if not by.strip():
            raise AlertRefused("the record names who made it (by)")
        person = Assistant(role, officer_id, name, by, now)
        if any(person.same_person(a) for a in self.assistants):
            return  # recorded already
        if len(self.assistants) >= MAX_ASSISTANTS:
            raise AlertRefused(f"an alert names at most {MAX_ASSISTANTS} who joined the scene")
        self.assistants.append(person)
        self._record(now=now, actor=by, action=f"joined by {role} {officer_id or name}", from_state=self.state)
        self.events.append(AlertAssisted(self.alert_id, self.unit_id, role, officer_id, name, by, now))

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
        refused_to_sign: Iterable[str] = (),
    ) -> None:
        """Close with a disposition; `parties` named at the closing join those the caller named. A close
        on the scene is filed with the on-scene form (`on_scene_form_problem`)."""
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
        refused = sorted(set(refused_to_sign))
        problem = on_scene_form_problem(disposition, signatures, refused)
        if problem:
            raise AlertRefused(problem)
        if self.assignments and self.assignments[-1].end is None:
            self._end_attempt(now, "closed")
        known = {p["party_id"] for p in self.parties}
        self.parties = [*self.parties, *(dict(p) for p in parties if p["party_id"] not in known)]
        self.closure = Closure(disposition, officer_id, unit_id, note, dict(signatures), refused)
        from_state = self.state
        self.state, self.closed_at, self.ack_due_at, self.place = "closed", now, None, None
        self.events.append(AlertClosed(
            self.alert_id, unit_id, officer_id, disposition, note, dict(signatures),
            self.category, self.priority, self.lon, self.lat, self.address, self.summary, self.caller_phone,
            [dict(p) for p in self.parties], self.received_at, now, list(refused),
            [asdict(a) for a in self.assistants]))
        self._record(now=now, actor=officer_id, action=f"closed as {disposition}", from_state=from_state, note=note)

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
                       assistants=list(self.assistants), events=list(self.events), history=list(self.history))

    def excluded_units(self) -> frozenset[str]:
        """Units that let this alert's acknowledgement time out: reassignment goes to the next best."""
        return frozenset(a.unit_id for a in self.assignments if a.end == "ack_timeout" and a.unit_id)

    # --- plain data for the repository ---

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        data["parties"] = [dict(p) for p in self.parties]
        data["assignments"] = [asdict(a) for a in self.assignments]
        data["assistants"] = [asdict(a) for a in self.assistants]
        data["closure"] = asdict(self.closure) if self.closure else None
        data["history"] = [asdict(entry) for entry in self.history]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """The inverse of to_dict; ignores keys the store adds (_id, outbox…)."""
        names = {f.name for f in fields(cls)} - {"events", "assignments", "closure", "history", "assistants"}
        values = {k: _aware(v) for k, v in data.items() if k in names}
        values["parties"] = [dict(p) for p in data.get("parties", [])]
        closure = data.get("closure")
        return cls(
            **values,
            assignments=[Assignment(**{k: _aware(v) for k, v in a.items()}) for a in data.get("assignments", [])],
            assistants=[Assistant(**{**a, "at": as_utc(a["at"])}) for a in data.get("assistants", [])],
            closure=Closure(**{**closure, "signatures": dict(closure["signatures"]),
                               "refused_to_sign": list(closure.get("refused_to_sign", []))}) if closure else None,
            history=[HistoryEntry(**{**h, "at": as_utc(h["at"])}) for h in data.get("history", [])],
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


def on_scene_form_problem(
    disposition: str, signatures: Mapping[str, str], refused_to_sign: Iterable[str]
) -> str | None:
    """What the on-scene form (处警现场处结备案单) lacks for this close, or None.

    Every close finished on the scene (`ON_SCENE`) is signed by the responding officer and a witness,
    and by the party, or the party's refusal to sign is recorded (and witnessed). A refusal is for
    the on-scene form only, and only the party may refuse.
    """
    refused = set(refused_to_sign)
    if disposition not in ON_SCENE:
        return f"a refusal to sign is recorded on the on-scene form only, not for {disposition}" if refused else None
    if refused - set(MAY_REFUSE_TO_SIGN):
        return f"only the {', '.join(MAY_REFUSE_TO_SIGN)} may refuse to sign, not {', '.join(sorted(refused))}"

    def signed(role: str) -> bool:
        return isinstance(signatures.get(role), str) and bool(signatures[role].strip())

    both = [role for role in refused if signed(role)]
    if both:
        return f"{', '.join(both)} both signed and refused to sign"
    missing = [role for role in ON_SCENE_SIGNATURES if role not in refused and not signed(role)]
    if missing:
        alternative = " (or the party's refusal to sign, recorded)" if "party" in missing else ""
        return f"{disposition} needs the signatures of {', '.join(missing)}{alternative} (处警现场处结备案单)"
    return None


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
