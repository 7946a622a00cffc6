"""The same rules, run against every repository: the real store (nx-27017) and the in-memory one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common import mongo
from common.contracts.base import Event
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, VersionConflict
from tests.unit.common.test_unit_of_work import Ticked, Ticker, TickerCodec

pytestmark = pytest.mark.integration


def _events(*counts: int) -> list[tuple[Event, str]]:
    return [(Ticked(ticker_id="t1", count=n), f"t1/ticked/{n}") for n in counts]


@pytest.fixture(params=["mongo", "memory"])
async def repo(request, store_server, db_name):
    if request.param == "memory":
        yield InMemoryRepository(TickerCodec(), "tickers")
        return
    client = mongo.client(store_server.url)
    db = mongo.database(client, db_name)
    await db["tickers"].create_indexes([OUTBOX_INDEX])
    yield MongoRepository(db["tickers"], TickerCodec())
    client.close()


async def test_add_get_and_a_taken_id(repo) -> None:
    stored = await repo.add(Ticker("t1", count=2), _events(1))
    assert stored.aggregate.version == 1
    again = await repo.get("t1")
    assert (again.aggregate.count, again.aggregate.version) == (2, 1)
    assert [e["msg_id"] for e in again.outbox.values()] == ["t1/ticked/1"]
    assert again.loaded == {"ticker_id": "t1", "count": 2, "note": ""}
    with pytest.raises(VersionConflict):
        await repo.add(Ticker("t1"), [])
    assert await repo.get("nope") is None


async def test_a_save_carries_what_is_staged_and_refuses_a_stale_version(repo) -> None:
    await repo.add(Ticker("t1"), _events(1))
    first, second = await repo.get("t1"), await repo.get("t1")
    first.aggregate.count = 1
    saved = await repo.save(first, _events(2))
    assert saved.aggregate.version == 2
    assert [e["msg_id"] for _, e in sorted(saved.outbox.items())] == ["t1/ticked/1", "t1/ticked/2"]
    second.aggregate.count = 5
    with pytest.raises(VersionConflict):
        await repo.save(second, _events(9))
    stored = await repo.get("t1")
    assert stored.aggregate.count == 1
    assert [e["msg_id"] for _, e in sorted(stored.outbox.items())] == ["t1/ticked/1", "t1/ticked/2"]


async def test_unstage_removes_only_what_was_published(repo) -> None:
    await repo.add(Ticker("t1"), _events(1))
    stored = await repo.get("t1")
    (key1,) = stored.outbox
    saved = await repo.save(stored, _events(2))  # version 2 now holds both
    await repo.unstage("t1", [key1], 1, all_of_them=True)  # published at version 1, but saved since
    left = await repo.get("t1")
    assert [e["msg_id"] for e in left.outbox.values()] == ["t1/ticked/2"]
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [x.ident for x in await repo.leftovers(later, 10)] == ["t1"]
    await repo.unstage("t1", list(left.outbox), saved.aggregate.version, all_of_them=True)
    assert (await repo.get("t1")).outbox == {}
    assert await repo.leftovers(later, 10) == []


async def test_leftovers_are_those_staged_before_the_cutoff_up_to_the_limit(repo) -> None:
    for n in range(3):
        await repo.add(Ticker(f"t{n}"), _events(1))
    await repo.add(Ticker("quiet"), [])
    assert await repo.leftovers(datetime.now(UTC) - timedelta(minutes=1), 10) == []
    found = await repo.leftovers(datetime.now(UTC) + timedelta(seconds=1), 2)
    assert len(found) == 2 and all(x.ident.startswith("t") and x.version == 1 for x in found)


async def test_outboxes_are_those_holding_something_now_until_unstaged(repo) -> None:
    await repo.add(Ticker("t1"), _events(1))
    await repo.add(Ticker("t2"), [])
    [outbox] = await repo.outboxes(10)
    assert [e["msg_id"] for e in outbox.values()] == [msg_id for _, msg_id in _events(1)]
    await repo.unstage("t1", list(outbox), 1, all_of_them=True)
    assert await repo.outboxes(10) == []
