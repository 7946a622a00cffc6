"""Use cases of dispatch, one function each: a command or event in, the store and events out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from math import ceil
from typing import Any

import structlog
from prometheus_client import Counter

from common.bus import Publisher
from common.clock import Clock
from common.contracts import alerts as contract
from common.contracts.base import Event
from common.errors import Conflict, NotFound, Refused
from common.repository import Stored, VersionConflict
from common.timefmt import iso_week, week_bounds
from common.unit_of_work import UnitOfWork
from dispatch.adapters.store import (
    BEYOND_REACH,
    GRID_ID,
    UNIT_CHUNK,
    AlertStore,
    GridStore,
    PlaceTaken,
    UnitStore,
)
from dispatch.domain import events as ev
from dispatch.domain.alerts import Alert, AlertRefused, desk_order
from dispatch.domain.assignment import rank_candidates, within_reach
from dispatch.domain.events import GridReplaced, UnitStatusChanged
from dispatch.domain.grid import GridParse, GridUnit, parse_grid
from dispatch.domain.stats import alert_clusters, weekly_unit_stats
from dispatch.domain.units import GridRecord, Unit, UnitRefused
from dispatch.replica import ReplicaView
from dispatch.settings import DispatchSettings

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
    view: ReplicaView

    def __post_init__(self) -> None:
        def events(aggregate: Alert | Unit | GridRecord) -> Staged:
            return public_events(self, aggregate)

        self.uow = UnitOfWork(self.alerts, self.publisher, events, kind="alert", refusal=AlertRefused)
        self.unit_work = UnitOfWork(self.units, self.publisher, events, kind="unit", refusal=UnitRefused)
        self.grid_work = UnitOfWork(self.grids, self.publisher, events, kind="grid")

    async def relay(self) -> int:
        """Publish what saves left staged (a crash, a broker outage), of every kind of aggregate."""
        return sum([await work.relay() for work in (self.uow, self.unit_work, self.grid_work)])

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.ack_timeout_s)


# --- what dispatch tells the others: ONE table from domain events to public contracts --------


def _location(e: ev.AlertAssigned | ev.AlertUnassigned | ev.AlertClosed) -> contract.Location:
    return contract.Location(lon=e.lon, lat=e.lat, address=e.address)


def _assigned(d: Dispatch, alert: Alert, e: ev.AlertAssigned) -> tuple[Event, str]:
    return contract.AlertAssigned(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, reason=e.reason, distance_m=round(e.distance_m, 1),
        attempt=e.attempt, ack_due_at=e.ack_due_at, officers=d.view.officers(e.unit_id), category=e.category,
        priority=e.priority, location=_location(e),
    ), f"{e.alert_id}/assigned/{e.attempt}"


def _unassigned(d: Dispatch, alert: Alert, e: ev.AlertUnassigned) -> tuple[Event, str]:
    return contract.AlertUnassigned(
        alert_id=e.alert_id, at=e.at, category=e.category, priority=e.priority, location=_location(e),
    ), f"{e.alert_id}/unassigned/{e.attempt}"


def _acknowledged(d: Dispatch, alert: Alert, e: ev.AlertAcknowledged) -> tuple[Event, str]:
    return contract.AlertAcknowledged(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, seconds_to_ack=e.seconds_to_ack,
        officers=d.view.officers(e.unit_id),
    ), f"{e.alert_id}/acknowledged"


def _released(d: Dispatch, alert: Alert, e: ev.AlertReleased) -> tuple[Event, str]:
    why = "ack_timeout" if e.end == "ack_timeout" else "unit_unavailable"
    return contract.AlertReleased(alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, why=why), \
        f"{e.alert_id}/released/{e.attempt}"


def _closed(d: Dispatch, alert: Alert, e: ev.AlertClosed) -> tuple[Event, str]:
    return contract.AlertClosed(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, officer_id=e.officer_id, officers=d.view.officers(e.unit_id),
        disposition=e.disposition, note=e.note, signatures=e.signatures, category=e.category, priority=e.priority,
        location=_location(e), summary=e.summary, caller_phone=e.caller_phone,
        parties=[contract.Party(**p) for p in e.parties], received_at=e.received_at,
    ), f"{e.alert_id}/closed"


def _status_changed(d: Dispatch, unit: Unit, e: UnitStatusChanged) -> tuple[Event, str]:
    # one status change per save: the save that stages it makes the unit's next version
    return contract.UnitStatusChanged(unit_id=e.unit_id, status=e.status, at=e.at), \
        f"{e.unit_id}/status/{unit.version + 1}"


def _grid_replaced(d: Dispatch, record: GridRecord, e: GridReplaced) -> tuple[Event, str]:
    version = record.version + 1  # the save that stages it makes the next version: the new grid's
    return contract.GridReplaced(grid_version=version, units=e.units, at=e.at, grid=json.loads(record.geojson)), \
        f"grid/{version}"


#: every domain event of dispatch -> its public contract and deterministic msg id
PUBLIC: dict[type, Callable[[Dispatch, Any, Any], tuple[Event, str]]] = {
    ev.AlertAssigned: _assigned,
    ev.AlertUnassigned: _unassigned,
    ev.AlertAcknowledged: _acknowledged,
    ev.AlertReleased: _released,
    ev.AlertClosed: _closed,
    UnitStatusChanged: _status_changed,
    GridReplaced: _grid_replaced,
}


def public_events(d: Dispatch, aggregate: Alert | Unit | GridRecord) -> Staged:
    """The events the aggregate recorded since it was loaded, as public contracts with their msg ids."""
    return [PUBLIC[type(e)](d, aggregate, e) for e in aggregate.events]


# --- placing an alert --------------------------------------------------------------------------

#: a unit whose place turned out taken is read again and tried once more, then the next unit
TRIES_PER_UNIT = 2

PLACES_TAKEN = Counter(
    "fengqiao_dispatch_places_found_taken_total",
    "Writes of an alert into a unit's place that another alert (another replica) had taken first.",
)

Write = Callable[[Alert], Awaitable[None]]


async def _place(d: Dispatch, fresh: Callable[[], Alert], write: Write) -> Alert | None:
    """Give the alert a free place of the best unit that can take it, and write it there.

    `fresh()` gives the alert as it is before this placement; `write` stores it (an insert or
    a versioned save: one write, which is the claim too) and raises PlaceTaken if another
    alert took that place meanwhile. The unit's places are then read again and the alert
    tries another, then the next unit. Returns the alert placed, None if no unit can take it.
    A VersionConflict from `write` goes to the caller.
    """
    grid = d.view.grid
    if grid is None:
        return None
    now = d.clock.now()
    first = fresh()
    candidates = rank_candidates(
        grid, first.lon, first.lat, loads=d.view.loads, statuses=d.view.statuses,
        radius_m=d.settings.overflow_radius_m, exclude=first.excluded_units(), limit=8,
    )
    alert: Alert | None = first
    for candidate in candidates:
        unit = grid.get(candidate.unit_id)
        assert unit is not None
        for _ in range(TRIES_PER_UNIT):
            place = d.view.places.reserve(unit.unit_id, unit.capacity)
            if place is None:
                break  # full, as far as this replica knows now
            alert = alert or fresh()
            alert.assign(candidate, now, d.ack_timeout, place)
            try:
                await write(alert)
            except PlaceTaken:
                PLACES_TAKEN.inc()
                await d.view.settle(unit.unit_id, place, "taken")  # and its unit's places read again
                alert = None
                continue
            except BaseException:
                await d.view.settle(unit.unit_id, place, "unwritten")
                raise
            await d.view.settle(unit.unit_id, place, "written")
            return alert
    return None


async def receive_alert(d: Dispatch, event: contract.AlertReceived) -> None:
    """alerts.received -> the alert is placed with a unit (or the duty desk) and the fact published.

    One write stores the alert and takes its unit's place, so a crash or a redelivery at any
    point cannot leave a place taken without its alert, nor place the alert twice. The fact is
    published from the stored state, not staged: a redelivery tells it again with the same msg id.
    """

    def fresh() -> Alert:
        return Alert.receive(
            alert_id=event.alert_id, received_at=event.received_at, category=event.category,
            priority=event.priority, lon=event.location.lon, lat=event.location.lat,
            address=event.location.address, caller_phone=event.caller_phone, summary=event.summary,
            source=event.source, parties=[p.model_dump() for p in event.parties],
        )

    async def insert(alert: Alert) -> None:
        await d.alerts.insert_new(alert)

    try:
        alert = await _place(d, fresh, insert)
        if alert is None:
            alert = fresh()
            _to_duty_desk(d, alert)
            await insert(alert)
    except VersionConflict:
        # a duplicate, or a redelivery after a crash: the stored alert stands. Tell its placement
        # again (the same msg id) unless it has moved on, when later facts have told it all
        stored = await load(d, event.alert_id)
        if stored.state in ("assigned", "unassigned"):
            stored.events.append(stored.placement())
            await _tell(d, stored)
        return
    await _tell(d, alert)
    log.info("alert.placed", alert_id=alert.alert_id, unit_id=alert.unit_id, reason=alert.reason,
             distance_m=alert.distance_m)


async def _tell(d: Dispatch, alert: Alert) -> None:
    """Publish what the alert recorded, at once (for a consumed message: a failure is redelivered)."""
    for public, msg_id in public_events(d, alert):
        await d.publisher.publish(public, msg_id)
    alert.events.clear()


async def _place_waiting(d: Dispatch, stored: Stored[Alert]) -> Alert | None:
    """Place an alert that waits for a unit (just released, or at the duty desk); save it with its events.

    `stored.aggregate` is as it should be saved if no unit can take it. A released alert then goes
    to the duty desk; one already there stays as it is, unsaved (None). VersionConflict if the
    alert changed meanwhile.
    """
    waiting = stored.aggregate
    snapshot, recorded = waiting.to_dict(), list(waiting.events)

    def fresh() -> Alert:
        alert = Alert.from_dict(snapshot)
        alert.events = list(recorded)
        return alert

    async def save(alert: Alert) -> None:
        await d.uow.commit(replace(stored, aggregate=alert))

    placed = await _place(d, fresh, save)
    if placed is not None:
        return placed
    if waiting.state != "received":
        return None
    _to_duty_desk(d, waiting)
    await save(waiting)
    return waiting


def _to_duty_desk(d: Dispatch, alert: Alert) -> None:
    """No unit can take the alert now: the duty desk holds it, noting whether any unit ever could."""
    reach = within_reach(d.view.grid, alert.lon, alert.lat, d.settings.overflow_radius_m)
    alert.send_to_duty_desk(d.clock.now(), beyond_reach=not reach)


async def load(d: Dispatch, alert_id: str) -> Alert:
    """The alert, with any event a crash left unpublished sent first."""
    return await d.uow.get(alert_id)


# --- what the API reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class UnitReadout:
    unit_id: str
    name: str | None
    status: str
    load: int
    capacity: int
    officers: list[str]
    post: list[float] | None
    retired: bool


def _readout(d: Dispatch, unit_id: str) -> UnitReadout:
    state = d.view.states[unit_id]
    unit = d.view.grid.get(unit_id) if d.view.grid else None
    return UnitReadout(unit_id, unit.name if unit else None, state.status, d.view.loads.get(unit_id, 0),
                       state.capacity, list(state.officers), list(unit.post) if unit else None, state.retired)


async def units(d: Dispatch, *, include_retired: bool) -> list[UnitReadout]:
    """Every unit as the store has it now, with its load, in id order."""
    await d.view.refresh()
    return [_readout(d, u) for u, state in sorted(d.view.states.items()) if include_retired or not state.retired]


async def unit(d: Dispatch, unit_id: str) -> UnitReadout:
    await d.view.refresh_unit(unit_id)
    if unit_id not in d.view.states:
        raise NotFound("unit", unit_id)
    return _readout(d, unit_id)


async def current_grid(d: Dispatch) -> tuple[int, dict, list[dict]]:
    """The grid as last uploaded: its version, the GeoJSON, the warnings it was accepted with."""
    version, geojson, warnings = await d.grids.current()
    if geojson is None:
        raise NotFound("grid", "current")
    return version, geojson, warnings


async def alerts(d: Dispatch, *, state: str | None, unit_id: str | None, limit: int) -> list[Alert]:
    """Newest first."""
    return await d.alerts.find(state=state, unit_id=unit_id, limit=limit)


async def duty_desk_queue(d: Dispatch, *, after: str, limit: int) -> tuple[list[Alert], str | None]:
    """A page of the alerts the duty desk holds, urgent then oldest first, after the rank `after`;
    and the rank to ask the next page after (None at the end)."""
    page = await d.alerts.queue(after=after, limit=limit)
    following = desk_order(page[-1]) if len(page) == limit else None
    return [a for a in page if a.state == "unassigned"], following


async def weekly_stats(d: Dispatch, week: str | None) -> dict[str, Any]:
    """Per unit, of the ISO week (this one if None): counts and times; and where the alerts cluster."""
    zone = d.settings.zone
    label = week or iso_week(d.clock.now(), zone)
    start, end = week_bounds(label, zone)
    received = await d.alerts.received_between(start, end)
    return {"week": label, "units": weekly_unit_stats(received, zone),
            "clusters": alert_clusters([(a.lon, a.lat) for a in received])}


def officers(d: Dispatch, unit_id: str | None) -> list[str]:
    """The officers of a unit (none for the duty desk)."""
    return d.view.officers(unit_id)


# --- commands from the API ---------------------------------------------------------------------


async def acknowledge(d: Dispatch, alert_id: str, unit_id: str) -> Alert:
    return await d.uow.act(alert_id, lambda alert: alert.acknowledge(unit_id, d.clock.now()))


async def close(d: Dispatch, alert_id: str, *, unit_id: str, officer_id: str, disposition: str, note: str,
                signatures: dict[str, str], parties: list[dict]) -> Alert:
    held: list[tuple[str | None, int | None]] = []

    def command(alert: Alert) -> None:
        held[:] = [(alert.unit_id, alert.place)]
        alert.close(unit_id=unit_id, officer_id=officer_id, disposition=disposition, note=note,
                    signatures=signatures, now=d.clock.now(), parties=parties)

    alert = await d.uow.act(alert_id, command)
    holder, place = held[0]
    if holder is not None and place is not None and alert.place is None:
        await d.view.give_back(holder, place)  # free here at once, and told to the other replicas
    return alert


async def set_unit_status(d: Dispatch, unit_id: str, status: str) -> UnitReadout:
    """The duty desk sets a unit's status; the event is staged with the change, so it never waits for the broker."""
    state = d.view.states.get(unit_id)
    known = state is not None and not state.retired
    if known:
        # the alerts this replica ranks from now on see it at once, not after the store write
        d.view.note_states({unit_id: replace(state, status=status)})
    try:
        await d.unit_work.act(unit_id, lambda unit: unit.set_status(status, d.clock.now()))
    except (NotFound, Refused) as exc:
        if known:  # gone from the store (or the grid) meanwhile: take back what the view was told
            await d.view.refresh_unit(unit_id)
        raise NotFound("unit", unit_id) from exc
    await d.view.refresh_unit(unit_id)
    if status == "off_duty":
        # alerts the unit has not acknowledged go to the next-best unit at once
        for alert_id in await d.alerts.held_unacknowledged_by(unit_id):
            await _release_and_place(d, alert_id, "unit_unavailable")
    return _readout(d, unit_id)


