"""Wires mediation: the stores, the alerts.closed consumer, the deadline sweep, the outbox relay and the API."""

from __future__ import annotations

from common.mongo import ensure_indexes
from common.runtime import Periodic, Runtime, ServiceParts
from mediation import handlers
from mediation.adapters.store import INDEXES, MongoDisputes, MongoRequestIds
from mediation.domain import load_risk_rules
from mediation.entrypoints.api import build_app
from mediation.entrypoints.consumers import consumers
from mediation.handlers import Mediation
from mediation.settings import MediationSettings


def wire(runtime: Runtime) -> Mediation:
    settings = runtime.settings
    assert isinstance(settings, MediationSettings)
    rules = load_risk_rules(settings.risk_rules_path) if settings.risk_rules_path else None
    return Mediation(
        settings, runtime.clock, runtime.publisher, MongoDisputes(runtime.db), MongoRequestIds(runtime.db),
        risk_rules=rules,
    )


async def build(runtime: Runtime) -> ServiceParts:
    m = wire(runtime)

    async def start() -> None:
        await ensure_indexes(runtime.db, INDEXES)

    return ServiceParts(
        app=build_app(runtime, m),
        consumers=consumers(m),
        periodic=[
            Periodic("deadlines", m.settings.sweep_interval_s, lambda: handlers.sweep_deadlines(m)),
            Periodic("outbox-relay", 5.0, m.uow.relay),
        ],
        on_start=[start],
        context=m,
    )
