"""Use cases of dispatch, one function each: a command or event in, the store and events out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

import structlog

from common.bus import Publisher
from common.clock import Clock
from common.consume import Delivery
from common.contracts import alerts as contract
from common.contracts.base import Event
from common.http import Conflict, NotFound
from common.mongo import VersionConflict
from common.outbox import fetch, publish_staged
from dispatch.adapters.store import UNIT_CHUNK, AlertStore, Claim, GridStore, HeldClaim, UnitStore, alert_from
from dispatch.domain.alerts import Alert, AlertRefused
from dispatch.domain.assignment import candidate_for, rank_candidates
from dispatch.domain.grid import GridParse, parse_grid
from dispatch.settings import DispatchSettings
from dispatch.view import GridView

log = structlog.get_logger(__name__)

Staged = list[tuple[Event, str]]


@dataclass
class Dispatch:
    """Everything a use case needs; `bootstrap` wires it."""

    settings: DispatchSettings
    clock: Clock
    publisher: Publisher
    grids: GridStore
    units: UnitStore
    alerts: AlertStore
    view: GridView

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.ack_timeout_s)


# --- what dispatch tells the others ------------------------------------------------------------


def _location(alert: Alert) -> contract.Location:
    return contract.Location(lon=alert.lon, lat=alert.lat, address=alert.address)


def placement_event(d: Dispatch, alert: Alert) -> tuple[Event, str]:
    """The fact of the alert's current placement; the same msg id each time it is derived."""
    attempt = len(alert.assignments)
    common = {"alert_id": alert.alert_id, "category": alert.category, "priority": alert.priority,
              "location": _location(alert)}
    if alert.unit_id is None:
        return (contract.AlertUnassigned(**common, at=alert.assignments[-1].at),
                f"{alert.alert_id}/unassigned/{attempt}")
    return (
        contract.AlertAssigned(
            **common, at=alert.assigned_at, unit_id=alert.unit_id, reason=alert.reason,
            distance_m=round(alert.distance_m or 0.0, 1), attempt=attempt, ack_due_at=alert.ack_due_at,
            officers=d.view.officers(alert.unit_id),
        ),
        f"{alert.alert_id}/assigned/{attempt}",
    )


def released_event(alert: Alert, unit_id: str, why: str) -> tuple[Event, str]:
    attempt = len(alert.assignments)
    event = contract.AlertReleased(alert_id=alert.alert_id, at=alert.assignments[-1].ended_at, unit_id=unit_id, why=why)
    return event, f"{alert.alert_id}/released/{attempt}"


# --- placing an alert --------------------------------------------------------------------------


async def _claim_best(d: Dispatch, alert: Alert, *, careful: bool) -> None:
    """Claim the best unit that can take the alert, or give it to the duty desk.

    `careful` first takes over a claim that an interrupted earlier try left behind; a
    first delivery of a new alert cannot have one, and skips that read.
    """
    now = d.clock.now()
    grid = d.view.grid
    if grid is None:
        if alert.state == "received":
            alert.send_to_duty_desk(now)  # no grid loaded yet: the duty desk holds everything
        return
    if careful:
        leftover = await d.units.holder_of(alert.alert_id)
        if leftover is not None:
            if grid.get(leftover) is not None and leftover not in alert.excluded_units():
                alert.assign(candidate_for(grid, leftover, alert.lon, alert.lat), now, d.ack_timeout)
                return
            await _release_claim(d, leftover, alert.alert_id)
    candidates = rank_candidates(
        grid, alert.lon, alert.lat, loads=d.view.loads, statuses=d.view.statuses,
        radius_m=d.settings.overflow_radius_m, exclude=alert.excluded_units(), limit=8,
    )
    for candidate in candidates:
        claim = await d.units.claim(candidate.unit_id, alert.alert_id, now, grid.get(candidate.unit_id).capacity)
        if claim is not Claim.REFUSED:
            if claim is Claim.CLAIMED:
                await d.view.note_load(candidate.unit_id, +1)
            alert.assign(candidate, now, d.ack_timeout)
            return
    if alert.state == "received":
        alert.send_to_duty_desk(now)


