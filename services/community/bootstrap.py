"""Wires community: the stores, the consumers, the deadline sweep, the outbox relay and the API."""

from __future__ import annotations

from functools import partial

from common.clock import Clock
from common.mongo import ensure_indexes
from common.outbox import RawPublisher
from common.runtime import Periodic, Runtime, ServiceParts
from common.timefmt import month_label
from community import handlers
from community.adapters.audit import AuditTrail, InMemoryAuditTrail, LoggedAuditTrail
from community.adapters.store import (
    INDEXES,
    InMemoryGridCopy,
    InMemoryHazards,
    InMemoryKeyPersons,
    InMemorySheets,
    InMemorySheetTotals,
    InMemoryVisits,
    MongoGridCopy,
    MongoHazards,
    MongoKeyPersons,
    MongoSheets,
    MongoSheetTotals,
    MongoVisits,
)
from community.domain.scorecard import SheetRules, default_rules, load_rules
from community.entrypoints.api import build_app
from community.entrypoints.consumers import consumers
from community.handlers import Community
from community.settings import CommunitySettings


def _rules(settings: CommunitySettings) -> SheetRules:
    return load_rules(settings.scorecard_path) if settings.scorecard_path else default_rules()


def wire(runtime: Runtime, audit: AuditTrail | None = None) -> Community:
    settings = runtime.settings
    assert isinstance(settings, CommunitySettings)
    db, month = runtime.db, partial(month_label, zone=settings.zone)
    return Community(settings, runtime.clock, runtime.publisher, MongoVisits(db, month), MongoHazards(db, month),
                     MongoKeyPersons(db), MongoSheets(db), MongoGridCopy(db), audit or LoggedAuditTrail(),
                     _rules(settings), MongoSheetTotals(db))


def wire_in_memory(settings: CommunitySettings, clock: Clock, publisher: RawPublisher) -> Community:
    """The same service on in-memory stores, for use-case tests (with a FakeClock and a FakePublisher)."""
    month = partial(month_label, zone=settings.zone)
    return Community(settings, clock, publisher, InMemoryVisits(month), InMemoryHazards(month), InMemoryKeyPersons(),
                     InMemorySheets(), InMemoryGridCopy(), InMemoryAuditTrail(), _rules(settings),
                     InMemorySheetTotals())


async def build(runtime: Runtime) -> ServiceParts:
    c = wire(runtime)

    async def start() -> None:
        await ensure_indexes(runtime.db, INDEXES)

    return ServiceParts(
        app=build_app(runtime, c),
        consumers=consumers(c),
        periodic=[
            Periodic("deadlines", c.settings.sweep_interval_s, lambda: handlers.sweep_deadlines(c)),
            Periodic("outbox-relay", 5.0, c.relay),
        ],
        on_start=[start],
        context=c,
    )