async def replace_grid(d: Dispatch, geojson: dict) -> tuple[GridParse, int]:
    parsed = parse_grid(geojson)
    if not parsed.ok:
        return parsed, d.view.version
    now = d.clock.now()
    warnings = [{"field": w.loc, "msg": w.message} for w in parsed.warnings]
    text = json.dumps(geojson, ensure_ascii=False)
    version = await _upload(d, text, warnings, len(parsed.units), now)
    retired = await _sync_units(d, parsed.units, version)
    await d.view.refresh()
    await reach_again(d)
    for unit_id in retired:
        for alert_id in await d.alerts.held_unacknowledged_by(unit_id):
            await _release_and_place(d, alert_id, "unit_unavailable")
    log.info("grid.replaced", version=version, units=len(parsed.units), retired=retired)
    return parsed, version


async def _upload(d: Dispatch, text: str, warnings: list[dict], units: int, now: datetime) -> int:
    """Store the grid (its event staged with it); returns its version."""
    for _ in range(3):
        stored = await d.grids.get(GRID_ID)
        if stored is None:
            record = GridRecord.upload(text, warnings, units, now)
            if await d.grid_work.add(record):
                return record.version
            continue
        stored.aggregate.replace(text, warnings, units, now)
        with suppress(VersionConflict):
            await d.grid_work.commit(stored)
            return stored.aggregate.version
    raise Conflict("the grid is being replaced by someone else: try again")


