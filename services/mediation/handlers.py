"""Use cases of mediation, one function each: a report, an action or a timer in, the store and events out."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import structlog

from common.clock import Clock
from common.contracts import alerts as alert_contract
from common.contracts import disputes as contract
from common.contracts.base import Event
from common.errors import Conflict, Invalid
from common.event_table import EventTable, Row, by_key
from common.event_table import public_events as table_events
from common.outbox import RawPublisher
from common.unit_of_work import UnitOfWork
from mediation.adapters.store import Disputes, RequestIds
from mediation.domain import (
    RECURRENCE_WINDOW,
    Agreement,
    Dispute,
    DisputeRefused,
    DisputeStats,
    FirstContactRule,
    Party,
    RiskRules,
    dispute_stats,
    find_recurrence,
    recurrence_keys,
)
from mediation.domain import events as ev
from mediation.settings import MediationSettings

log = structlog.get_logger(__name__)

Staged = list[tuple[Event, str]]


@dataclass
class Mediation:
    """Everything a use case needs; `bootstrap` wires it (real adapters, or in-memory ones in tests)."""

    settings: MediationSettings
    clock: Clock
    publisher: RawPublisher
    disputes: Disputes
    requests: RequestIds
    risk_rules: RiskRules | None = None  # None: the packaged rules

    def __post_init__(self) -> None:
        self.uow = UnitOfWork(self.disputes, self.publisher, lambda d: public_events(d, self.station), kind="dispute")

    @property
    def station(self) -> Station:
        return self.settings.station_lon, self.settings.station_lat


@dataclass(frozen=True)
class Report:
    """What a reporter tells (the command that opens a dispute); the service adds its id and time."""

    source: str
    reported_by: str
    category: str
    summary: str
    parties: tuple[Party, ...]
    source_ref: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    unit_id: str | None = None
    officer_id: str | None = None

    def open(
        self, dispute_id: str, reported_at: datetime, recurrence_of: str | None, rules: RiskRules | None,
        contact_rule: FirstContactRule | None = None,
    ) -> Dispute:
        told = {f.name: getattr(self, f.name) for f in fields(self)}
        return Dispute.open(dispute_id=dispute_id, reported_at=reported_at, recurrence_of=recurrence_of,
                            risk_rules=rules, contact_rule=contact_rule, **told)


# --- ids ---------------------------------------------------------------------------------------


def _prefixed(prefix: str, ident: str) -> str:
    """`prefix + ident`, or a digest of `ident` when that would pass the 64 characters of an id."""
    text = prefix + ident
    return text if len(text) <= 64 else prefix + hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()


def dispute_id_for_alert(alert_id: str) -> str:
    """One alert opens at most one dispute: its id is derived from the alert's."""
    return _prefixed("D-", alert_id)


def raised_alert_id(dispute_id: str) -> str:
    """The alert a high-risk dispute raises for dispatch."""
    return _prefixed("MED-", dispute_id)


def _new_dispute_id(m: Mediation, now: datetime) -> str:
    return f"D-{now.astimezone(m.settings.zone):%Y%m%d}-{uuid.uuid4().hex[:8]}"


# --- what mediation tells the others -----------------------------------------------------------

#: where the alert a high-risk dispute raises is placed when the dispute has no coordinates
Station = tuple[float, float]


def _public_parties(dispute: Dispute) -> list[alert_contract.Party]:
    # the 身份证号 stays in mediation's store: events are kept in the stream for a year
    return [alert_contract.Party(party_id=p.party_id, name=p.name, phone=p.phone, role=p.role or "party")
            for p in dispute.parties]


def _opened(station: Station, dispute: Dispute, event: ev.DisputeOpened) -> Event:
    return contract.DisputeOpened(
        **asdict(event), state=dispute.state, summary=dispute.summary, risk_matches=dispute.risk_matches,
        address=dispute.address, lon=dispute.lon, lat=dispute.lat, parties=_public_parties(dispute),
        first_contact_due_at=dispute.first_contact_due_at,
    )


def _raised_alert(station: Station, dispute: Dispute, event: ev.DisputeHighRisk) -> Event:
    """A threat of violence goes to dispatch as an urgent alert, so a unit goes now."""
    located = event.lon is not None and event.lat is not None
    lon, lat = (event.lon, event.lat) if located else station
    return alert_contract.AlertReceived(
        alert_id=raised_alert_id(dispute.dispute_id), received_at=event.at, category="violence", priority=1,
        location=alert_contract.Location(lon=lon, lat=lat, address=event.address),
        caller_phone=next((p.phone for p in dispute.parties if p.phone), None),
        summary=event.summary[:2000], source="mediation", parties=_public_parties(dispute),
    )


#: every domain event of a dispute -> its public contract; msg ids `<dispute_id>/<kind>/<history length>`,
#: the raised alert's is its id, as the 110 desk sends it
EVENTS: EventTable[Station] = {
    ev.DisputeOpened: Row(contract.DisputeOpened, _opened),
    ev.DisputeHighRisk: Row(alert_contract.AlertReceived, _raised_alert, by_key),
    ev.DisputeContacted: Row(contract.DisputeContacted),
    ev.DisputeEscalated: Row(contract.DisputeEscalated),
    ev.DisputeResolved: Row(contract.DisputeResolved),
    ev.DisputeClosedUnresolved: Row(contract.DisputeClosed),
    ev.DisputeReopened: Row(contract.DisputeReopened),
    ev.DisputeOverdue: Row(contract.DisputeOverdue),
    ev.DisputeFollowupDue: Row(contract.DisputeFollowupDue),
}


