"""Use cases of community, one function each: a visit, a report, an action, a timer or another service's fact in."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import structlog

from common.clock import Clock
from common.contracts import alerts as alert_contract
from common.contracts import callbacks as callback_contract
from common.contracts import community as contract
from common.contracts import disputes as dispute_contract
from common.contracts import ratings as rating_contract
from common.contracts.base import Event
from common.errors import Conflict, Invalid, NotFound
from common.event_table import EventTable, Row, once, public_events
from common.outbox import Effect, RawPublisher
from common.timefmt import month_label
from common.unit_of_work import UnitOfWork
from community.adapters.audit import AuditTrail, Read
from community.adapters.store import TOTALS, GridCopy, Hazards, KeyPersons, Sheets, SheetTotals, Visits
from community.domain import events as ev
from community.domain.grid import Grid
from community.domain.hazards import Hazard, HazardRefused
from community.domain.keypersons import KeyPerson, KeyPersonRefused
from community.domain.scorecard import MonthSheet, SheetRefused, SheetRow, SheetRules, score, summed
from community.domain.visits import Finding, Visit, VisitRefused
from community.settings import CommunitySettings

log = structlog.get_logger(__name__)

#: a sheet is changed by many facts at once (a unit's officers, every service): it is tried again more often
SHEET_ATTEMPTS = 10


@dataclass
class Community:
    """Everything a use case needs; `bootstrap` wires it (real adapters, or in-memory ones in tests)."""

    settings: CommunitySettings
    clock: Clock
    publisher: RawPublisher
    visits: Visits
    hazards: Hazards
    keypersons: KeyPersons
    sheets: Sheets
    grid: GridCopy
    audit: AuditTrail
    rules: SheetRules
    totals: SheetTotals

    def __post_init__(self) -> None:
        def staged(aggregate: Any) -> list[tuple[Event, str]]:
            return public_events(EVENTS, self, aggregate)

        self.visit_uow = UnitOfWork(self.visits, self.publisher, staged, kind="visit")
        self.hazard_uow = UnitOfWork(self.hazards, self.publisher, staged, kind="hazard", refusal=HazardRefused)
        self.person_uow = UnitOfWork(self.keypersons, self.publisher, staged, kind="key person",
                                     refusal=KeyPersonRefused)
        self.sheet_uow = UnitOfWork(self.sheets, self.publisher, _totals_effect, kind="sheet", refusal=SheetRefused,
                                    attempts=SHEET_ATTEMPTS, effects={TOTALS: self._keep_totals})

    async def _keep_totals(self, msg_id: str, data: str) -> None:
        told = json.loads(data)
        await self.totals.put(told["officer_id"], told["month"], told["counts"], told["version"])

    def month(self, moment: datetime) -> str:
        return month_label(moment, self.settings.zone)

    async def relay(self) -> int:
        return sum([await uow.relay() for uow in (self.visit_uow, self.hazard_uow, self.person_uow, self.sheet_uow)])


# --- what community tells the others -----------------------------------------------------------


def _finding(f: Finding) -> contract.Finding:
    return contract.Finding(**{**asdict(f), "parties": [asdict(p) for p in f.parties]})


def _visit(c: Community, visit: Visit, event: ev.VisitRecorded) -> Event:
    return contract.VisitRecorded(
        visit_id=visit.visit_id, at=event.at, visited_at=visit.visited_at, month=c.month(visit.visited_at),
        officer_id=visit.officer_id, unit_id=visit.unit_id, household=visit.household, address=visit.address,
        lon=visit.lon, lat=visit.lat, met=visit.met, opinions=visit.opinions,
        findings=[_finding(f) for f in visit.findings],
    )


def _hazard_reported(c: Community, hazard: Hazard, event: ev.HazardReported) -> Event:
    told = {k: getattr(hazard, k) for k in ("source", "source_ref", "reported_by", "place", "lon", "lat", "unit_id",
                                           "severity", "responsible_unit", "due_at")}
    return contract.HazardReported(hazard_id=hazard.hazard_id, at=event.at, month=c.month(hazard.reported_at),
                                   kind=hazard.hazard_kind, **told)


#: every domain event of community -> its public contract; msg ids `<id>/<kind>/<history length>`, a visit's
#: `<visit_id>/recorded`
EVENTS: EventTable[Community] = {
    ev.VisitRecorded: Row(contract.VisitRecorded, _visit, once("recorded")),
    ev.HazardReported: Row(contract.HazardReported, _hazard_reported),
    ev.HazardAssigned: Row(contract.HazardAssigned),
    ev.HazardRectified: Row(contract.HazardRectified),
    ev.HazardVerified: Row(contract.HazardVerified),
    ev.HazardRejected: Row(contract.HazardRejected),
    ev.HazardOverdue: Row(contract.HazardOverdue),
    ev.KeyPersonRegistered: Row(contract.KeyPersonRegistered),
    ev.KeyPersonReviewed: Row(contract.KeyPersonReviewed),
    ev.KeyPersonNoted: Row(contract.KeyPersonNoted),
    ev.KeyPersonReviewOverdue: Row(contract.KeyPersonReviewOverdue),
}


def _totals_effect(sheet: MonthSheet) -> list[tuple[Effect, str]]:
    """A sheet's save stages its counters for the scorecard's small documents (applied right after the save, or
    by the relay after a crash); the save makes the next version."""
    version = sheet.version + 1
    data = json.dumps({"officer_id": sheet.officer_id, "month": sheet.month, "counts": sheet.counts,
                       "version": version})
    return [(Effect(TOTALS, data), f"{sheet.sheet_id}/totals/{version}")]


# --- ids ---------------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _new_id(c: Community, prefix: str, request_id: str | None) -> str:
    """`<prefix>-YYYYMMDD-<8 hex>`, or one derived from the client's request_id so a retry names the same thing."""
    day = f"{c.clock.now().astimezone(c.settings.zone):%Y%m%d}"
    return f"{prefix}-{day}-{uuid.uuid4().hex[:8]}" if request_id is None else f"{prefix}-r{_digest(request_id)}"


