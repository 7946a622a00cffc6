"""What a case event asks of notify: which callbacks to schedule, supersede or assign.

The service keeps one small `Case` record per case_id (its own document) beside the callbacks.
It says what notify has seen of the case, so events in any order and any number of times give
the same callbacks:

| event (case record before)      | callbacks                                             | record after     |
|---------------------------------|-------------------------------------------------------|------------------|
| accepted (none)                 | one unsolved_7d per party (1)                         | accepted         |
| accepted (already accepted)     | nothing: a duplicate, same or new msg id              | unchanged        |
| accepted (solved, not accepted) | no unsolved_7d: the case is solved (2)                | accepted, solved |
| solved (not solved)             | open unsolved_7d superseded, solved_3d per party (3)  | solved           |
| solved (already solved)         | nothing: a duplicate; the first solving counts        | unchanged        |

(1) A party without a phone (or opted out) is manual at once; a case accepted more than 7 days
    ago is overdue at once, never skipped.
(2) `assign` lists the solved_3d ids of the parties already known, to be given the case's officer
    and unit; a party only this accepted event names gets its solved_3d from the solving time.
(3) The open unsolved_7d callbacks handed in are superseded in place (returned in `superseded`);
    one solved_3d per party of the event (both sides), and per party of the accepted event it
    does not name.

A solved event before its accepted one (the case system publishes out of order) leaves a record
with `solved_at` set and `accepted_at` None: the late accepted event then knows the case is
solved and creates no 7-day callback.

Deadlines come from `deadlines.deadline` with the station's holiday settings (`CallbackRules`),
its warnings are returned in `CasePlan.warnings` for the service to log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from common.domain import as_utc
from notify.domain.deadlines import DEFAULT_ZONE, Rule, deadline
from notify.domain.holidays import WorkCalendar
from notify.domain.model import Callback, callback_id_for
from notify.domain.schedule import SendPolicy


@dataclass(frozen=True)
class CaseParty:
    party_id: str
    name: str = ""
    phone: str | None = None
    role: str = "party"


@dataclass(frozen=True)
class CaseAccepted:
    """The `cases.accepted` payload, as the service hands it to the domain."""

    case_id: str
    kind: str  # criminal | administrative
    accepted_at: datetime
    officer_id: str
    unit_id: str | None
    parties: tuple[CaseParty, ...]


@dataclass(frozen=True)
class CaseSolved:
    """The `cases.solved` payload: the parties of both sides."""

    case_id: str
    solved_at: datetime
    parties: tuple[CaseParty, ...]


@dataclass(frozen=True)
class Case:
    """What notify has seen of a case; stored by the service, one document per case_id."""

    case_id: str
    accepted_at: datetime | None = None
    solved_at: datetime | None = None
    kind: str | None = None
    officer_id: str | None = None
    unit_id: str | None = None
    parties: tuple[CaseParty, ...] = ()  # every party the case events named, first seen first

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def solved(self) -> bool:
        return self.solved_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "case_id": self.case_id,
            "accepted_at": self.accepted_at,
            "solved_at": self.solved_at,
            "kind": self.kind,
            "officer_id": self.officer_id,
            "unit_id": self.unit_id,
            "parties": [vars(party).copy() for party in self.parties],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> Case:

        parties = doc.get("parties") or []
        return cls(
            case_id=str(doc["case_id"]),
            accepted_at=as_utc(doc.get("accepted_at")),  # type: ignore[arg-type]
            solved_at=as_utc(doc.get("solved_at")),  # type: ignore[arg-type]
            kind=doc.get("kind"),  # type: ignore[arg-type]
            officer_id=doc.get("officer_id"),  # type: ignore[arg-type]
            unit_id=doc.get("unit_id"),  # type: ignore[arg-type]
            parties=tuple(CaseParty(**party) for party in parties),  # type: ignore[union-attr]
        )


@dataclass(frozen=True)
class CallbackRules:
    """The station's callback settings."""

    zone: ZoneInfo = DEFAULT_ZONE
    holiday_extension: bool = False
    calendars: tuple[WorkCalendar, ...] = ()  # station file first, then ChineseCalendar()
    policy: SendPolicy = field(default_factory=SendPolicy)