async def receive_alert(d: Dispatch, event: contract.AlertReceived, delivery: Delivery) -> None:
    """alerts.received -> the alert is placed with a unit (or the duty desk) and the fact published."""
    alert = Alert.receive(
        alert_id=event.alert_id, received_at=event.received_at, category=event.category,
        priority=event.priority, lon=event.location.lon, lat=event.location.lat,
        address=event.location.address, caller_phone=event.caller_phone, summary=event.summary,
        source=event.source, parties=[p.model_dump() for p in event.parties],
    )
    await _claim_best(d, alert, careful=delivery.redelivered)
    try:
        await d.alerts.insert_new(alert)
    except VersionConflict:
        # a duplicate, or a redelivery after a crash: the stored alert stands. Publish its placement
        # again (the same msg id) unless it has moved on, when later facts have told it all
        await _give_back_unless_won(d, alert)
        stored = await load(d, alert.alert_id)
        if stored.state in ("assigned", "unassigned"):
            await d.publisher.publish(*placement_event(d, stored))
        return
    await d.publisher.publish(*placement_event(d, alert))
    log.info("alert.placed", alert_id=alert.alert_id, unit_id=alert.unit_id, reason=alert.reason,
             distance_m=alert.distance_m)


async def _release_claim(d: Dispatch, unit_id: str, alert_id: str) -> bool:
    """Give back the unit's place held for the alert; this replica's view sees it at once."""
    released = await d.units.release(unit_id, alert_id)
    if released:
        await d.view.note_load(unit_id, -1)
    return released


async def _give_back_unless_won(d: Dispatch, lost: Alert) -> None:
    """Our save lost a race: release the unit we claimed, unless the winner holds the alert there too.

    A claim is per (unit, alert), so both replicas may have "claimed" the same place; the
    stored alert says who holds it.
    """
    if lost.unit_id is None:
        return
    winner = await d.alerts.get(lost.alert_id)
    held = winner is not None and winner.unit_id == lost.unit_id and winner.state in ("assigned", "acknowledged")
    if not held:  # e.g. a duplicate of an alert already closed: its unit holds nothing for it any more
        await _release_claim(d, lost.unit_id, lost.alert_id)


async def _save_and_publish(d: Dispatch, alert: Alert, staged: Staged) -> None:
    doc = await d.alerts.save(alert, staged)
    await publish_staged(d.alerts.collection, doc, d.publisher)


async def load(d: Dispatch, alert_id: str) -> Alert:
    """The alert, with any event a crash left unpublished sent first."""
    doc = await fetch(d.alerts.collection, alert_id, d.publisher)
    if doc is None:
        raise NotFound("alert", alert_id)
    return alert_from(doc)


# --- commands from the API ---------------------------------------------------------------------


async def acknowledge(d: Dispatch, alert_id: str, unit_id: str) -> Alert:
    alert = await load(d, alert_id)
    before = alert.state
    try:
        alert.acknowledge(unit_id, d.clock.now())
    except AlertRefused as exc:
        raise Conflict(exc.reason) from exc
    if alert.state == before:
        return alert  # acknowledged twice: nothing new to say
    event = contract.AlertAcknowledged(
        alert_id=alert_id, at=alert.acknowledged_at, unit_id=unit_id,
        seconds_to_ack=(alert.acknowledged_at - alert.assigned_at).total_seconds(),
    )
    await _save_and_publish(d, alert, [(event, f"{alert_id}/acknowledged")])
    return alert


async def close(d: Dispatch, alert_id: str, *, unit_id: str, officer_id: str, disposition: str, note: str,
                signatures: dict[str, str], parties: list[dict]) -> Alert:
    alert = await load(d, alert_id)
    if alert.state == "closed" and alert.closure and alert.closure.disposition == disposition:
        return alert
    holder = alert.unit_id
    try:
        alert.close(unit_id=unit_id, officer_id=officer_id, disposition=disposition, note=note,
                    signatures=signatures, now=d.clock.now())
    except AlertRefused as exc:
        raise Conflict(exc.reason) from exc
    known = {p["party_id"] for p in alert.parties}
    alert.parties = [*alert.parties, *(p for p in parties if p["party_id"] not in known)]
    event = contract.AlertClosed(
        alert_id=alert_id, at=alert.closed_at, unit_id=unit_id, officer_id=officer_id,
        officers=d.view.officers(unit_id), disposition=disposition, note=note, signatures=signatures,
        category=alert.category, priority=alert.priority, location=_location(alert), summary=alert.summary,
        caller_phone=alert.caller_phone, parties=[contract.Party(**p) for p in alert.parties],
        received_at=alert.received_at,
    )
    doc = await d.alerts.save(alert, [(event, f"{alert_id}/closed")])
    if holder:
        await _release_claim(d, holder, alert_id)
    await publish_staged(d.alerts.collection, doc, d.publisher)
    return alert


