"""Wires rating: the stores, its four consumers, the survey and follow-up sweeps, the weekly draw, the relay
and the API."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorDatabase

from common import gauges
from common.clock import Clock
from common.mongo import ensure_indexes
from common.outbox import RawPublisher
from common.runtime import Periodic, Runtime, ServiceParts
from rating import handlers
from rating.adapters import store
from rating.adapters.store import (
    INDEXES,
    InMemoryFollowups,
    InMemoryKeySet,
    InMemoryRatings,
    InMemoryRollups,
    InMemorySpotChecks,
    InMemorySurveys,
    MongoFollowups,
    MongoKeySet,
    MongoRatings,
    MongoRollups,
    MongoSpotChecks,
    MongoSurveys,
)
from rating.entrypoints.api import build_app
from rating.entrypoints.consumers import consumers
from rating.handlers import Evaluation
from rating.satisfaction import SatisfactionTeller
from rating.settings import RatingSettings


def wire(settings: RatingSettings, db: AsyncIOMotorDatabase, clock: Clock, publisher: RawPublisher) -> Evaluation:
    return Evaluation(
        settings, clock, publisher, MongoSurveys(db), MongoRatings(db), MongoFollowups(db), MongoSpotChecks(db),
        MongoRollups(db), MongoKeySet(db["optouts"]), MongoKeySet(db["draws"]),
    )


def wire_in_memory(settings: RatingSettings, clock: Clock, publisher: RawPublisher) -> Evaluation:
    """The same use cases on in-memory stores (the use-case tests, the API's property tests)."""
    return Evaluation(
        settings, clock, publisher, InMemorySurveys(), InMemoryRatings(), InMemoryFollowups(), InMemorySpotChecks(),
        InMemoryRollups(), InMemoryKeySet(), InMemoryKeySet(),
    )


async def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, RatingSettings)
    m = wire(settings, runtime.db, runtime.clock, runtime.publisher)

    async def start() -> None:
        await store.key_before_gauge(runtime.db)  # follow-ups stored before the gauge's key: before its index
        await ensure_indexes(runtime.db, INDEXES)

    return ServiceParts(
        app=build_app(runtime, m),
        consumers=consumers(m),
        periodic=[
            Periodic("surveys", settings.sweep_interval_s, lambda: handlers.sweep_surveys(m)),
            Periodic("followups", settings.sweep_interval_s, lambda: handlers.sweep_followups(m)),
            Periodic("spot-check-draw", 60.0, lambda: handlers.draw_last_week(m)),
            Periodic("relay", 5.0, lambda: handlers.relay(m)),
            Periodic("weekly-satisfaction", settings.satisfaction_tell_s, SatisfactionTeller(m).tick),
        ],
        on_start=[start],
        context=m,
        gauges=[  # through a sparse index: undone_since_ms, held while the follow-up is not done
            gauges.Reading(gauges.FOLLOWUPS_OPEN, gauges.counting(runtime.db["followups"], store.FOLLOWUPS_UNDONE))],
    )
