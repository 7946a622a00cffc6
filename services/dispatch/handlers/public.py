"""What dispatch tells the others: ONE table from its domain events to public contracts and msg ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts import alerts as contract
from common.contracts.base import Event
from dispatch.domain import events as ev
from dispatch.domain.alerts import Alert
from dispatch.domain.units import GridRecord, Unit
from dispatch.placement.view import ReplicaView

Staged = list[tuple[Event, str]]


def _location(e: ev.AlertAssigned | ev.AlertUnassigned | ev.AlertClosed) -> contract.Location:
    return contract.Location(lon=e.lon, lat=e.lat, address=e.address)


def _assigned(view: ReplicaView, alert: Alert, e: ev.AlertAssigned) -> tuple[Event, str]:
    return contract.AlertAssigned(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, reason=e.reason, distance_m=round(e.distance_m, 1),
        attempt=e.attempt, ack_due_at=e.ack_due_at, officers=view.officers(e.unit_id), category=e.category,
        priority=e.priority, location=_location(e),
    ), f"{e.alert_id}/assigned/{e.attempt}"


def _unassigned(view: ReplicaView, alert: Alert, e: ev.AlertUnassigned) -> tuple[Event, str]:
    return contract.AlertUnassigned(
        alert_id=e.alert_id, at=e.at, category=e.category, priority=e.priority, location=_location(e),
    ), f"{e.alert_id}/unassigned/{e.attempt}"


def _acknowledged(view: ReplicaView, alert: Alert, e: ev.AlertAcknowledged) -> tuple[Event, str]:
    return contract.AlertAcknowledged(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, seconds_to_ack=e.seconds_to_ack,
    ), f"{e.alert_id}/acknowledged"


def _released(view: ReplicaView, alert: Alert, e: ev.AlertReleased) -> tuple[Event, str]:
    why = "ack_timeout" if e.end == "ack_timeout" else "unit_unavailable"
    return contract.AlertReleased(alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, why=why), \
        f"{e.alert_id}/released/{e.attempt}"


def _closed(view: ReplicaView, alert: Alert, e: ev.AlertClosed) -> tuple[Event, str]:
    return contract.AlertClosed(
        alert_id=e.alert_id, at=e.at, unit_id=e.unit_id, officer_id=e.officer_id, officers=view.officers(e.unit_id),
        disposition=e.disposition, note=e.note, signatures=e.signatures, category=e.category, priority=e.priority,
        location=_location(e), summary=e.summary, caller_phone=e.caller_phone,
        parties=[contract.Party(**p) for p in e.parties], received_at=e.received_at,
    ), f"{e.alert_id}/closed"


def _status_changed(view: ReplicaView, unit: Unit, e: ev.UnitStatusChanged) -> tuple[Event, str]:
    # one status change per save: the save that stages it makes the unit's next version
    return contract.UnitStatusChanged(unit_id=e.unit_id, status=e.status, at=e.at), \
        f"{e.unit_id}/status/{unit.version + 1}"


def _grid_replaced(view: ReplicaView, record: GridRecord, e: ev.GridReplaced) -> tuple[Event, str]:
    version = record.version + 1  # the save that stages it makes the next version: the new grid's
    return contract.GridReplaced(grid_version=version, units=e.units, at=e.at), f"grid/{version}"


#: every domain event of dispatch -> its public contract and deterministic msg id
PUBLIC: dict[type, Callable[[ReplicaView, Any, Any], tuple[Event, str]]] = {
    ev.AlertAssigned: _assigned,
    ev.AlertUnassigned: _unassigned,
    ev.AlertAcknowledged: _acknowledged,
    ev.AlertReleased: _released,
    ev.AlertClosed: _closed,
    ev.UnitStatusChanged: _status_changed,
    ev.GridReplaced: _grid_replaced,
}


def public_events(view: ReplicaView, aggregate: Alert | Unit | GridRecord) -> Staged:
    """The events the aggregate recorded since it was loaded, as public contracts with their msg ids."""
    return [PUBLIC[type(e)](view, aggregate, e) for e in aggregate.events]
