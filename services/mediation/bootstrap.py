"""Wires mediation: the stores, the alerts.closed consumer, the deadline sweep, the outbox relay and the API."""

from __future__ import annotations

from common import gauges
from common.clock import Clock
from common.mongo import ensure_indexes
from common.outbox import RawPublisher
from common.runtime import Periodic, Runtime, ServiceParts
from mediation import handlers
from mediation.adapters.store import (
    INDEXES,
    Disputes,
    InMemoryDisputes,
    InMemoryRequestIds,
    MongoDisputes,
    MongoRequestIds,
    first_contact_due_tonight,
    first_contact_overdue,
)
from mediation.domain import RiskRules, load_risk_rules
from mediation.entrypoints.api import build_app
from mediation.entrypoints.consumers import consumers
from mediation.handlers import Mediation
from mediation.settings import MediationSettings


def _risk_rules(settings: MediationSettings) -> RiskRules | None:
    return load_risk_rules(settings.risk_rules_path) if settings.risk_rules_path else None


def wire(runtime: Runtime) -> Mediation:
    settings = runtime.settings
    assert isinstance(settings, MediationSettings)
    return Mediation(
        settings, runtime.clock, runtime.publisher, MongoDisputes(runtime.db), MongoRequestIds(runtime.db),
        risk_rules=_risk_rules(settings),
    )


def wire_in_memory(
    settings: MediationSettings, clock: Clock, publisher: RawPublisher, *, disputes: Disputes | None = None
) -> Mediation:
    """The same use cases on in-memory stores (`disputes`: a test's own, e.g. one that goes away)."""
    return Mediation(settings, clock, publisher, disputes or InMemoryDisputes(), InMemoryRequestIds(),
                     risk_rules=_risk_rules(settings))


async def build(runtime: Runtime) -> ServiceParts:
    m = wire(runtime)
    disputes = runtime.db["disputes"]

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
        gauges=[  # 事不过夜: through the sparse index of the disputes whose first contact is awaited
            gauges.Reading(gauges.DISPUTES_DUE_TONIGHT, gauges.counting(
                disputes, lambda: first_contact_due_tonight(runtime.clock.now(), m.settings.zone))),
            gauges.Reading(gauges.DISPUTES_OVERDUE, gauges.counting(
                disputes, lambda: first_contact_overdue(runtime.clock.now()))),
        ],
    )
