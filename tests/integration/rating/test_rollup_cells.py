"""The roll-up cells on the real store: several saves' increments go together, each entry at most once per cell."""

from __future__ import annotations

import asyncio

import pytest

from common import mongo
from rating.adapters.store import MongoRollups
from rating.domain.report import Cell

pytestmark = pytest.mark.integration

WEEK = "2026-W49"
STATION, OFFICER = Cell(WEEK, "station", "S1", "sms"), Cell(WEEK, "officer", "P1001", "sms")


async def _counts(rollups: MongoRollups) -> dict[str, tuple[int, int]]:
    docs = await rollups.collection.find({}, {"satisfied": 1, "dissatisfied": 1}).to_list(None)
    return {d["_id"]: (d.get("satisfied", 0), d.get("dissatisfied", 0)) for d in docs}


async def test_concurrent_entries_on_a_new_cell_are_each_counted_once(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        rollups = MongoRollups(mongo.database(client, db_name))
        # 40 saves at once, each with both cells, on cells that do not exist yet; the first ten twice
        # (a redelivery meeting its first delivery)
        entries = [(f"rt-{i}/rollup/1", [(STATION, {"satisfied": 1}), (OFFICER, {"satisfied": 1})]) for i in range(40)]
        entries += entries[:10]
        await asyncio.gather(*(rollups.apply(mark, changes, 1_000 + i) for i, (mark, changes) in enumerate(entries)))
        assert await _counts(rollups) == {STATION.doc_id: (40, 0), OFFICER.doc_id: (40, 0)}
        # one more, alone, and a repeat of the last of the group: the repeat changes nothing
        await rollups.apply("rt-40/rollup/1", [(STATION, {"dissatisfied": 1}), (OFFICER, {"dissatisfied": 1})], 2_000)
        await rollups.apply("rt-39/rollup/1", [(STATION, {"satisfied": 1})], 2_001)
        assert await _counts(rollups) == {STATION.doc_id: (40, 1), OFFICER.doc_id: (40, 1)}
        doc = await rollups.collection.find_one({"_id": STATION.doc_id})
        assert (doc["week_scope"], doc["key"], doc["rev"], doc["marked_ms"], len(doc["marks"])) == (
            f"{WEEK}|station", "S1", 41, 1_000, 41)
    finally:
        client.close()


async def test_a_cell_the_store_refuses_fails_the_entry_and_the_other_cells_keep_theirs(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        rollups = MongoRollups(mongo.database(client, db_name))
        bad = Cell(WEEK, "officer", "P1002", "sms")
        with pytest.raises(Exception) as refused:  # $inc by a string: the store refuses that cell's update
            await rollups.apply("rt-1/rollup/1", [(STATION, {"satisfied": 1}), (bad, {"satisfied": "one"})], 1_000)
        assert "DuplicateKeyError" not in type(refused.value).__name__
        assert (await _counts(rollups))[STATION.doc_id] == (1, 0)
        await rollups.apply("rt-1/rollup/1", [(STATION, {"satisfied": 1}), (bad, {"satisfied": 1})], 1_001)
        assert await _counts(rollups) == {STATION.doc_id: (1, 0), bad.doc_id: (1, 0)}  # the retry: the new cell only
    finally:
        client.close()
