"""Placing one alert: the best unit that can take it, a free place of that unit, one write.

The write is the claim: the unique `slot` of the place refuses a second alert (PlaceTaken), so
the view only proposes a place and a stale view costs a refused write, never a unit over
capacity. The use cases call down into these functions; nothing here calls back up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog
from prometheus_client import Counter

from common.clock import Clock
from common.errors import Refused
from common.repository import Stored, VersionConflict
from common.unit_of_work import UnitOfWork
from dispatch.adapters.store import AlertStore, PlaceTaken
from dispatch.domain.alerts import Alert, AlertRefused
from dispatch.domain.assignment import rank_candidates, within_reach
from dispatch.domain.geo import haversine_m
from dispatch.domain.grid import GridUnit
from dispatch.placement.view import ReplicaView
from dispatch.settings import DispatchSettings

log = structlog.get_logger(__name__)

#: a unit whose place turned out taken is read again and tried once more, then the next unit
TRIES_PER_UNIT = 2

PLACES_TAKEN = Counter(
    "fengqiao_dispatch_places_found_taken_total",
    "Writes of an alert into a unit's place that another alert (another replica) had taken first.",
)

FORCED_ORDERS = Counter(
    "fengqiao_dispatch_forced_orders_total",
    "Alerts the duty desk ordered to a unit beyond its capacity (force, with a reason).",
)

Write = Callable[[Alert], Awaitable[None]]


@dataclass
class Placement:
    """What placing needs: the rules' settings, the clock, the alerts (their unit of work and queue), the view."""

    settings: DispatchSettings
    clock: Clock
    alerts: AlertStore
    uow: UnitOfWork[Alert]
    view: ReplicaView

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.ack_timeout_s)

    def within_reach(self, alert: Alert) -> bool:
        return within_reach(self.view.grid, alert.lon, alert.lat, self.settings.overflow_radius_m)


async def place(p: Placement, waiting: Alert, write: Write) -> Alert | None:
    """Give the alert a free place of the best unit that can take it, and write it there.

    `waiting` is left as it is: each try assigns a copy. `write` stores it (an insert or a
    versioned save: one write, which is the claim too) and raises PlaceTaken if another alert
    took that place meanwhile. The unit's places are then read again and the alert tries
    another, then the next unit. Returns the alert placed, None if no unit can take it.
    A VersionConflict from `write` goes to the caller.
    """
    grid = p.view.grid
    if grid is None:
        return None
    now = p.clock.now()
    candidates = rank_candidates(
        grid, waiting.lon, waiting.lat, loads=p.view.loads, statuses=p.view.statuses,
        radius_m=p.settings.overflow_radius_m, exclude=waiting.excluded_units(), limit=8,
    )
    for candidate in candidates:
        unit = grid.get(candidate.unit_id)
        assert unit is not None
        for _ in range(TRIES_PER_UNIT):
            held = p.view.places.reserve(unit.unit_id, unit.capacity)
            if held is None:
                break  # full, as far as this replica knows now
            alert = waiting.copy()
            alert.assign(candidate, now, p.ack_timeout, held)
            try:
                await write(alert)
            except PlaceTaken:
                PLACES_TAKEN.inc()
                await p.view.settle(unit.unit_id, held, "taken")  # and its unit's places read again
                continue
            except BaseException:
                await p.view.settle(unit.unit_id, held, "unwritten")
                raise
            await p.view.settle(unit.unit_id, held, "written")
            return alert
    return None


def to_duty_desk(p: Placement, alert: Alert) -> None:
    """No unit can take the alert now: the duty desk holds it, noting whether any unit ever could."""
    alert.send_to_duty_desk(p.clock.now(), beyond_reach=not p.within_reach(alert))


async def place_waiting(p: Placement, stored: Stored[Alert]) -> Alert | None:
    """Place an alert that waits for a unit (just released, or at the duty desk); save it with its events.

    `stored.aggregate` is as it should be saved if no unit can take it. A released alert then goes
    to the duty desk; one already there stays as it is, unsaved (None). VersionConflict if the
    alert changed meanwhile.
    """
    waiting = stored.aggregate

    async def save(alert: Alert) -> None:
        await p.uow.commit(replace(stored, aggregate=alert))

    placed = await place(p, waiting, save)
    if placed is not None:
        return placed
    if waiting.state != "received":
        return None
    to_duty_desk(p, waiting)
    await save(waiting)
    return waiting