async def _sync_units(d: Dispatch, units: list[GridUnit], version: int) -> list[str]:
    """The grid's units take its description; units gone from it are retired. Returns the retired ids."""
    for u in units:
        described = {"name": u.name, "officers": list(u.officers), "capacity": u.capacity, "status": u.status,
                     "grid_version": version}
        if await d.units.get(u.unit_id) is None and await d.unit_work.add(Unit(u.unit_id, **described)):
            continue  # else stored meanwhile by another replica's grid: described below
        await d.unit_work.act(u.unit_id, lambda unit, described=described: unit.regrid(**described))
    retired = await d.units.retired_ids([u.unit_id for u in units])
    for unit_id in retired:
        await d.unit_work.act(unit_id, lambda unit: unit.retire(version))
    return retired


# --- timers ------------------------------------------------------------------------------------


async def _release_and_place(d: Dispatch, alert_id: str, why: str) -> None:
    """The holder lets the alert go before acknowledging; it goes to the next-best unit in the same write."""
    stored = await d.uow.load(alert_id)
    alert, now = stored.aggregate, d.clock.now()
    if alert.state != "assigned" or (why == "ack_timeout" and not alert.ack_overdue(now)):
        return
    place = alert.place
    unit_id = alert.release(now, "ack_timeout" if why == "ack_timeout" else "unit_unavailable")
    try:
        placed = await _place_waiting(d, stored)
    except VersionConflict:
        return  # someone else moved it meanwhile (acknowledged, closed, placed)
    assert placed is not None  # a released alert is always saved: with a unit, or with the duty desk
    if place is not None:
        await d.view.give_back(unit_id, place)
    log.info("alert.reassigned", alert_id=alert_id, from_unit=unit_id, to_unit=placed.unit_id, why=why)


