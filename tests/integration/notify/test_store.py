"""notify's Mongo store on nx-27017: the sweep's read-ahead stays right when another replica fired first."""

from __future__ import annotations

import pytest

from common import mongo
from common.clock import FakeClock
from common.contracts.cases import CaseAccepted
from common.fakes import FakePublisher
from notify import handlers
from notify.adapters.store import INDEXES, MongoCallbacks, mongo_cases
from notify.domain import callback_id_for
from notify.handlers import Notify
from notify.settings import NotifySettings
from tests.unit.notify.station_time import sh

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(store_server, db_name):
    client = mongo.client(store_server.url)
    database = mongo.database(client, db_name)
    await mongo.ensure_indexes(database, INDEXES)
    yield database
    client.close()


def replica(db, clock: FakeClock) -> Notify:
    return Notify(NotifySettings(), clock, FakePublisher(), MongoCallbacks(db), mongo_cases(db))


async def test_a_callback_another_replica_fired_after_the_sweep_read_it_is_not_sent_again(db) -> None:
    clock = FakeClock(sh(2026, 11, 20, 10, 0))
    first, second = replica(db, clock), replica(db, clock)
    event = CaseAccepted.model_validate({
        "case_id": "S-1", "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00", "officer_id": "P1001",
        "parties": [{"party_id": "p1", "phone": "13800138001"}]})
    await handlers.case_accepted(first, event)
    ident = callback_id_for("S-1", "p1", "unsolved_7d")
    assert await first.callbacks.due(clock.now(), 10) == [ident]  # read ahead, whole
    assert (await handlers.fire(second, ident)).state == "sent"  # the other replica wins meanwhile
    fired = await handlers.fire(first, ident)  # its read-ahead copy is stale: the save says so
    assert (fired.state, fired.attempts, fired.version) == ("sent", 1, 2)
    assert len(second.publisher.on("sms.send")) == 1 and first.publisher.on("sms.send") == []
    doc = await db.callbacks.find_one({"_id": ident})
    assert doc["outbox"] == {} and "outbox_ms" not in doc and doc["next_due_ms"] == doc["due_ms"] - 86_400_000
    assert await first.callbacks.due(clock.now(), 10) == []