def hazard_id_for_finding(visit_id: str, index: int) -> str:
    """One visit's finding opens one hazard, whatever the deliveries."""
    return f"H-{visit_id}.{index}"


# --- household visits --------------------------------------------------------------------------


async def _add_or_load(uow: UnitOfWork[Any], aggregate: Any, ident: str) -> tuple[Any, bool]:
    if await uow.add(aggregate):
        return aggregate, True
    return await uow.get(ident), False


async def record_visit(
    c: Community, *, officer_id: str, visited_at: datetime, household: str, address: str, lon: float, lat: float,
    met: Iterable[str] = (), opinions: str = "", findings: Iterable[Finding] = (), unit_id: str | None = None,
    request_id: str | None = None,
) -> tuple[Visit, bool]:
    """A visit, recorded once per request_id; Invalid naming the field the rules refuse."""
    findings = list(findings)
    for i, finding in enumerate(findings):
        if finding.kind == "key_person" and finding.person_id and await c.keypersons.get(finding.person_id) is None:
            raise Invalid(f"findings.{i}.person_id", f"no key person {finding.person_id!r} in the register")
    visit_id = _new_id(c, "V", request_id)
    try:
        visit = Visit.record(visit_id=visit_id, officer_id=officer_id, visited_at=visited_at, now=c.clock.now(),
                             household=household, address=address, lon=lon, lat=lat, grid=await c.grid.current(),
                             met=met, opinions=opinions, findings=findings, unit_id=unit_id)
    except VisitRefused as exc:
        if exc.field is None:
            raise Conflict(exc.reason) from exc
        raise Invalid(exc.field, exc.reason) from exc
    visit, new = await _add_or_load(c.visit_uow, visit, visit_id)
    if new:
        log.info("visit.recorded", visit_id=visit_id, officer_id=officer_id, unit_id=visit.unit_id,
                 findings=len(findings))
    return visit, new


async def visit_progress(c: Community, officer_id: str, month: str) -> dict[str, Any]:
    """The officer's visits in the month against the quota (每月走访60户以上)."""
    done = await c.visits.count_for(officer_id, month)
    quota = c.settings.visit_quota
    return {"officer_id": officer_id, "month": month, "visits": done, "quota": quota,
            "remaining": max(quota - done, 0), "reached": done >= quota}


