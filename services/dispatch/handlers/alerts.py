"""Use cases of an alert: received and placed, ordered to a unit, joined on the scene, read, acknowledged,
closed; the acknowledgement timer."""

from __future__ import annotations

from datetime import datetime

import structlog

from common.contracts import alerts as contract
from common.errors import Conflict, Invalid, Refused
from common.repository import Stored, VersionConflict
from dispatch.domain.alerts import Alert, desk_order
from dispatch.handlers.context import Dispatch
from dispatch.handlers.figures import counted
from dispatch.placement.placing import place, place_ordered, release_and_place, to_duty_desk

log = structlog.get_logger(__name__)


async def receive_alert(d: Dispatch, event: contract.AlertReceived) -> None:
    """alerts.received -> the alert is placed with a unit (or the duty desk) and the fact published.

    One write stores the alert and takes its unit's place, so a crash or a redelivery at any
    point cannot leave a place taken without its alert, nor place the alert twice. Its events are
    told from the stored state, not staged (the unit of work's `insert` + `tell`): a redelivery
    tells them again with the same msg id.
    """

    received = Alert.receive(
        alert_id=event.alert_id, received_at=event.received_at, category=event.category,
        priority=event.priority, lon=event.location.lon, lat=event.location.lat,
        address=event.location.address, caller_phone=event.caller_phone, summary=event.summary,
        source=event.source, parties=[p.model_dump() for p in event.parties],
    )
    inserted: list[Stored[Alert]] = []

    async def insert(alert: Alert) -> None:  # the alert in its place, and its counts staged with it
        inserted.append(await d.uow.insert(alert, counted(d, alert)))

    try:
        alert = await place(d.placement, received, insert)
        if alert is None:
            alert = received
            to_duty_desk(d.placement, alert)
            await insert(alert)
    except VersionConflict:
        # a duplicate, or a redelivery after a crash: the stored alert stands (loading it applies the
        # counts a crash left staged: the figures take it once, however often it comes). Tell its
        # placement again (the same msg id) unless it has moved on, when later facts have told it all
        stored = await load(d, event.alert_id)
        if stored.state in ("assigned", "unassigned"):
            stored.events.append(stored.placement())
            await d.uow.tell(stored)
        return
    await d.uow.tell(alert)
    d.uow.defer(alert.alert_id, inserted[-1])  # its counts: the figures' job applies a run's at once
    log.info("alert.placed", alert_id=alert.alert_id, unit_id=alert.unit_id, reason=alert.reason,
             distance_m=alert.distance_m)


async def load(d: Dispatch, alert_id: str) -> Alert:
    """The alert, with any event a crash left unpublished sent first."""
    return await d.uow.get(alert_id)


async def alerts(d: Dispatch, *, state: str | None, unit_id: str | None, limit: int, since: datetime | None = None,
                 before: tuple[datetime, str] | None = None) -> tuple[list[Alert], tuple[datetime, str] | None]:
    """Newest first (received at or after `since`, after the place `before`); and the place to ask the next
    page before (None when this page was not full)."""
    page = await d.alerts.find(state=state, unit_id=unit_id, limit=limit, since=since, before=before)
    return page, ((page[-1].received_at, page[-1].alert_id) if len(page) == limit else None)


async def duty_desk_queue(d: Dispatch, *, after: str, limit: int) -> tuple[list[Alert], str | None]:
    """A page of the alerts the duty desk holds, urgent then oldest first, after the rank `after`;
    and the rank to ask the next page after (None at the end)."""
    page = await d.alerts.queue(after=after, limit=limit)
    following = desk_order(page[-1]) if len(page) == limit else None
    return [a for a in page if a.state == "unassigned"], following


def officers(d: Dispatch, unit_id: str | None) -> list[str]:
    """The officers of a unit (none for the duty desk)."""
    return d.view.officers(unit_id)


async def acknowledge(d: Dispatch, alert_id: str, unit_id: str) -> Alert:
    return await d.uow.act(alert_id, lambda alert: alert.acknowledge(unit_id, d.clock.now()))


async def assign(d: Dispatch, alert_id: str, *, unit_id: str, reason: str, by: str, force: bool = False) -> Alert:
    """The dispatcher's word: the duty desk gives the alert to a named unit (or takes it from one for another).

    Capacity holds; `force` (with the reason) may give the unit one alert beyond it, recorded on the
    assignment and counted. Invalid if the grid has no such unit; Refused if it is off duty or full.
    """
    unit_in_grid = d.view.grid.get(unit_id) if d.view.grid else None
    if unit_in_grid is None:
        raise Invalid("unit_id", f"the grid has no unit {unit_id!r}")
    if d.view.statuses.get(unit_id) == "off_duty":
        raise Refused(f"unit {unit_id} is off duty")
    for _ in range(3):
        stored = await d.uow.load(alert_id)
        try:
            return await place_ordered(d.placement, stored, unit_in_grid, by=by, reason=reason, force=force)
        except VersionConflict:
            continue  # moved meanwhile: decide again on what it is now
    raise Conflict(f"alert {alert_id} is being changed by someone else: try again")


async def assist(d: Dispatch, alert_id: str, *, role: str, officer_id: str | None, name: str | None, by: str) -> Alert:
    """Someone joined the unit on the scene: recorded on the alert, its closing record and the statistics."""
    return await d.uow.act(alert_id, lambda alert: alert.assist(
        role=role, officer_id=officer_id, name=name, by=by, now=d.clock.now()))


async def close(d: Dispatch, alert_id: str, *, unit_id: str, officer_id: str, disposition: str, note: str,
                signatures: dict[str, str], parties: list[dict], refused_to_sign: list[str] | None = None) -> Alert:
    held: list[tuple[str | None, int | None]] = []

    def command(alert: Alert) -> None:
        held[:] = [(alert.unit_id, alert.place)]
        alert.close(unit_id=unit_id, officer_id=officer_id, disposition=disposition, note=note,
                    signatures=signatures, now=d.clock.now(), parties=parties, refused_to_sign=refused_to_sign or ())

    alert = await d.uow.act(alert_id, command)
    holder, place_held = held[0]
    if holder is not None and place_held is not None and alert.place is None:
        await d.view.give_back(holder, place_held)  # free here at once, and told to the other replicas
    return alert


async def sweep_ack_timeouts(d: Dispatch) -> int:
    """Alerts whose unit did not acknowledge in time go to the next-best unit."""
    due = await d.alerts.due_for_ack(d.clock.now())
    for alert_id in due:
        await release_and_place(d.placement, alert_id, "ack_timeout")
    return len(due)