async def sweep_ack_timeouts(d: Dispatch) -> int:
    due = await d.alerts.due_for_ack(d.clock.now())
    for alert_id in due:
        await _release_and_place(d, alert_id, "ack_timeout")
    return len(due)


#: alerts a round of the duty desk places at most; a round that places them all rings again
OFFERS_PER_ROUND = 64
#: alerts a round reads past the free places: within some unit's reach, but not of the units free now
LOOKAHEAD = 8
#: alerts read per query: the store reads each under its lock, alerts being placed get it in between
DESK_PAGE = 8


async def offer_waiting(d: Dispatch, *, after: str = "", reads: int | None = None) -> tuple[int, str]:
    """Offer the free places to the alerts waiting at the duty desk, urgent and oldest first.

    Reads nothing when no unit has room, else at most as many alerts as there are free places
    (OFFERS_PER_ROUND at most) plus LOOKAHEAD, `reads` if given, from just after `after` (a
    `desk_order`; "" is the head of the queue), a page at a time through the queue's index:
    the cost does not grow with the number waiting. Returns (alerts placed, the rank of the last
    alert read, "" if the queue ended).
    """
    if not d.settings.retry_unassigned:
        return 0, ""
    budget = min(d.view.room(), OFFERS_PER_ROUND) + LOOKAHEAD if reads is None else reads
    placed = 0
    while budget > 0 and d.view.room() > 0:
        page = await d.alerts.waiting(after=after, limit=min(budget, DESK_PAGE, d.view.room()))
        if not page:
            return placed, ""
        for doc in page:
            budget -= 1
            after = doc["waiting_key"][1:]
            if await _offer(d, doc["_id"]):
                placed += 1
                if placed >= OFFERS_PER_ROUND or d.view.room() == 0:
                    return placed, after
    return placed, after


