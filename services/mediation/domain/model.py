"""The dispute (矛盾纠纷) aggregate, from report to signed agreement, and the rules of its life.

Levels are the station's gates, lowest first (矛盾不上交):
scene (出警民警处警关) → community (社区民警介入关) → village (村居干部干预关) → town (镇) → escalated_out (上交).

Every command either changes the dispute, appends one history entry and records an event, or
raises `DisputeRefused` with the reason and changes nothing.

| command          | allowed in state                         | new state         | level                          |
|------------------|------------------------------------------|-------------------|--------------------------------|
| open             | —                                        | reported          | alert: scene; others: community |
| open, high risk  | —                                        | escalated         | raised to community if below   |
| contact          | reported, reopened                       | mediating         | —                              |
| contact          | mediating, escalated                     | (unchanged)       | —                              |
| escalate         | reported, mediating, escalated, reopened | escalated         | next gate, or `to_level`       |
| resolve          | mediating, escalated — once contacted    | resolved          | —                              |
| close_unresolved | reported, mediating, escalated, reopened | closed_unresolved | —                              |
| reopen           | resolved                                 | reopened          | —                              |
| record_followup  | resolved, once per resolution            | (unchanged)       | —                              |
| check_deadlines  | any                                      | (unchanged)       | —                              |

Refused besides any command outside its states (a closed_unresolved dispute is final):
escalate past `escalated_out`, to a level not above the current one, or skipping a gate without a
reason; resolve without terms or without the signature of every party, the mediator and the
witness (the reason names the missing signers); close_unresolved without a reason or with
`referred_to` not in REFERRAL_BODIES; reopen without a reason; a second follow-up record.

`escalated` means "escalated, mediation goes on at the new level": the dispute can be contacted,
escalated further, resolved or closed there. `escalated_out` (上交) is reached the same way and
still ends as resolved or closed_unresolved when the body it went to reports back.

High risk (see `risk.py`): a report whose summary or category threatens violence opens with
`high_risk` set and records `DisputeHighRisk` (the service raises an alert for dispatch). The
system escalates it at once to at least `community`: a dispute from an alert (scene) goes to
community in state escalated; one that opens at community stays reported there, flagged — the
gate that takes a threat of violence is the community officer, as in the reports.

Deadlines (事不过夜): first contact is due before the end of the reporting day, local time, or by
noon the next day for a report made in the evening (`deadlines.FirstContactRule`, both hours
settings); a resolved dispute's follow-up
visit 7 days after resolution. `check_deadlines(now)` flags each once (`DisputeOverdue`,
`DisputeFollowupDue`). A first contact made late, before any sweep saw it, sets `overdue` too
(without the event: the contact has been made), so the statistics count it. Reopening clears the
follow-up; resolving again sets a new one. The first-contact rule is about the first report only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, get_args

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc, require_aware
from mediation.domain import events as ev
from mediation.domain.deadlines import FirstContactRule
from mediation.domain.mediators import Mediator, mediator_refusal, settler
from mediation.domain.risk import RiskRules, assess_risk

Source = Literal["alert", "informant", "visit", "desk"]  # 110 alert, 信息员, 走访, 窗口/来访
State = Literal["reported", "mediating", "resolved", "escalated", "closed_unresolved", "reopened"]
Level = Literal["scene", "community", "village", "town", "escalated_out"]
SOURCES: tuple[Source, ...] = get_args(Source)
STATES: tuple[State, ...] = get_args(State)
LEVELS: tuple[Level, ...] = get_args(Level)  # in order, lowest gate first
OPEN_STATES: frozenset[State] = frozenset({"reported", "mediating", "escalated", "reopened"})
REFERRAL_BODIES = ("court", "petition", "other")  # 法院, 信访, another body
MEDIATOR, WITNESS = "mediator", "witness"  # signer keys of an agreement besides the party ids
SYSTEM_ACTOR = "system"
FOLLOWUP_AFTER = timedelta(days=7)
HIGH_RISK_LEVEL: Level = "community"


class DisputeRefused(Refusal):
    """A command the dispute does not accept in its present state; the HTTP layer answers 409."""


@dataclass(frozen=True)
class Party:
    party_id: str
    name: str
    phone: str | None = None
    id_number: str | None = None  # 身份证号
    role: str | None = None


@dataclass(frozen=True)
class Agreement:
    """The mediation agreement (调解协议): terms, and who signed them."""

    terms: str
    signatures: Mapping[str, str]  # signer key (a party_id, "mediator", "witness") -> name as signed


@dataclass(eq=False)
class Dispute(Aggregate):
    refusal: ClassVar[type[Refusal]] = DisputeRefused
    all_states: ClassVar[tuple[str, ...]] = STATES

    dispute_id: str
    source: Source
    source_ref: str | None  # the alert_id for an alert; else the reporting system's id, if any
    reported_at: datetime
    reported_by: str
    category: str
    summary: str
    address: str | None
    lon: float | None
    lat: float | None
    unit_id: str | None
    officer_id: str | None
    parties: list[Party]
    state: State
    level: Level
    first_contact_due_at: datetime
    high_risk: bool = False
    risk_matches: list[str] = field(default_factory=list)  # rule ids of risk_rules.toml
    first_contact_at: datetime | None = None
    overdue: bool = False
    overdue_flagged_at: datetime | None = None
    resolved_at: datetime | None = None
    agreement: Agreement | None = None  # the latest signed one; kept on reopen as the record
    followup_due_at: datetime | None = None
    followup_notified: bool = False
    followup_done_at: datetime | None = None
    referred_to: str | None = None
    recurrence_of: str | None = None
    mediators: list[Mediator] = field(default_factory=list)  # named participants: teams, pavilions, cadres
    settled_by: str | None = None  # the mediator_id of the one who settled the latest resolution

    # --- commands ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        dispute_id: str,
        source: str,
        reported_at: datetime,
        reported_by: str,
        category: str,
        summary: str,
        parties: Iterable[Party],
        source_ref: str | None = None,
        address: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
        unit_id: str | None = None,
        officer_id: str | None = None,
        recurrence_of: str | None = None,
        risk_rules: RiskRules | None = None,
        contact_rule: FirstContactRule | None = None,
    ) -> Dispute:
        """A new dispute, screened for risk. `recurrence_of` comes from `find_recurrence`."""
        require_aware(reported_at)
        if source not in SOURCES:
            raise DisputeRefused(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        if source == "alert" and not source_ref:
            raise DisputeRefused("a dispute from an alert needs the alert_id as source_ref")
        parties = list(parties)
        _check_parties(parties)
        risk = assess_risk(summary, category, rules=risk_rules)
        dispute = cls(
            dispute_id=dispute_id,
            source=source,
            source_ref=source_ref,
            reported_at=reported_at,
            reported_by=reported_by,
            category=category,
            summary=summary,
            address=address,
            lon=lon,
            lat=lat,
            unit_id=unit_id,
            officer_id=officer_id,
            parties=parties,
            state="reported",
            level="scene" if source == "alert" else "community",
            first_contact_due_at=(contact_rule or FirstContactRule()).due(reported_at),
            high_risk=risk.high_risk,
            risk_matches=risk.rule_ids,
            recurrence_of=recurrence_of,
        )
        dispute._record(now=reported_at, actor=reported_by, action="open", from_state=None, note=f"source: {source}")
        dispute.events.append(
            ev.DisputeOpened(
                dispute_id=dispute_id,
                at=reported_at,
                source=source,
                source_ref=source_ref,
                category=category,
                level=dispute.level,
                high_risk=risk.high_risk,
                recurrence_of=recurrence_of,
                unit_id=unit_id,
                officer_id=officer_id,
            )
        )
        if risk.high_risk:
            dispute.events.append(
                ev.DisputeHighRisk(
                    dispute_id=dispute_id,
                    at=reported_at,
                    category=category,
                    summary=summary,
                    address=address,
                    lon=lon,
                    lat=lat,
                    unit_id=unit_id,
                    officer_id=officer_id,
                    risk_matches=tuple(risk.rule_ids),
                )
            )
            if _rank(dispute.level) < _rank(HIGH_RISK_LEVEL):
                dispute.escalate(
                    now=reported_at,
                    actor=SYSTEM_ACTOR,
                    to_level=HIGH_RISK_LEVEL,
                    reason="high risk: " + ", ".join(risk.labels),
                )
        return dispute

    def contact(self, *, now: datetime, actor: str, note: str = "") -> None:
        """A contact with the parties; the first one is what 事不过夜 asks for."""
        self._allow("contact", now, OPEN_STATES)
        first = self.first_contact_at is None
        if first:
            self.first_contact_at = now
            if now >= self.first_contact_due_at and not self.overdue:
                self.overdue, self.overdue_flagged_at = True, now
        previous = self.state
        if self.state in ("reported", "reopened"):
            self.state = "mediating"
        self._record(now=now, actor=actor, action="contact", from_state=previous, note=note)
        self.events.append(ev.DisputeContacted(dispute_id=self.dispute_id, at=now, actor=actor, first=first))

    def join(self, *, now: datetime, actor: str, mediator_id: str, name: str, kind: str) -> None:
        """Name a mediation team, pavilion, village cadre… as a participant of the dispute."""
        self._allow("join", now, OPEN_STATES)
        why = mediator_refusal(self.mediators, mediator_id, name, kind)
        if why:
            raise DisputeRefused(why)
        self.mediators.append(Mediator(mediator_id, name, kind, now, actor))
        self._record(now=now, actor=actor, action="join", from_state=self.state, note=f"{kind}: {name} ({mediator_id})")
        self.events.append(ev.DisputeMediatorJoined(dispute_id=self.dispute_id, at=now, actor=actor,
                                                    mediator_id=mediator_id, name=name, kind=kind, level=self.level))

    def escalate(self, *, now: datetime, actor: str, to_level: str | None = None, reason: str = "") -> None:
        """Up to the next gate, or to `to_level`; skipping a gate needs a reason."""
        self._allow("escalate", now, OPEN_STATES)
        if self.level == "escalated_out":
            raise DisputeRefused(f"dispute {self.dispute_id} is already escalated out (上交): there is no level above")
        target = LEVELS[_rank(self.level) + 1] if to_level is None else to_level
        if target not in LEVELS:
            raise DisputeRefused(f"unknown level {target!r}; expected one of {', '.join(LEVELS)}")
        if _rank(target) <= _rank(self.level):
            raise DisputeRefused(
                f"cannot escalate dispute {self.dispute_id} from {self.level} to {target}: not a higher level"
            )
        skipped = LEVELS[_rank(self.level) + 1 : _rank(target)]
        if skipped and not reason.strip():
            raise DisputeRefused(f"escalating from {self.level} to {target} skips {', '.join(skipped)}: give a reason")
        previous, from_level = self.state, self.level
        self.state, self.level = "escalated", target
        self._record(now=now, actor=actor, action="escalate", from_state=previous, note=reason)
        self.events.append(
            ev.DisputeEscalated(
                dispute_id=self.dispute_id, at=now, actor=actor, from_level=from_level, to_level=target, reason=reason
            )
        )

    def resolve(self, *, now: datetime, actor: str, agreement: Agreement, settled_by: str | None = None) -> None:
        """Settled by an agreement signed by every party, the mediator and a witness; `settled_by` names the
        participant who settled it (by default the only one named)."""
        self._allow("resolve", now, {"mediating", "escalated"})
        who, why = settler(self.mediators, settled_by)
        if why:
            raise DisputeRefused(why)
        if self.first_contact_at is None:
            raise DisputeRefused(f"dispute {self.dispute_id} has no contact with the parties recorded yet")
        if not agreement.terms.strip():
            raise DisputeRefused("the agreement has no terms")
        missing = [signer for key, signer in self._signers().items() if not agreement.signatures.get(key, "").strip()]
        if missing:
            raise DisputeRefused("the agreement lacks the signature of: " + ", ".join(missing))
        previous = self.state
        self.state, self.agreement, self.resolved_at = "resolved", agreement, now
        self.settled_by = who.mediator_id if who else None
        self.followup_due_at, self.followup_notified, self.followup_done_at = now + FOLLOWUP_AFTER, False, None
        self._record(now=now, actor=actor, action="resolve", from_state=previous, note=agreement.terms)
        self.events.append(
            ev.DisputeResolved(
                dispute_id=self.dispute_id, at=now, actor=actor, level=self.level, followup_due_at=self.followup_due_at,
                settled_by=who.mediator_id if who else None, settled_by_name=who.name if who else None,
                settled_by_kind=who.kind if who else None,
                unit_id=self.unit_id, officer_id=self.officer_id,
            )
        )

    def close_unresolved(self, *, now: datetime, actor: str, reason: str, referred_to: str) -> None:
        """Mediation failed: the parties are referred to a court, 信访 or another body."""
        self._allow("close_unresolved", now, OPEN_STATES)
        if referred_to not in REFERRAL_BODIES:
            raise DisputeRefused(f"referred_to must be one of {', '.join(REFERRAL_BODIES)}, not {referred_to!r}")
        if not reason.strip():
            raise DisputeRefused("closing a dispute unresolved needs a reason")
        previous = self.state
        self.state, self.referred_to = "closed_unresolved", referred_to
        self._record(now=now, actor=actor, action="close_unresolved", from_state=previous, note=reason)
        self.events.append(
            ev.DisputeClosedUnresolved(
                dispute_id=self.dispute_id,
                at=now,
                actor=actor,
                level=self.level,
                referred_to=referred_to,
                reason=reason,
            )
        )

    def reopen(self, *, now: datetime, actor: str, reason: str) -> None:
        """The agreement did not hold: mediation resumes at the level it was resolved at."""
        self._allow("reopen", now, {"resolved"})
        if not reason.strip():
            raise DisputeRefused("reopening a dispute needs a reason")
        self.state, self.resolved_at = "reopened", None
        self.followup_due_at, self.followup_notified, self.followup_done_at = None, False, None
        self._record(now=now, actor=actor, action="reopen", from_state="resolved", note=reason)
        self.events.append(
            ev.DisputeReopened(dispute_id=self.dispute_id, at=now, actor=actor, level=self.level, reason=reason)
        )

    def record_followup(self, *, now: datetime, actor: str, note: str = "") -> None:
        """The follow-up visit (回访) of a resolved dispute; it may come before it is due."""
        self._allow("record_followup", now, {"resolved"})
        if self.followup_done_at is not None:
            raise DisputeRefused(f"the follow-up visit of dispute {self.dispute_id} was already recorded")
        self.followup_done_at = now
        self._record(now=now, actor=actor, action="followup", from_state="resolved", note=note)

    def check_deadlines(self, now: datetime) -> list[ev.DisputeEvent]:
        """The deadline events newly due at `now`, each returned (and recorded) once."""
        require_aware(now)
        due: list[ev.DisputeEvent] = []
        if self._awaits_first_contact and now >= self.first_contact_due_at:
            self.overdue, self.overdue_flagged_at = True, now
            self._record(
                now=now, actor=SYSTEM_ACTOR, action="overdue", from_state=self.state,
                note="no first contact by the deadline (事不过夜)",
            )
            due.append(
                ev.DisputeOverdue(
                    dispute_id=self.dispute_id,
                    at=now,
                    due_at=self.first_contact_due_at,
                    level=self.level,
                    unit_id=self.unit_id,
                    officer_id=self.officer_id,
                )
            )
        if self._awaits_followup and self.followup_due_at is not None and now >= self.followup_due_at:
            self.followup_notified = True
            self._record(now=now, actor=SYSTEM_ACTOR, action="followup_due", from_state=self.state)
            due.append(
                ev.DisputeFollowupDue(
                    dispute_id=self.dispute_id,
                    at=now,
                    due_at=self.followup_due_at,
                    unit_id=self.unit_id,
                    officer_id=self.officer_id,
                )
            )
        self.events.extend(due)
        return due

    # --- queries ----------------------------------------------------------------------------

    @property
    def ident(self) -> str:
        return self.dispute_id

    @property
    def next_due_at(self) -> datetime | None:
        """The earliest deadline `check_deadlines` has yet to fire: what a sweep queries (`<= now`)."""
        dues = []
        if self._awaits_first_contact:
            dues.append(self.first_contact_due_at)
        if self._awaits_followup and self.followup_due_at is not None:
            dues.append(self.followup_due_at)
        return min(dues, default=None)

    @property
    def first_contact_awaited(self) -> bool:
        """Open and nobody has contacted the parties yet, whether or not the deadline has passed (事不过夜)."""
        return self.state in OPEN_STATES and self.first_contact_at is None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the store (datetimes stay datetimes); `next_due_at` is derived, for the sweep."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        doc["parties"] = [asdict(party) for party in self.parties]
        doc["risk_matches"] = list(self.risk_matches)
        if self.agreement is not None:
            doc["agreement"] = {"terms": self.agreement.terms, "signatures": dict(self.agreement.signatures)}
        doc["history"] = [asdict(entry) for entry in self.history]
        doc["mediators"] = [asdict(m) for m in self.mediators]
        doc["next_due_at"] = self.next_due_at
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Dispute:
        """The inverse of `to_dict`; other keys (`_id`, `outbox`, `next_due_at`) are ignored and
        naive datetimes, as a Mongo client returns them, are read as UTC."""
        values = {f.name: doc[f.name] for f in fields(cls) if f.name not in ("events", *_ADDED_LATER)}
        values["settled_by"] = doc.get("settled_by")
        values["mediators"] = [Mediator(**{**m, "joined_at": as_utc(m["joined_at"])}) for m in doc.get("mediators", [])]
        for name in _DATETIME_FIELDS:
            values[name] = as_utc(values[name])
        values["parties"] = [Party(**party) for party in doc["parties"]]
        values["risk_matches"] = list(doc["risk_matches"])
        if (agreement := doc["agreement"]) is not None:
            values["agreement"] = Agreement(agreement["terms"], dict(agreement["signatures"]))
        values["history"] = [HistoryEntry(**{**entry, "at": as_utc(entry["at"])}) for entry in doc["history"]]
        return cls(**values)

    # --- internals --------------------------------------------------------------------------

    @property
    def _awaits_first_contact(self) -> bool:
        return self.state in OPEN_STATES and self.first_contact_at is None and not self.overdue

    @property
    def _awaits_followup(self) -> bool:
        return self.state == "resolved" and not self.followup_notified and self.followup_done_at is None

    def _signers(self) -> dict[str, str]:
        """Signer key -> how a missing signature is named in a refusal."""
        signers = {party.party_id: f"{party.party_id} ({party.name})" for party in self.parties}
        return signers | {MEDIATOR: MEDIATOR, WITNESS: WITNESS}

    def _level(self) -> str:
        return self.level


#: fields a dispute stored before them does not have
_ADDED_LATER = ("mediators", "settled_by")

_DATETIME_FIELDS = (
    "reported_at",
    "first_contact_due_at",
    "first_contact_at",
    "overdue_flagged_at",
    "resolved_at",
    "followup_due_at",
    "followup_done_at",
)


def _rank(level: str) -> int:
    return LEVELS.index(level)


def _check_parties(parties: list[Party]) -> None:
    if not parties:
        raise DisputeRefused("a dispute needs at least one party")
    ids = [party.party_id for party in parties]
    if len(set(ids)) != len(ids):
        raise DisputeRefused("party ids must be unique within a dispute")
    if {MEDIATOR, WITNESS} & set(ids):
        raise DisputeRefused(f"{MEDIATOR!r} and {WITNESS!r} are signer keys, not party ids")
