"""The roll-up cells on the real store: several saves' increments go together, each entry at most once per cell."""

from __future__ import annotations

import asyncio

import pytest

from common import mongo
from common.outbox import LOCAL
from rating.adapters.store import INDEXES, ROLLUP, MongoRatings, MongoRollups, mark, rollup_marks
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
        await rollups.collection.insert_one({"_id": bad.doc_id, "satisfied": "one", "marks": {}})  # not a number
        with pytest.raises(Exception) as refused:  # the store refuses that cell's $inc
            await rollups.apply("rt-1/rollup/1", [(STATION, {"satisfied": 1}), (bad, {"satisfied": 1})], 1_000)
        assert "DuplicateKeyError" not in type(refused.value).__name__
        assert (await _counts(rollups))[STATION.doc_id] == (1, 0)
        await rollups.collection.update_one({"_id": bad.doc_id}, {"$set": {"satisfied": 0}})  # repaired
        await rollups.apply("rt-1/rollup/1", [(STATION, {"satisfied": 1}), (bad, {"satisfied": 1})], 1_001)
        assert await _counts(rollups) == {STATION.doc_id: (1, 0), bad.doc_id: (1, 0)}  # the retry: the new cell only
    finally:
        client.close()


async def test_marks_old_enough_are_forgotten_except_those_of_entries_still_staged(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        db = mongo.database(client, db_name)
        rollups, ratings = MongoRollups(db), MongoRatings(db)
        await mongo.ensure_indexes(db, INDEXES)
        staged_entry = {"msg_id": "rt-2/rollup/1", "subject": LOCAL + ROLLUP, "data": "[]"}
        event = {"msg_id": "rt-2/received", "subject": "ratings.received", "data": "{}"}
        await db["ratings"].insert_many([
            {"_id": "rt-1", "version": 1, "outbox": {}},  # its entry applied and unstaged
            {"_id": "rt-2", "version": 1, "outbox": {"0001-0000": event, "0001-0001": staged_entry}, "outbox_ms": 5},
        ])
        staged = set().union(*map(rollup_marks, await ratings.outboxes(10)))
        assert staged == {mark("rt-2/rollup/1")}
        for msg_id, at_ms in (("rt-1/rollup/1", 1_000), ("rt-2/rollup/1", 1_000), ("rt-3/rollup/1", 3_000)):
            await rollups.apply(mark(msg_id), [(STATION, {"satisfied": 1})], at_ms)
        assert await rollups.forget_marks(999, staged) == 0  # none old enough: the cell is not read
        assert await rollups.forget_marks(2_000, staged) == 1
        doc = await rollups.collection.find_one({"_id": STATION.doc_id})
        assert (set(doc["marks"]), doc["marked_ms"]) == ({mark("rt-2/rollup/1"), mark("rt-3/rollup/1")}, 1_000)
        assert await rollups.forget_marks(5_000) == 1  # the entry unstaged since: every mark goes
        doc = await rollups.collection.find_one({"_id": STATION.doc_id})
        assert (doc["marks"], "marked_ms" in doc, doc["satisfied"]) == ({}, False, 3)
    finally:
        client.close()