async def _offer(d: Dispatch, alert_id: str) -> bool:
    """Place one waiting alert if a unit can take it now; True if placed."""
    try:
        stored = await d.uow.load(alert_id)  # events an earlier save left staged go first
    except NotFound:
        return False
    alert = stored.aggregate
    if alert.state not in ("unassigned", "received"):
        return False
    if alert.note_reach(within_reach(d.view.grid, alert.lon, alert.lat, d.settings.overflow_radius_m)):
        # beyond every unit's reach (stored before reach was kept): out of the offers' way until a new grid
        with suppress(VersionConflict):
            await d.uow.commit(stored)
        return False
    try:
        return await _place_waiting(d, stored) is not None
    except VersionConflict:
        return False  # moved meanwhile (placed by another replica, closed by the desk)


async def reach_again(d: Dispatch) -> int:
    """A new grid: alerts waiting beyond every unit's reach that a unit of it can reach are offered again.

    Reads the alerts beyond reach a page at a time (a new grid is rare); returns how many came within reach.
    """
    after, changed = "", 0
    while page := await d.alerts.waiting(after=after, limit=DESK_PAGE, reach=BEYOND_REACH):
        for doc in page:
            after = doc["waiting_key"][1:]

            def within(alert: Alert) -> None:
                alert.note_reach(within_reach(d.view.grid, alert.lon, alert.lat, d.settings.overflow_radius_m))

            with suppress(NotFound, Conflict):
                changed += not (await d.uow.act(doc["_id"], within)).beyond_reach
    if changed:
        d.view.on_freed()
    return changed