async def follow_findings(c: Community, event: contract.VisitRecorded) -> None:
    """A visit's hazard findings open hazards here, then its key-person findings add notes; each once. A note on
    a person not in the register is NotFound (the event goes to the dead letters) after the hazards are open."""
    findings = list(enumerate(event.findings))
    for i, finding in findings:
        if finding.kind == "hazard":
            hazard = Hazard.report(
                hazard_id=hazard_id_for_finding(event.visit_id, i), source="visit", source_ref=event.visit_id,
                reported_by=event.officer_id, reported_at=event.visited_at, place=event.address, lon=event.lon,
                lat=event.lat, unit_id=event.unit_id, hazard_kind=finding.hazard_kind or "other",
                severity=finding.severity or "minor", responsible_unit=finding.responsible_unit or "",
                deadline_days=c.settings.hazard_deadline_days,
            )
            await c.hazard_uow.add(hazard)  # False: opened by an earlier delivery
    for i, finding in findings:
        if finding.kind == "key_person" and finding.person_id:
            ref = f"{event.visit_id}.{i}"
            await c.person_uow.act(finding.person_id, lambda p, f=finding, r=ref: p.note(
                now=event.at, actor=event.officer_id, text=f.summary, source="visit", source_ref=r))


# --- hazards -----------------------------------------------------------------------------------


async def report_hazard(
    c: Community, *, reported_by: str, place: str, kind: str, severity: str, responsible_unit: str,
    lon: float | None = None, lat: float | None = None, request_id: str | None = None,
) -> tuple[Hazard, bool]:
    """An information officer's report (信息员); located hazards are put in their grid unit."""
    grid = await c.grid.current()
    unit = grid.unit_at(lon, lat) if grid is not None and lon is not None and lat is not None else None
    hazard_id = _new_id(c, "H", request_id)
    hazard = Hazard.report(hazard_id=hazard_id, source="informant", reported_by=reported_by,
                           reported_at=c.clock.now(), place=place, lon=lon, lat=lat,
                           unit_id=unit.unit_id if unit else None, hazard_kind=kind, severity=severity,
                           responsible_unit=responsible_unit, deadline_days=c.settings.hazard_deadline_days)
    return await _add_or_load(c.hazard_uow, hazard, hazard_id)


async def act_on_hazard(c: Community, hazard_id: str, command: Callable[[Hazard, datetime], Any]) -> Hazard:
    return await c.hazard_uow.act(hazard_id, lambda h: command(h, c.clock.now()))


async def hazard_counts(c: Community, month: str, by: str = "responsible_unit") -> list[dict[str, Any]]:
    """Per responsible unit (责任单位) or per grid unit (`by` unit_id), of the hazards reported in the month: how
    many, how far they got, how many overdue."""
    counts: dict[str, dict[str, Any]] = {}
    for h in await c.hazards.reported_in(month):
        key = h.get(by) or "-"
        row = counts.setdefault(key, {by: key, "reported": 0, "assigned": 0, "rectified": 0, "verified": 0,
                                      "overdue": 0})
        row["reported"] += 1
        if h["state"] != "reported":
            row[h["state"]] += 1
        row["overdue"] += bool(h["overdue"])
    return sorted(counts.values(), key=lambda r: (-r["reported"], r[by]))


# --- key persons -------------------------------------------------------------------------------


async def register_key_person(c: Community, *, request_id: str | None = None, **told: Any) -> tuple[KeyPerson, bool]:
    person_id = _new_id(c, "K", request_id)
    grid = await c.grid.current()
    unit_id = told.pop("unit_id", None) or (grid.unit_of(told["officer_id"]) if grid else None)
    try:
        person = KeyPerson.register(person_id=person_id, now=c.clock.now(), unit_id=unit_id,
                                    cadences=c.settings.review_cadence_days, **told)
    except KeyPersonRefused as exc:
        raise Invalid("cadence_days", exc.reason) from exc
    return await _add_or_load(c.person_uow, person, person_id)


async def act_on_key_person(c: Community, person_id: str, command: Callable[[KeyPerson, datetime], Any]) -> KeyPerson:
    return await c.person_uow.act(person_id, lambda p: command(p, c.clock.now()))


async def read_key_persons(c: Community, persons: list[KeyPerson], *, who: str, roles: Iterable[str], route: str,
                           whole: bool) -> list[KeyPerson]:
    """Every read of the register is recorded: who, which role, which route, which persons, whole or masked."""
    await c.audit.read(Read(who, tuple(sorted(roles)), route, tuple(p.person_id for p in persons), c.clock.now(),
                            whole))
    return persons


# --- timers ------------------------------------------------------------------------------------


async def sweep_deadlines(c: Community) -> int:
    """Hazards past their deadline and key persons past their review, each flagged once."""
    now = c.clock.now()
    fired = 0
    for uow, store in ((c.hazard_uow, c.hazards), (c.person_uow, c.keypersons)):
        for ident in await store.due(now):
            try:
                await uow.act(ident, lambda a: a.check_deadlines(now))
                fired += 1
            except Conflict as exc:  # busy: the next sweep finds it again
                log.warning("deadline.deferred", ident=ident, error=str(exc))
    return fired