async def release_and_place(p: Placement, alert_id: str, why: str) -> None:
    """The holder lets the alert go before acknowledging; it goes to the next-best unit in the same write."""
    stored = await p.uow.load(alert_id)
    alert, now = stored.aggregate, p.clock.now()
    if alert.state != "assigned" or (why == "ack_timeout" and not alert.ack_overdue(now)):
        return
    held = alert.place
    unit_id = alert.release(now, "ack_timeout" if why == "ack_timeout" else "unit_unavailable")
    try:
        placed = await place_waiting(p, stored)
    except VersionConflict:
        return  # someone else moved it meanwhile (acknowledged, closed, placed)
    assert placed is not None  # a released alert is always saved: with a unit, or with the duty desk
    if held is not None:
        await p.view.give_back(unit_id, held)
    log.info("alert.reassigned", alert_id=alert_id, from_unit=unit_id, to_unit=placed.unit_id, why=why)


async def hand_on(p: Placement, unit_ids: list[str], limit: int | None = None) -> int:
    """The alerts these units hold unacknowledged go to the next-best unit (a unit off duty, retired)."""
    stranded: list[str] = []
    for unit_id in unit_ids:
        if limit is not None and len(stranded) >= limit:
            break
        stranded += await p.alerts.held_unacknowledged_by(unit_id)
    stranded = stranded[:limit] if limit is not None else stranded
    for alert_id in stranded:
        await release_and_place(p, alert_id, "unit_unavailable")
    return len(stranded)


async def place_ordered(p: Placement, stored: Stored[Alert], unit: GridUnit, *, by: str, reason: str,
                        force: bool) -> Alert:
    """The dispatcher's word: the alert goes to `unit`, into a free place of its capacity; with `force`,
    into the one place beyond it if none is free. The unique place holds across replicas as for any
    placement: two orders cannot both take the unit's last place, nor its one place beyond.

    Refused if the unit has no place left (a forced order only when its one place beyond is taken too);
    VersionConflict if the alert changed meanwhile. The place the alert held is given back.
    """
    alert, now = stored.aggregate, p.clock.now()
    held_before = (alert.unit_id, alert.place) if alert.state in ("assigned", "acknowledged") else (None, None)
    capacity = unit.capacity + 1 if force else unit.capacity
    distance_m = haversine_m(alert.lon, alert.lat, *unit.post)

    def order(place: int) -> Alert:
        ordered = alert.copy()
        ordered.order(unit.unit_id, by=by, reason=reason, distance_m=distance_m, place=place,
                      forced=place >= unit.capacity, now=now, ack_timeout=p.ack_timeout)
        return ordered

    try:
        order(0)  # the rules first: a closed alert is refused as closed, not as one for a full unit
    except AlertRefused as exc:
        raise Refused(exc.reason) from exc
    for _ in range(TRIES_PER_UNIT):
        held = p.view.places.reserve(unit.unit_id, capacity)
        if held is None:
            break
        ordered = order(held)
        try:
            await p.uow.commit(replace(stored, aggregate=ordered))
        except PlaceTaken:
            PLACES_TAKEN.inc()
            await p.view.settle(unit.unit_id, held, "taken")
            continue
        except BaseException:
            await p.view.settle(unit.unit_id, held, "unwritten")
            raise
        await p.view.settle(unit.unit_id, held, "written")
        holder, place_held = held_before
        if holder is not None and place_held is not None:
            await p.view.give_back(holder, place_held)
        if ordered.assignments[-1].forced:
            FORCED_ORDERS.inc()
        log.info("alert.ordered", alert_id=alert.alert_id, unit_id=unit.unit_id, forced=ordered.assignments[-1].forced)
        return ordered
    if force:
        raise Refused(f"unit {unit.unit_id} holds its {unit.capacity} alerts and one beyond already")
    raise Refused(f"unit {unit.unit_id} holds its {unit.capacity} alerts: force, with the reason, to give it one more")