class DutyDesk:
    """Offers waiting alerts a place as soon as one may have freed, one round at a time.

    `ring()` comes from the view (a place given back here or by another replica, a unit
    available again, a new grid): a round starts at the head of the queue. `sweep()` is the
    safety net a timer runs: one page, from where the last sweep stopped (so that alerts no
    free unit can reach do not keep the rest from their turn), and nothing when no unit has room.
    """

    def __init__(self, d: Dispatch) -> None:
        self._d = d
        self._rung = False
        self._round: asyncio.Task[None] | None = None
        self._cursor = ""

    def ring(self) -> None:
        self._rung = True
        if self._round is None or self._round.done():
            self._round = asyncio.get_running_loop().create_task(self._rounds())

    async def _rounds(self) -> None:
        while self._rung:
            self._rung = False
            try:
                placed, _ = await offer_waiting(self._d)
            except Exception as exc:  # the store away: the sweep tries again
                log.warning("duty_desk.offer_failed", error=repr(exc))
                return
            if placed >= OFFERS_PER_ROUND:
                self._rung = True  # more may wait and fit

    async def sweep(self) -> int:
        placed, self._cursor = await offer_waiting(self._d, after=self._cursor, reads=DESK_PAGE)
        return placed


#: alerts handed on per tick at most, when the sweep finds them held by a unit that cannot hold them
HANDOVERS_PER_TICK = 8


class _Slices:
    """Every unit once a period, a slice per tick, in id order (a slice's places are one range)."""

    def __init__(self, tick_s: float) -> None:
        self._tick_s = tick_s
        self._due: list[str] = []
        self._per_tick = 1

    @property
    def round_over(self) -> bool:
        return not self._due

    def take(self, unit_ids: Callable[[], list[str]], period_s: float) -> list[str]:
        """The next slice; a new round of `unit_ids()` once the last one is done."""
        if not self._due:
            self._due = sorted(unit_ids())
            ticks = max(1.0, period_s / self._tick_s)
            self._per_tick = max(1, min(UNIT_CHUNK, ceil(len(self._due) / ticks)))
        chunk, self._due = self._due[: self._per_tick], self._due[self._per_tick :]
        return chunk


class UnitSweep:
    """Re-reads the units' status and places a slice every tick, and hands on what they cannot hold.

    Status: every unit about every `view_refresh_s`, at most UNIT_CHUNK per tick (one read
    of every unit at once would hold the store, and the alerts being placed, for tens of
    milliseconds). Places: every unit about every `places_refresh_s`, far less often. A
    replica's view of them follows its own writes and what the others announce; the re-read
    only heals an announcement lost, and reading a unit's places costs the store a read per
    alert it holds.

    A unit that goes off duty (or leaves the grid) hands its unacknowledged alerts on at
    once; another replica may still place one there just then, from a view that showed the
    unit available. The sweep finds it (the placing replica knows the place) and hands it on.
    """

    def __init__(self, d: Dispatch, tick_s: float) -> None:
        self._d = d
        self._states = _Slices(tick_s)
        self._places = _Slices(tick_s)

    async def tick(self) -> int:
        """One slice; returns the alerts handed on."""
        d = self._d
        if self._states.round_over:  # a grid another replica replaced, and the units as known now
            await d.view.refresh_grid()
        def known() -> list[str]:  # every unit, listed only when a round starts, not every tick
            return d.view.unit_ids

        chunk = self._states.take(known, d.settings.view_refresh_s)
        d.view.note_states(await d.units.states(chunk))
        await d.view.refresh_places(self._places.take(known, d.settings.places_refresh_s))
        stranded: list[str] = []
        for unit_id in chunk:
            if len(stranded) >= HANDOVERS_PER_TICK:
                break
            if d.view.statuses.get(unit_id) == "off_duty" and d.view.places.held(unit_id):
                stranded += await d.alerts.held_unacknowledged_by(unit_id)
        for alert_id in stranded[:HANDOVERS_PER_TICK]:
            await _release_and_place(d, alert_id, "unit_unavailable")
        return min(len(stranded), HANDOVERS_PER_TICK)
