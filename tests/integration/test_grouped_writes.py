"""Group commit against the real store: each concurrent writer learns the fate of its own write."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from common import mongo
from common.mongo import GroupedWrites

pytestmark = pytest.mark.integration


async def test_inserts_batched_and_each_duplicate_reported_to_its_writer(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["docs"]
        await coll.insert_one({"_id": "taken"})
        writes = GroupedWrites(coll)
        ids = [f"d{i}" for i in range(40)] + ["taken", "d3"]
        results = await asyncio.gather(*(writes.insert({"_id": i}) for i in ids), return_exceptions=True)
        failed = [ids[k] for k, r in enumerate(results) if isinstance(r, DuplicateKeyError)]
        assert sorted(failed) == ["d3", "taken"]
        assert await coll.count_documents({}) == 41
    finally:
        client.close()


async def test_guarded_updates_say_true_false_or_cannot_tell(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["units"]
        await coll.insert_one({"_id": "G1", "load": 0, "capacity": 2})
        writes = GroupedWrites(coll)

        def take():
            return writes.update({"_id": "G1", "load": {"$lt": 2}}, {"$inc": {"load": 1}})

        assert await take() is True
        # three at once for the one place left: the batch changed one of three, so none can tell
        outcomes = await asyncio.gather(take(), take(), take())
        assert sorted(map(str, outcomes)) in (["None", "None", "None"], ["False", "False", "True"])
        assert (await coll.find_one({"_id": "G1"}))["load"] == 2
        assert await take() is False
    finally:
        client.close()
