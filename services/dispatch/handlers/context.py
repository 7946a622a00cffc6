"""What every use case of dispatch is handed: the wired stores, units of work, placement and view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from common.bus import Publisher
from common.clock import Clock
from common.unit_of_work import UnitOfWork
from dispatch.adapters.figures import Figures
from dispatch.adapters.store import AlertStore, GridStore, UnitStore
from dispatch.domain.alerts import AlertRefused
from dispatch.domain.units import UnitRefused
from dispatch.handlers.figures import COUNTS, apply_counts
from dispatch.handlers.public import public_events
from dispatch.placement.placing import Placement
from dispatch.placement.view import ReplicaView
from dispatch.settings import DispatchSettings


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
    figures: Figures

    def __post_init__(self) -> None:
        events = partial(public_events, self.view)
        self.uow = UnitOfWork(self.alerts, self.publisher, events, kind="alert", refusal=AlertRefused,
                              effects={COUNTS: apply_counts(lambda: self.figures)})
        self.unit_work = UnitOfWork(self.units, self.publisher, events, kind="unit", refusal=UnitRefused)
        self.grid_work = UnitOfWork(self.grids, self.publisher, events, kind="grid")
        self.placement = Placement(self.settings, self.clock, self.alerts, self.uow, self.view)

    async def relay(self) -> int:
        """Publish what saves left staged (a crash, a broker outage), of every kind of aggregate."""
        return sum([await work.relay() for work in (self.uow, self.unit_work, self.grid_work)])

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.ack_timeout_s)