# --- the monthly sheet: other services' facts counted once each -------------------------------


async def count(c: Community, officer_id: str | None, at: datetime, key: str, deltas: dict[str, int]) -> None:
    """Count a fact on the officer's sheet of the month it happened in; once, however often it comes."""
    if not officer_id:
        log.info("sheet.unattributed", key=key)
        return
    month = c.month(at)
    ident = MonthSheet.ident(officer_id, month)
    for _ in range(2):
        try:
            await c.sheet_uow.act(ident, lambda s: s.count(key, deltas))
            return
        except NotFound:
            sheet = MonthSheet(officer_id, month)
            sheet.count(key, deltas)
            if await c.sheet_uow.add(sheet):
                return
    raise Conflict(f"sheet {ident} is being changed by someone else")


async def count_visit(c: Community, e: contract.VisitRecorded) -> None:
    await count(c, e.officer_id, e.visited_at, f"visit:{e.visit_id}", {"visits": 1})


async def count_callback(c: Community, e: callback_contract.CallbackCompleted | callback_contract.CallbackOverdue
                         ) -> None:
    """A callback counts once, when it was done or fell overdue: in time only if done before its deadline."""
    in_time = isinstance(e, callback_contract.CallbackCompleted) and not e.late
    await count(c, e.officer_id, e.at, f"callback:{e.callback_id}", {"callbacks_due": 1,
                                                                     "callbacks_in_time": int(in_time)})


async def count_rating(c: Community, e: rating_contract.RatingReceived) -> None:
    satisfied = e.level in ("satisfied", "basically")
    await count(c, e.officer_id, e.at, f"rating:{e.rating_id}", {"ratings": 1, "ratings_satisfied": int(satisfied)})


async def count_settlement(c: Community, e: dispute_contract.DisputeResolved) -> None:
    """A settlement counts for the dispute's officer (else whoever resolved it), at its level; a reopened dispute
    settled again counts again."""
    officer = e.officer_id or e.actor
    await count(c, officer, e.at, f"dispute:{e.dispute_id}:{e.at.timestamp():.0f}", {f"disputes_{e.level}": 1})


async def count_assignment(c: Community, e: alert_contract.AlertAssigned) -> None:
    for officer in e.officers:
        await count(c, officer, e.at, f"assigned:{e.alert_id}:{e.attempt}", {"alerts_assigned": 1})


async def count_acknowledgement(c: Community, e: alert_contract.AlertAcknowledged) -> None:
    """An acknowledgement is in time by construction: a late one finds the alert released and reassigned."""
    for officer in e.officers:
        await count(c, officer, e.at, f"acked:{e.alert_id}", {"alerts_acked": 1})


async def count_rectification(c: Community, e: contract.HazardVerified) -> None:
    await count(c, e.officer_id or e.actor, e.at, f"hazard:{e.hazard_id}", {"hazards_rectified": 1})


async def keep_grid(c: Community, e: alert_contract.GridReplaced) -> None:
    if e.grid is None:
        log.warning("grid.without_zones", grid_version=e.grid_version)
        return
    try:
        Grid.from_geojson(e.grid_version, e.grid)
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid("grid", f"not a grid of units with zones: {exc!r}") from exc
    if await c.grid.offer(e.grid_version, e.grid):
        log.info("grid.kept", grid_version=e.grid_version, units=e.units)


async def scorecard(c: Community, month: str, by: str) -> list[SheetRow]:
    """The month's sheet ranked: per officer (every officer of the grid, and anyone a fact named) or per unit."""
    sheets = await c.totals.of_month(month)
    grid = await c.grid.current()
    officers = sorted(set(sheets) | set(grid.officers if grid else ()))
    unit_of = {o: (grid.unit_of(o) if grid else None) for o in officers}
    if by == "officer":
        groups = {o: (sheets.get(o, {}), 1, unit_of[o]) for o in officers}
    else:
        members: dict[str, list[str]] = {}
        for o in officers:
            members.setdefault(unit_of[o] or "-", []).append(o)
        groups = {u: (summed(sheets.get(o, {}) for o in names), len(names), None) for u, names in members.items()}
    return score(c.rules, groups, c.settings.visit_quota)