async def set_unit_status(d: Dispatch, unit_id: str, status: str) -> None:
    if not await d.units.set_status(unit_id, status):
        raise NotFound("unit", unit_id)
    await d.publisher.publish(
        contract.UnitStatusChanged(unit_id=unit_id, status=status, at=d.clock.now()),
        f"{unit_id}/status/{d.clock.now().isoformat()}",
    )
    await d.view.refresh_unit(unit_id)
    if status == "off_duty":
        # alerts the unit has not acknowledged go to the next-best unit at once
        for alert_id in await d.alerts.held_unacknowledged_by(unit_id):
            await _release_and_place(d, alert_id, "unit_unavailable")


async def replace_grid(d: Dispatch, geojson: dict) -> tuple[GridParse, int]:
    parsed = parse_grid(geojson)
    if not parsed.ok:
        return parsed, d.view.version
    now = d.clock.now()
    warnings = [{"field": w.loc, "msg": w.message} for w in parsed.warnings]
    version = await d.grids.replace(geojson, warnings, now)
    retired = await d.units.sync_with_grid(parsed.units, version)
    await d.publisher.publish(contract.GridReplaced(grid_version=version, units=len(parsed.units), at=now),
                              f"grid/{version}")
    await d.view.refresh()
    for unit_id in retired:
        for alert_id in await d.alerts.held_unacknowledged_by(unit_id):
            await _release_and_place(d, alert_id, "unit_unavailable")
    log.info("grid.replaced", version=version, units=len(parsed.units), retired=retired)
    return parsed, version


# --- timers ------------------------------------------------------------------------------------


async def _release_and_place(d: Dispatch, alert_id: str, why: str) -> None:
    alert = await load(d, alert_id)
    now = d.clock.now()
    if alert.state != "assigned" or (why == "ack_timeout" and not alert.ack_overdue(now)):
        return
    unit_id = alert.release(now, "ack_timeout" if why == "ack_timeout" else "unit_unavailable")
    staged: Staged = [released_event(alert, unit_id, why)]
    await _claim_best(d, alert, careful=False)  # the old holder's claim goes only after the save
    staged.append(placement_event(d, alert))
    try:
        doc = await d.alerts.save(alert, staged)
    except VersionConflict:
        await _give_back_unless_won(d, alert)  # someone else moved it meanwhile (acknowledged, closed, placed)
        return
    await _release_claim(d, unit_id, alert_id)
    await publish_staged(d.alerts.collection, doc, d.publisher)
    log.info("alert.reassigned", alert_id=alert_id, from_unit=unit_id, to_unit=alert.unit_id, why=why)


async def sweep_ack_timeouts(d: Dispatch) -> int:
    due = await d.alerts.due_for_ack(d.clock.now())
    for alert_id in due:
        await _release_and_place(d, alert_id, "ack_timeout")
    return len(due)


async def place_waiting(d: Dispatch) -> int:
    """Offer alerts held by the duty desk to units again once one can take them."""
    placed = 0
    for alert_id in await d.alerts.waiting():
        alert = await load(d, alert_id)
        if alert.state not in ("unassigned", "received"):
            continue
        if alert.state == "unassigned" and not d.settings.retry_unassigned:
            continue
        was = alert.state
        # only an alert caught mid-release can have a claim left behind; the duty desk's hold none
        await _claim_best(d, alert, careful=was == "received")
        if alert.unit_id is None and was == "unassigned":
            continue  # still nobody: it stays with the duty desk, no new event
        try:
            await _save_and_publish(d, alert, [placement_event(d, alert)])
        except VersionConflict:
            await _give_back_unless_won(d, alert)
            continue
        placed += 1
    return placed