def public_events(dispute: Dispute, station: Station) -> Staged:
    """The events the dispute recorded since it was loaded, as public contracts with deterministic msg ids."""
    return table_events(EVENTS, station, dispute)


# --- loading and acting ------------------------------------------------------------------------


async def load(m: Mediation, dispute_id: str) -> Dispute:
    """The dispute, with any event a crash left unpublished sent first; NotFound if there is none."""
    return await m.uow.get(dispute_id)


async def _act(m: Mediation, dispute_id: str, command: Callable[[Dispute, datetime], Any]) -> Dispute:
    return await m.uow.act(dispute_id, lambda dispute: command(dispute, m.clock.now()))


# --- opening -----------------------------------------------------------------------------------


async def _open(m: Mediation, dispute_id: str, report: Report, reported_at: datetime) -> tuple[Dispute, bool]:
    """Open the dispute, linked to a recurrence; (the stored one, False) if it is open already.

    Invalid (naming the parties) when the parties cannot open a dispute.
    """
    if await m.disputes.get(dispute_id) is None:
        earlier = await m.disputes.recurrence_candidates(reported_at - RECURRENCE_WINDOW)
        recurrence_of = find_recurrence(recurrence_keys(report), earlier, now=reported_at)
        try:
            dispute = report.open(dispute_id, reported_at, recurrence_of, m.risk_rules, m.settings.contact_rule)
        except DisputeRefused as exc:  # at opening only the parties can be refused
            raise Invalid("parties", exc.reason) from exc
        if await m.uow.add(dispute):
            log.info("dispute.opened", dispute_id=dispute_id, source=report.source, level=dispute.level,
                     high_risk=dispute.high_risk, recurrence_of=recurrence_of)
            return dispute, True
        # else: the same report, opened meanwhile by another delivery or replica
    return await load(m, dispute_id), False


async def report_dispute(m: Mediation, report: Report, request_id: str | None = None) -> tuple[Dispute, bool]:
    """An informant's report, a household visit or the desk; a retry with the same request_id opens nothing new."""
    now = m.clock.now()
    dispute_id = _new_dispute_id(m, now)
    if request_id:
        dispute_id = await m.requests.dispute_for(request_id, dispute_id)
    return await _open(m, dispute_id, report, now)


def report_of_alert(event: alert_contract.AlertClosed) -> Report:
    parties = tuple(Party(**p.model_dump()) for p in event.parties)
    caller = Party("caller", "报警人", phone=event.caller_phone, role="caller")
    return Report(
        source="alert", source_ref=event.alert_id, reported_by=event.officer_id, category=event.category,
        summary="；".join(text for text in (event.summary, event.note) if text), parties=parties or (caller,),
        address=event.location.address, lon=event.location.lon, lat=event.location.lat,
        unit_id=event.unit_id, officer_id=event.officer_id,
    )


async def open_from_alert(m: Mediation, event: alert_contract.AlertClosed) -> None:
    """alerts.closed as referred_to_mediation -> a dispute at the scene gate; other dispositions are not ours.

    A redelivery finds the dispute and publishes what its first delivery left staged, with the same msg ids.
    """
    if event.disposition != "referred_to_mediation":
        return
    await _open(m, dispute_id_for_alert(event.alert_id), report_of_alert(event), event.at)


# --- actions on a dispute ----------------------------------------------------------------------


async def contact(m: Mediation, dispute_id: str, *, actor: str, note: str) -> Dispute:
    return await _act(m, dispute_id, lambda d, now: d.contact(now=now, actor=actor, note=note))


async def escalate(m: Mediation, dispute_id: str, *, actor: str, to_level: str | None, reason: str) -> Dispute:
    return await _act(m, dispute_id, lambda d, now: d.escalate(now=now, actor=actor, to_level=to_level, reason=reason))


async def resolve(m: Mediation, dispute_id: str, *, actor: str, terms: str, signatures: dict[str, str]) -> Dispute:
    agreement = Agreement(terms, signatures)
    return await _act(m, dispute_id, lambda d, now: d.resolve(now=now, actor=actor, agreement=agreement))


async def close_unresolved(m: Mediation, dispute_id: str, *, actor: str, reason: str, referred_to: str) -> Dispute:
    return await _act(
        m, dispute_id, lambda d, now: d.close_unresolved(now=now, actor=actor, reason=reason, referred_to=referred_to)
    )


async def reopen(m: Mediation, dispute_id: str, *, actor: str, reason: str) -> Dispute:
    return await _act(m, dispute_id, lambda d, now: d.reopen(now=now, actor=actor, reason=reason))


async def record_followup(m: Mediation, dispute_id: str, *, actor: str, note: str) -> Dispute:
    return await _act(m, dispute_id, lambda d, now: d.record_followup(now=now, actor=actor, note=note))


# --- timers and figures ------------------------------------------------------------------------


async def sweep_deadlines(m: Mediation) -> int:
    """Flag each first contact past its deadline and each follow-up visit due, once; the flags live in the store."""
    due = await m.disputes.due(m.clock.now())
    for dispute_id in due:
        try:
            await _act(m, dispute_id, lambda d, now: d.check_deadlines(now))
        except Conflict as exc:  # busy: the next sweep finds it again
            log.warning("deadline.deferred", dispute_id=dispute_id, error=str(exc))
    return len(due)


async def stats(m: Mediation, start: datetime, end: datetime) -> DisputeStats:
    """The figures of the disputes reported in [start, end)."""
    return dispute_stats(await m.disputes.reported_between(start, end))
