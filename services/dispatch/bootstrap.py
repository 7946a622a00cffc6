"""Wires dispatch: stores, placement and the replicas' view, consumers, timers and the API."""

from __future__ import annotations

from common import gauges
from common.clock import Clock
from common.mongo import ensure_indexes
from common.outbox import RawPublisher
from common.runtime import Periodic, Runtime, ServiceParts
from dispatch import handlers
from dispatch.adapters.figures import INDEXES as FIGURE_INDEXES
from dispatch.adapters.figures import InMemoryFigures, MongoFigures
from dispatch.adapters.store import (
    INDEXES,
    WAITING,
    AlertStore,
    GridStore,
    InMemoryAlerts,
    InMemoryGrid,
    InMemoryUnits,
    UnitStore,
)
from dispatch.entrypoints.api import build_app
from dispatch.entrypoints.consumers import consumers
from dispatch.handlers import Dispatch, figures
from dispatch.placement.duty_desk import DutyDesk
from dispatch.placement.sweep import UnitSweep
from dispatch.placement.updates import ViewUpdates
from dispatch.placement.view import ReplicaView
from dispatch.settings import DispatchSettings

#: how often a slice of the units is re-read (UnitSweep)
UNIT_SWEEP_TICK_S = 1.0


def wire(runtime: Runtime, updates: ViewUpdates) -> Dispatch:
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    grids, units, alerts = GridStore(runtime.db), UnitStore(runtime.db), AlertStore(runtime.db)
    view = ReplicaView(grids, units, alerts, updates.announcer())
    return Dispatch(settings, runtime.clock, runtime.publisher, grids, units, alerts, view, MongoFigures(runtime.db))


def wire_in_memory(settings: DispatchSettings, clock: Clock, publisher: RawPublisher) -> Dispatch:
    """Dispatch on in-memory stores, one replica (nobody to tell its places): for use-case tests."""
    grids, units, alerts = InMemoryGrid(), InMemoryUnits(), InMemoryAlerts()
    return Dispatch(settings, clock, publisher, grids, units, alerts, ReplicaView(grids, units, alerts),
                    InMemoryFigures())


async def build(runtime: Runtime) -> ServiceParts:
    updates = ViewUpdates(runtime.nc)
    d = wire(runtime, updates)
    interval = d.settings.sweep_interval_s

    desk = DutyDesk(d.placement)

    async def start() -> None:
        await d.alerts.give_places()  # alerts stored by a version before places: before the unique index
        await d.alerts.key_waiting()  # and before the queue's index
        await d.units.give_versions()  # units stored before they were saved whole: before their outbox index
        await ensure_indexes(runtime.db, INDEXES | FIGURE_INDEXES)
        await d.view.refresh(places=True)
        d.view.on_freed = desk.ring
        await updates.listen(d.view)
        desk.ring()  # what waited while no replica ran

    return ServiceParts(
        app=build_app(runtime, d),
        consumers=consumers(d),
        periodic=[
            Periodic("units", UNIT_SWEEP_TICK_S, UnitSweep(d.placement, UNIT_SWEEP_TICK_S).tick),
            Periodic("ack-timeouts", interval, lambda: handlers.sweep_ack_timeouts(d)),
            Periodic("duty-desk", interval * 2, desk.sweep),
            Periodic("outbox-relay", 5.0, d.relay),
            Periodic("figure-counts", figures.COUNT_EVERY_S, lambda: figures.count_staged(d)),
            Periodic("figure-marks", 15.0, lambda: figures.forget_marks(d)),
        ],
        on_start=[start],
        context=d,
        gauges=[  # the duty desk's queue (再快一秒): through its index, `waiting_key` (held while no unit holds it)
            gauges.Reading(gauges.ALERTS_WAITING, gauges.counting(runtime.db["alerts"], WAITING)),
            gauges.Reading(gauges.ALERTS_WAITING_OLDEST, gauges.age_since(d.alerts.oldest_waiting, runtime.clock.now)),
        ],
    )