@dataclass
class CasePlan:
    """The result of a case event: the new case record and what to do with callbacks."""

    case: Case
    schedule: list[Callback] = field(default_factory=list)  # to insert (an existing id: skip it)
    superseded: list[Callback] = field(default_factory=list)  # open unsolved_7d given, now superseded: to save
    assign: list[str] = field(default_factory=list)  # solved_3d ids to give the case's officer
    warnings: list[str] = field(default_factory=list)  # to log

    @property
    def changed(self) -> bool:
        return bool(self.schedule or self.superseded or self.assign)


def on_case_accepted(
    case: Case | None,
    event: CaseAccepted,
    *,
    now: datetime,
    rules: CallbackRules,
    opted_out: Iterable[str] = (),
) -> CasePlan:
    """The plan for a `cases.accepted` event; `opted_out` are the phones on the opt-out list."""
    known = case or Case(event.case_id)
    if known.accepted:
        return CasePlan(case=known)
    record = replace(
        known,
        accepted_at=event.accepted_at,
        kind=event.kind,
        officer_id=event.officer_id,
        unit_id=event.unit_id,
        parties=_new_parties((), event.parties),
    )
    plan = CasePlan(case=record)
    if known.solved_at is not None:
        plan.assign = [callback_id_for(event.case_id, party.party_id, "solved_3d") for party in known.parties]
        new = _new_parties(known.parties, event.parties)
        plan.case = replace(record, parties=(*known.parties, *new))
        _schedule(plan, "solved_3d", known.solved_at, new, now, rules, opted_out)
        return plan
    _schedule(plan, "unsolved_7d", event.accepted_at, record.parties, now, rules, opted_out)
    return plan


def on_case_solved(
    case: Case | None,
    event: CaseSolved,
    *,
    now: datetime,
    rules: CallbackRules,
    open_unsolved: Iterable[Callback] = (),
    opted_out: Iterable[str] = (),
) -> CasePlan:
    """The plan for a `cases.solved` event; `open_unsolved` are the case's open unsolved_7d callbacks."""
    known = case or Case(event.case_id)
    if known.solved:
        return CasePlan(case=known)
    parties = (*_new_parties((), event.parties), *_new_parties(event.parties, known.parties))
    record = replace(known, solved_at=event.solved_at, parties=(*known.parties, *_new_parties(known.parties, parties)))
    plan = CasePlan(case=record)
    _schedule(plan, "solved_3d", event.solved_at, parties, now, rules, opted_out)
    for callback in open_unsolved:
        if callback.rule == "unsolved_7d" and callback.is_open and callback.case_id == event.case_id:
            by = callback_id_for(event.case_id, callback.party_id, "solved_3d")
            callback.supersede(now=now, superseded_by=by)
            plan.superseded.append(callback)
    return plan


def _new_parties(known: Iterable[CaseParty], named: Iterable[CaseParty]) -> tuple[CaseParty, ...]:
    """The parties of `named` not in `known`, each once, in order."""
    seen = {party.party_id for party in known}
    new = []
    for party in named:
        if party.party_id not in seen:
            seen.add(party.party_id)
            new.append(party)
    return tuple(new)


def _schedule(
    plan: CasePlan,
    rule: Rule,
    start: datetime,
    parties: Sequence[CaseParty],
    now: datetime,
    rules: CallbackRules,
    opted_out: Iterable[str],
) -> None:
    """Add to `plan` one callback under `rule` per party, each party once."""
    case = plan.case
    due = deadline(start, rule, rules.zone, holiday_extension=rules.holiday_extension, calendars=rules.calendars)
    plan.warnings.extend(due.warnings)
    blocked = set(opted_out)
    for party in _new_parties((), parties):
        plan.schedule.append(
            Callback.schedule(
                now=now,
                case_id=case.case_id,
                party_id=party.party_id,
                rule=rule,
                start_at=start,
                due_at=due.due_at,
                policy=rules.policy,
                party_name=party.name,
                phone=party.phone,
                officer_id=case.officer_id,
                unit_id=case.unit_id,
                opted_out=bool(party.phone) and party.phone in blocked,
            )
        )
