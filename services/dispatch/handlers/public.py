"""What dispatch tells the others: ONE table from its domain events to public contracts and msg ids."""

from __future__ import annotations

import json

from common.contracts import alerts as contract
from common.contracts.base import Event
from common.event_table import EventTable, MsgId, Row
from common.event_table import public_events as table_events
from dispatch.domain import events as ev
from dispatch.domain.alerts import Alert
from dispatch.domain.units import GridRecord, Unit
from dispatch.placement.view import ReplicaView

Staged = list[tuple[Event, str]]


def _location(e: ev.AlertAssigned | ev.AlertUnassigned | ev.AlertClosed) -> contract.Location:
    return contract.Location(lon=e.lon, lat=e.lat, address=e.address)


def _assigned(view: ReplicaView, alert: Alert, e: ev.AlertAssigned) -> Event:
    return contract.AlertAssigned(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, reason=e.reason, distance_m=round(e.distance_m, 1),
        attempt=e.attempt, ack_due_at=e.ack_due_at, officers=view.officers(e.unit_id), category=e.category,
        priority=e.priority, location=_location(e), ordered_by=e.ordered_by, order_reason=e.order_reason,
        forced=e.forced, previous_unit_id=e.previous_unit_id,
    )


def _unassigned(view: ReplicaView, alert: Alert, e: ev.AlertUnassigned) -> Event:
    return contract.AlertUnassigned(
        alert_id=e.alert_id, at=e.at, category=e.category, priority=e.priority, location=_location(e),
    )


def _acknowledged(view: ReplicaView, alert: Alert, e: ev.AlertAcknowledged) -> Event:
    return contract.AlertAcknowledged(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, seconds_to_ack=e.seconds_to_ack,
        officers=view.officers(e.unit_id),
    )


def _released(view: ReplicaView, alert: Alert, e: ev.AlertReleased) -> Event:
    why = "ack_timeout" if e.end == "ack_timeout" else "unit_unavailable"
    return contract.AlertReleased(alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, why=why)


def _closed(view: ReplicaView, alert: Alert, e: ev.AlertClosed) -> Event:
    return contract.AlertClosed(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, officer_id=e.officer_id, officers=view.officers(e.unit_id),
        disposition=e.disposition, note=e.note, signatures=e.signatures, category=e.category, priority=e.priority,
        location=_location(e), summary=e.summary, caller_phone=e.caller_phone,
        parties=[contract.Party(**p) for p in e.parties], received_at=e.received_at,
        refused_to_sign=e.refused_to_sign, assistants=[contract.Assistant(**a) for a in e.assistants],
    )


def _status_changed(view: ReplicaView, unit: Unit, e: ev.UnitStatusChanged) -> Event:
    return contract.UnitStatusChanged(unit_id=e.unit_id, status=e.status, at=e.at)


def _grid_replaced(view: ReplicaView, record: GridRecord, e: ev.GridReplaced) -> Event:
    # the save that stages it makes the next version: the new grid's
    return contract.GridReplaced(
        grid_version=record.version + 1, units=e.units, at=e.at, grid=json.loads(record.geojson)
    )


def _per_attempt(kind: str) -> MsgId:
    """`<alert>/<kind>/<attempt>`: a placement (or its end) is told once per attempt to place the alert."""
    return lambda alert, e, public: f"{e.alert_id}/{kind}/{e.attempt}"


def _alert_once(kind: str) -> MsgId:
    return lambda alert, e, public: f"{e.alert_id}/{kind}"


def _per_save(name: str) -> MsgId:
    """`<id>/<name>/<version>`: one such event per save, and the save that stages it makes the next version."""
    return lambda aggregate, e, public: f"{aggregate.ident}/{name}/{aggregate.version + 1}"


#: every domain event of dispatch -> its public contract and deterministic msg id
EVENTS: EventTable[ReplicaView] = {
    ev.AlertAssigned: Row(contract.AlertAssigned, _assigned, _per_attempt("assigned")),
    ev.AlertUnassigned: Row(contract.AlertUnassigned, _unassigned, _per_attempt("unassigned")),
    ev.AlertAcknowledged: Row(contract.AlertAcknowledged, _acknowledged, _alert_once("acknowledged")),
    ev.AlertReleased: Row(contract.AlertReleased, _released, _per_attempt("released")),
    ev.AlertClosed: Row(contract.AlertClosed, _closed, _alert_once("closed")),
    # one per person who joined: the n-th recorded
    ev.AlertAssisted: Row(contract.AlertAssisted, msg_id=lambda alert, e, public:
                          f"{e.alert_id}/assisted/{len(alert.assistants)}"),
    ev.UnitStatusChanged: Row(contract.UnitStatusChanged, _status_changed, _per_save("status")),
    ev.GridReplaced: Row(contract.GridReplaced, _grid_replaced, lambda record, e, public: f"grid/{record.version + 1}"),
}


def public_events(view: ReplicaView, aggregate: Alert | Unit | GridRecord) -> Staged:
    """The events the aggregate recorded since it was loaded, as public contracts with their msg ids."""
    return table_events(EVENTS, view, aggregate)