async def _release_if_orphaned(d: Dispatch, unit_id: str, alert_id: str) -> bool:
    """Release capacity that a crash left claimed by an alert the unit does not hold.

    One store read: True if the alert is not held by the unit and its place was given back.
    """
    alert = await d.alerts.get(alert_id)
    orphaned = alert is None or alert.unit_id != unit_id or alert.state not in ("assigned", "acknowledged")
    if orphaned and await _release_claim(d, unit_id, alert_id):
        log.warning("claim.released_stale", unit_id=unit_id, alert_id=alert_id)
        return True
    return False


#: a claim found held is looked at again only after this long. An open alert holds its place for
#: hours; looking at every held claim every round cost one store read per open alert every
#: `view_refresh_s` (~330 reads a second with 10,000 open alerts, each holding the store's lock)
CLAIM_RECHECK_S = 900.0
#: claims looked at per tick at most, never-looked-at ones first: the sweep stays a small, steady
#: cost, and a crash's leftovers are found within a few rounds
CLAIM_CHECKS_PER_TICK = 8


class UnitSweep:
    """Re-reads the units' live state and heals their stale claims, a slice every tick.

    Every unit comes round about every `view_refresh_s`, at most UNIT_CHUNK per tick: one
    read of every unit at once would hold the store, and the alerts being placed, for
    tens of milliseconds (more with a bigger grid). It remembers which claims it found
    held, and when (see CLAIM_RECHECK_S, CLAIM_CHECKS_PER_TICK).
    """

    def __init__(self, d: Dispatch, tick_s: float) -> None:
        self._d = d
        self._tick_s = tick_s
        self._due: list[str] = []
        self._per_tick = 1
        #: unit -> {(alert_id, claimed_at): when the claim was last found held}
        self._held: dict[str, dict[tuple[str, datetime], datetime]] = {}

    async def tick(self) -> int:
        """One slice; returns the claims released."""
        d = self._d
        if not self._due:  # a new round: a grid another replica replaced, and the units as known now
            await d.view.refresh_grid()
            self._due = d.view.unit_ids
            known = set(self._due)
            self._held = {u: held for u, held in self._held.items() if u in known}
            ticks = max(1.0, d.settings.view_refresh_s / self._tick_s)
            self._per_tick = max(1, min(UNIT_CHUNK, ceil(len(self._due) / ticks)))
        chunk, self._due = self._due[: self._per_tick], self._due[self._per_tick :]
        states, claims = await d.units.read(chunk)  # one query gives both
        d.view.note_states(states)
        return await self._check(chunk, claims)

    async def _check(self, chunk: list[str], claims: list[HeldClaim]) -> int:
        d = self._d
        now = d.clock.now()
        stale = timedelta(seconds=d.settings.stale_claim_s)
        recheck = timedelta(seconds=CLAIM_RECHECK_S)
        by_unit: dict[str, list[HeldClaim]] = {unit_id: [] for unit_id in chunk}
        for claim in claims:
            by_unit.setdefault(claim[0], []).append(claim)
        due: list[tuple[bool, datetime, HeldClaim]] = []
        for unit_id, held in by_unit.items():
            known = self._held.get(unit_id, {})
            # what the unit no longer holds is forgotten
            self._held[unit_id] = kept = {(a, at): known[(a, at)] for _, a, at in held if (a, at) in known}
            for claim in held:
                last = kept.get((claim[1], claim[2]))
                if now - claim[2] >= stale and (last is None or now - last >= recheck):
                    due.append((last is not None, last or claim[2], claim))
        due.sort(key=lambda entry: entry[:2])  # never looked at first, then the longest ago
        released = 0
        for _, _, (unit_id, alert_id, claimed_at) in due[:CLAIM_CHECKS_PER_TICK]:
            if await _release_if_orphaned(d, unit_id, alert_id):
                released += 1
                self._held[unit_id].pop((alert_id, claimed_at), None)
            else:
                self._held[unit_id][(alert_id, claimed_at)] = now
        return released
