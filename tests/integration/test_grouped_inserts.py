"""Group commit against the real store: each concurrent writer learns the fate of its own insert."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from common import mongo
from common.repository import WriteGroup

pytestmark = pytest.mark.integration


async def test_inserts_batched_and_each_duplicate_reported_to_its_writer(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        coll = mongo.database(client, db_name)["docs"]
        await coll.insert_one({"_id": "taken"})
        writes = WriteGroup(coll)
        ids = [f"d{i}" for i in range(40)] + ["taken", "d3"]
        results = await asyncio.gather(*(writes.insert({"_id": i}) for i in ids), return_exceptions=True)
        failed = [ids[k] for k, r in enumerate(results) if isinstance(r, DuplicateKeyError)]
        assert sorted(failed) == ["d3", "taken"]
        assert await coll.count_documents({}) == 41
    finally:
        client.close()
