"""The key-person register (重点人员管控): who needs watching, by whom, and how often they are reviewed.

A person is registered with a category (社区矫正, 刑满释放, 吸毒, 精神障碍, 信访…), a risk level and
the responsible officer; the review cadence follows the risk level (monthly for high risk) unless
the register sets one. A review sets the next due time from that review; a review not done by its
due time is overdue: `check_deadlines(now)` flags it once per due review (`KeyPersonReviewOverdue`).
Notes come from officers and from visits' findings; a visit's note is added once however often its
event is delivered (its `source_ref` is the visit's finding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc, require_aware
from community.domain import events as ev

RISK_LEVELS = ("low", "medium", "high")
#: review cadence in days by risk level: monthly for high risk (a station's own through settings)
DEFAULT_CADENCE_DAYS: Mapping[str, float] = {"high": 30, "medium": 90, "low": 180}
MAX_NOTES = 500  # a register entry keeps its latest notes; older ones are in the events' history


class KeyPersonRefused(Refusal):
    """A command the register does not accept (HTTP 409)."""


@dataclass(frozen=True)
class Note:
    at: datetime
    actor: str
    source: str  # visit, officer
    source_ref: str | None
    text: str


@dataclass(frozen=True)
class Review:
    at: datetime
    actor: str
    risk_level: str
    note: str


@dataclass(eq=False)
class KeyPerson(Aggregate):
    """Every command records one history entry: the msg ids of its events count them."""

    refusal: ClassVar[type[Refusal]] = KeyPersonRefused
    all_states: ClassVar[tuple[str, ...]] = ("registered",)

    person_id: str
    name: str
    id_number: str | None
    phone: str | None
    address: str | None
    category: str
    risk_level: str
    officer_id: str
    unit_id: str | None
    cadence_days: int | None  # None: by the risk level
    registered_at: datetime
    next_review_due_at: datetime
    overdue_for: datetime | None = None  # the due time already flagged overdue
    reviews: list[Review] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    state: str = "registered"

    @property
    def ident(self) -> str:
        return self.person_id

    @property
    def kind(self) -> str:
        return "key person"

    @classmethod
    def register(
        cls, *, person_id: str, name: str, category: str, risk_level: str, officer_id: str, now: datetime,
        id_number: str | None = None, phone: str | None = None, address: str | None = None,
        unit_id: str | None = None, cadence_days: int | None = None,
        cadences: Mapping[str, float] = DEFAULT_CADENCE_DAYS,
    ) -> KeyPerson:
        require_aware(now)
        _check_level(risk_level)
        if cadence_days is not None and cadence_days < 1:
            raise KeyPersonRefused("a review cadence is at least 1 day")
        person = cls(person_id, name, id_number, phone, address, category, risk_level, officer_id, unit_id,
                     cadence_days, now, now)
        person.next_review_due_at = now + person.cadence(cadences)
        person._record(now=now, actor=officer_id, action="register", from_state=None, note=category)
        person.events.append(ev.KeyPersonRegistered(person_id, now, category, risk_level, officer_id, unit_id,
                                                    person.next_review_due_at))
        return person

    def cadence(self, cadences: Mapping[str, float] = DEFAULT_CADENCE_DAYS) -> timedelta:
        days = self.cadence_days or cadences.get(self.risk_level, DEFAULT_CADENCE_DAYS[self.risk_level])
        return timedelta(days=days)

    def review(self, *, now: datetime, actor: str, note: str = "", risk_level: str | None = None,
               cadences: Mapping[str, float] = DEFAULT_CADENCE_DAYS) -> None:
        """A review (谈话/走访); a new risk level changes the cadence from this review on."""
        require_aware(now)
        if risk_level is not None:
            _check_level(risk_level)
            self.risk_level = risk_level
        self.reviews.append(Review(now, actor, self.risk_level, note))
        self.next_review_due_at = now + self.cadence(cadences)
        self._record(now=now, actor=actor, action="review", from_state=self.state, note=self.risk_level)
        self.events.append(ev.KeyPersonReviewed(self.person_id, now, actor, self.risk_level, self.next_review_due_at))

    def note(self, *, now: datetime, actor: str, text: str, source: str = "officer",
             source_ref: str | None = None) -> None:
        """Add a note; one from a visit's finding already noted is not added again."""
        require_aware(now)
        if not text.strip():
            raise KeyPersonRefused("a note needs text")
        if source_ref is not None and any(n.source_ref == source_ref for n in self.notes):
            return
        self.notes = [*self.notes, Note(now, actor, source, source_ref, text)][-MAX_NOTES:]
        self._record(now=now, actor=actor, action="note", from_state=self.state, note=source)
        self.events.append(ev.KeyPersonNoted(self.person_id, now, actor, source, source_ref))

    def check_deadlines(self, now: datetime) -> list[ev.KeyPersonEvent]:
        require_aware(now)
        if self.next_due_at is None or now < self.next_due_at:
            return []
        self.overdue_for = self.next_review_due_at
        self._record(now=now, actor="system", action="review_overdue", from_state=self.state)
        event = ev.KeyPersonReviewOverdue(self.person_id, now, self.next_review_due_at, self.risk_level,
                                          self.officer_id)
        self.events.append(event)
        return [event]

    @property
    def overdue(self) -> bool:
        return self.overdue_for is not None and self.overdue_for == self.next_review_due_at

    @property
    def next_due_at(self) -> datetime | None:
        """The review due time a sweep has yet to flag."""
        return None if self.overdue else self.next_review_due_at

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        doc["reviews"] = [asdict(r) for r in self.reviews]
        doc["notes"] = [asdict(n) for n in self.notes]
        doc["history"] = [asdict(h) for h in self.history]
        doc["overdue"] = self.overdue
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> KeyPerson:
        values = {f.name: doc[f.name] for f in fields(cls) if f.name != "events"}
        for name in ("registered_at", "next_review_due_at", "overdue_for"):
            values[name] = as_utc(values[name])
        values["reviews"] = [Review(**{**r, "at": as_utc(r["at"])}) for r in doc["reviews"]]
        values["notes"] = [Note(**{**n, "at": as_utc(n["at"])}) for n in doc["notes"]]
        values["history"] = [HistoryEntry(**{**h, "at": as_utc(h["at"])}) for h in doc["history"]]
        return cls(**values)


def _check_level(level: str) -> None:
    if level not in RISK_LEVELS:
        raise KeyPersonRefused(f"unknown risk level {level!r}; expected one of {', '.join(RISK_LEVELS)}")
