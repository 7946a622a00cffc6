"""The batch path against the real store: concurrent saves go in one bulk write, each guarded by its version."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from bson.int64 import Int64
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from common import mongo
from common.repository import MongoRepository, VersionConflict
from common.store_tuning import ReadGroup, WriteGroup

pytestmark = pytest.mark.integration


@dataclass
class Counter:
    ident: str
    value: int = 0
    version: int = 0


class CounterCodec:
    def ident(self, c: Counter) -> str:
        return c.ident

    def to_document(self, c: Counter) -> dict[str, Any]:
        return {"ident": c.ident, "value": c.value}

    def from_document(self, doc: dict[str, Any]) -> Counter:
        return Counter(doc["ident"], doc["value"])


async def test_saves_of_a_batch_each_keep_their_version_check(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        repo = MongoRepository(mongo.database(client, db_name)["counters"], CounterCodec())
        for i in range(20):
            await repo.add(Counter(f"c{i}"), [])
        loaded = [await repo.get(f"c{i}") for i in range(20)]
        stale = await repo.get("c7")
        await repo.save(await repo.get("c7"), [])  # someone else saved c7 since `loaded` was read
        for stored in loaded:
            stored.aggregate.value = 1
        results = await asyncio.gather(*(repo.save(s, []) for s in loaded), return_exceptions=True)
        assert [i for i, r in enumerate(results) if isinstance(r, VersionConflict)] == [7]
        assert [s.aggregate.version for s in loaded if s.aggregate.ident != "c7"] == [2] * 19
        again = await repo.get("c7")  # the conflict alone, one at a time: load again, decide again
        again.aggregate.value = 1
        await repo.save(again, [])
        docs = await repo.collection.find({}, {"value": 1, "version": 1}).to_list(None)
        assert {d["_id"]: (d["value"], d["version"]) for d in docs} == {
            **{f"c{i}": (1, 2) for i in range(20)}, "c7": (1, 3)}
        stale.aggregate.value = 5
        with pytest.raises(VersionConflict):
            await repo.save(stale, [])
    finally:
        client.close()


async def test_a_write_the_driver_refuses_fails_alone(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["docs"]
        await coll.insert_one({"_id": "taken"})
        group = WriteGroup(coll)
        docs = [{"_id": f"d{i}", "n": Int64(i)} for i in range(10)] + [{"_id": "bad", "n": object()}, {"_id": "taken"}]
        results = await asyncio.gather(*(group.insert(d) for d in docs), return_exceptions=True)
        failed = {docs[k]["_id"]: type(r).__name__ for k, r in enumerate(results) if isinstance(r, Exception)}
        assert failed == {"bad": "InvalidDocument", "taken": DuplicateKeyError.__name__}
        assert await coll.count_documents({}) == 11
    finally:
        client.close()


class Taken(Exception):
    pass


async def test_a_stale_save_is_a_conflict_even_where_its_new_state_takes_a_unique_key(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["slots"]
        await coll.create_index("value", unique=True)
        repo = MongoRepository(coll, CounterCodec(), refusal=lambda c, exc: Taken(c.ident))
        await repo.add(Counter("a", 1), [])
        await repo.add(Counter("b", 2), [])
        stale = await repo.get("a")
        fresh = await repo.get("a")
        fresh.aggregate.value = 3
        await repo.save(fresh, [])
        stale.aggregate.value = 2  # b's: the upsert's insert meets b's value as well as a's id
        with pytest.raises(VersionConflict):
            await repo.save(stale, [])
        again = await repo.get("a")
        again.aggregate.value = 2
        with pytest.raises(Taken):  # at its version: the value is really taken
            await repo.save(again, [])
    finally:
        client.close()


class CountingReads:
    """A collection whose reads are counted, delegating to the real one."""

    def __init__(self, collection) -> None:
        self.collection = collection
        self.queries: list[Any] = []

    async def find_one(self, query):
        self.queries.append(query)
        return await self.collection.find_one(query)

    def find(self, query):
        self.queries.append(query)
        return self.collection.find(query)


async def test_loads_of_a_batch_are_one_query_and_each_caller_gets_its_own_document(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["docs"]
        await coll.insert_many([{"_id": f"d{i}", "tags": [i]} for i in range(30)])
        reads = CountingReads(coll)
        group = ReadGroup(reads)
        asked = [f"d{i}" for i in range(30)] + ["missing", "d3"]
        found = await asyncio.gather(*(group.get(i) for i in asked))
        # asked at the same moment: one query, the repeated id in it once
        assert reads.queries == [{"_id": {"$in": [f"d{i}" for i in range(30)] + ["missing"]}}]
        assert [d["_id"] if d else None for d in found] == [f"d{i}" for i in range(30)] + [None, "d3"]
        found[3]["tags"].append("changed")  # the two callers of d3 hold two documents
        assert found[-1]["tags"] == [3]
        await coll.update_one({"_id": "d5"}, {"$set": {"tags": ["written"]}})
        assert (await group.get("d5"))["tags"] == ["written"]  # a load after a write sees it
        assert reads.queries[-1] == {"_id": "d5"}  # alone: a plain find_one
    finally:
        client.close()


async def test_a_failed_load_fails_every_caller_of_its_group_and_the_next_group_reads_again() -> None:
    class Away:
        async def find_one(self, query):
            raise ConnectionFailure("store away")

        def find(self, query):
            raise ConnectionFailure("store away")

    group = ReadGroup(Away())
    results = await asyncio.gather(*(group.get(f"d{i}") for i in range(5)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["ConnectionFailure"] * 5
    assert isinstance((await asyncio.gather(group.get("d1"), return_exceptions=True))[0], ConnectionFailure)
