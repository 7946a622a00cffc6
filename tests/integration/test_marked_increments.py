"""Roll-up counts on the real store: each entry taken at most once per document, a batch's entries in one update."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common import mongo
from common.mongo import forget_marks
from common.store_tuning import MARKED_AT_ONCE, MarkedIncrements

pytestmark = pytest.mark.integration


class Counted:
    """The collection, counting the updates and inserts sent to it."""

    def __init__(self, collection: Any) -> None:
        self.collection, self.updates, self.inserts = collection, 0, 0

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        self.updates += 1
        return await self.collection.update_one(*args, **kwargs)

    async def insert_one(self, *args: Any, **kwargs: Any) -> Any:
        self.inserts += 1
        return await self.collection.insert_one(*args, **kwargs)

    async def bulk_write(self, requests: list[Any], **kwargs: Any) -> Any:
        self.updates += len(requests)
        self.bulks = getattr(self, "bulks", 0) + 1
        return await self.collection.bulk_write(requests, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.finds = getattr(self, "finds", 0) + 1
        return self.collection.find(*args, **kwargs)


@pytest.fixture
async def cells(store_server, db_name):
    client = mongo.client(store_server.url)
    yield mongo.database(client, db_name)["cells"]
    client.close()


async def test_a_batch_of_entries_on_one_document_is_one_update(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted)  # type: ignore[arg-type]
    await counts.add("week", "first", {"c.theft": 1}, 1_000, on_insert={"kind": "week"}, names={"names.x": "某村"})
    assert (counted.updates, counted.inserts) == (1, 1)  # no document yet: the update found none, then the insert
    await asyncio.gather(*(counts.add("week", f"m{i}", {"c.theft": 1, "u.G1.theft": 1}, 2_000 + i) for i in range(30)))
    assert (counted.updates, counted.inserts) == (2, 1)
    doc = await cells.find_one({"_id": "week"})
    assert (doc["kind"], doc["c"], doc["u"], doc["names"], doc["rev"], doc["marked_ms"], len(doc["marks"])) == (
        "week", {"theft": 31}, {"G1": {"theft": 30}}, {"x": "某村"}, 31, 1_000, 31)


async def test_a_group_takes_at_most_marked_at_once_entries_so_the_store_never_refuses_its_query(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted)  # type: ignore[arg-type]
    await counts.add("week", "first", {"n": 1}, 1_000)
    many = 10 * MARKED_AT_ONCE + 1  # in one update: a query of 1,002 conditions, which the embedded store refuses
    await asyncio.gather(*(counts.add("week", f"m{i}", {"n": 1}, 2_000 + i) for i in range(many)))
    assert counted.updates == 1 + 11  # then one update per group of MARKED_AT_ONCE (the last, of one, alone)
    doc = await cells.find_one({"_id": "week"})
    assert (doc["n"], len(doc["marks"])) == (many + 1, many + 1)


async def test_a_batch_holding_an_entry_taken_already_takes_each_of_the_others_once(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted)  # type: ignore[arg-type]
    await counts.add("week", "m0", {"n": 1}, 1_000)
    marks = ["m0", "m1", "m2", "m1", "m3"]  # m0 taken already, m1 twice in the batch
    await asyncio.gather(*(counts.add("week", m, {"n": 1}, 2_000) for m in marks))
    doc = await cells.find_one({"_id": "week"})
    assert (doc["n"], sorted(doc["marks"]), doc["rev"]) == (4, ["m0", "m1", "m2", "m3"], 4)


async def test_entries_on_a_new_document_from_many_callers_are_each_counted_once(cells) -> None:
    counts = MarkedIncrements(cells)
    await asyncio.gather(*(counts.add(f"cell-{i % 3}", f"m{i}", {"n": 1}, 1_000 + i, on_insert={"cell": i % 3})
                           for i in range(30)))
    docs = {d["_id"]: (d["n"], d["cell"], len(d["marks"])) async for d in cells.find({})}
    assert docs == {f"cell-{k}": (10, k, 10) for k in range(3)}


async def test_a_document_the_store_refuses_fails_its_callers_only(cells) -> None:
    await cells.insert_one({"_id": "bad", "n": "not a number", "marks": {}})
    counts = MarkedIncrements(cells)
    results = await asyncio.gather(counts.add("bad", "m1", {"n": 1}, 1_000), counts.add("good", "m1", {"n": 1}, 1_000),
                                   return_exceptions=True)
    assert isinstance(results[0], Exception) and results[1] is None
    assert (await cells.find_one({"_id": "good"}))["n"] == 1


class Busy(Counted):
    """A station-wide document taking an entry between the sweep's read and its write."""

    def __init__(self, collection: Any, doc_id: str, at_ms: int) -> None:
        super().__init__(collection)
        self.doc_id, self.at_ms, self.taken = doc_id, at_ms, False

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.finds = getattr(self, "finds", 0) + 1
        return self.collection.find(*args, **kwargs)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        if not self.taken:
            self.taken = True
            await MarkedIncrements(self.collection).add(self.doc_id, "meanwhile", {"n": 1}, self.at_ms)
        return await super().update_one(*args, **kwargs)


async def test_old_marks_of_a_busy_document_are_forgotten_though_it_takes_entries_meanwhile(cells) -> None:
    counts = MarkedIncrements(cells)
    for i, at in enumerate((1_000, 1_100, 5_000)):
        await counts.add("week", f"m{i}", {"n": 1}, at)
    assert await forget_marks(Busy(cells, "week", 6_000), 2_000) == 1  # type: ignore[arg-type]
    doc = await cells.find_one({"_id": "week"})
    assert (sorted(doc["marks"]), doc["marked_ms"], doc["n"]) == (["m2", "meanwhile"], 5_000, 4)


async def test_when_every_mark_is_old_marked_ms_goes_only_if_nothing_came_meanwhile(cells) -> None:
    counts = MarkedIncrements(cells)
    await counts.add("quiet", "m0", {"n": 1}, 1_000)
    assert await forget_marks(cells, 2_000) == 1
    quiet = await cells.find_one({"_id": "quiet"})
    assert (quiet["marks"], "marked_ms" in quiet) == ({}, False)
    await counts.add("busy", "m0", {"n": 1}, 1_000)
    assert await forget_marks(Busy(cells, "busy", 7_000), 2_000) == 1  # type: ignore[arg-type]
    busy = await cells.find_one({"_id": "busy"})
    assert (busy["marks"], busy["marked_ms"]) == ({"meanwhile": 7_000}, 1_000)  # read again on the next run
    assert await forget_marks(cells, 8_000) == 1
    busy = await cells.find_one({"_id": "busy"})
    assert (busy["marks"], "marked_ms" in busy, busy["n"]) == ({}, False, 2)


async def test_a_thousand_old_marks_are_forgotten_though_the_store_unsets_few_fields_at_once(cells) -> None:
    marks = {f"m{i}": 1_000 + i for i in range(1_000)} | {"young": 9_000}
    await cells.insert_one({"_id": "week", "n": 1_001, "rev": 1_001, "marks": marks, "marked_ms": 1_000})
    assert await forget_marks(cells, 5_000) == 1
    doc = await cells.find_one({"_id": "week"})
    assert (doc["marks"], doc["marked_ms"], doc["n"]) == ({"young": 9_000}, 9_000, 1_001)


async def test_a_batch_over_many_documents_is_one_bulk_write_and_the_new_or_taken_ones_go_alone(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted)  # type: ignore[arg-type]
    await asyncio.gather(*(counts.add(f"cell-{k}", "seed", {"n": 1}, 1_000) for k in range(20)))  # 20 new: alone
    assert (getattr(counted, "bulks", 0), counted.inserts) == (0, 20)
    counted.inserts = 0
    adds = [counts.add(f"cell-{k}", "a1", {"n": 1, "h.8": 1}, 2_000, names={"names.k": "某村"}) for k in range(20)]
    adds += [counts.add("cell-0", "a2", {"n": 1}, 2_001), counts.add("cell-1", "seed", {"n": 1}, 2_002),
             counts.add("cell-new", "a1", {"n": 1}, 2_003, on_insert={"week": "2026-W49"})]
    await asyncio.gather(*adds)
    # one bulk for the 20 documents seen before, cell-new updated on its own; then alone: cell-new's insert,
    # and cell-1's taken "seed" tried twice
    assert (getattr(counted, "bulks", 0), counted.inserts) == (1, 3)
    docs = {d["_id"]: d async for d in cells.find({})}
    assert docs["cell-0"]["n"] == 3 and docs["cell-1"]["n"] == 2 and docs["cell-19"]["n"] == 2  # seed once
    assert (docs["cell-5"]["h"], docs["cell-5"]["names"], docs["cell-5"]["rev"]) == ({"8": 1}, {"k": "某村"}, 2)
    assert (docs["cell-new"]["n"], docs["cell-new"]["week"], list(docs["cell-new"]["marks"])) == (1, "2026-W49", ["a1"])


async def test_upserting_a_batch_takes_new_documents_at_once_and_a_taken_entry_once(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted, upsert=True)  # type: ignore[arg-type]
    await counts.add("cell-0", "seed", {"n": 1}, 1_000, on_insert={"cell": 0})
    adds = [counts.add(f"cell-{k}", f"a{k}", {"n": 1}, 2_000, on_insert={"cell": k}) for k in range(10)]
    adds += [counts.add("cell-0", "seed", {"n": 1}, 2_001, on_insert={"cell": 0}),  # taken: cell-0 goes alone
             counts.add("cell-0", "b", {"n": 1}, 2_002, on_insert={"cell": 0})]
    await asyncio.gather(*adds)
    assert (getattr(counted, "bulks", 0), counted.inserts) == (1, 0)  # new cells made by the bulk's upserts
    docs = {d["_id"]: (d["n"], d["cell"], len(d["marks"])) async for d in cells.find({})}
    assert docs == {"cell-0": (3, 0, 3), **{f"cell-{k}": (1, k, 1) for k in range(1, 10)}}


async def test_documents_not_seen_before_are_updated_alone_so_nothing_is_read_to_find_the_new_ones(cells) -> None:
    counted = Counted(cells)
    counts = MarkedIncrements(counted)  # type: ignore[arg-type]
    await asyncio.gather(*(counts.add(f"week-{k}", "seed", {"n": 1}, 1_000) for k in range(3)))
    await asyncio.gather(*(counts.add(f"week-{k}", "a1", {"n": 1}, 2_000) for k in range(3)))  # now seen
    counted.updates, counted.inserts, counted.bulks = 0, 0, 0
    adds = [counts.add(f"week-{k}", "a2", {"n": 1}, 3_000) for k in range(3)]
    adds += [counts.add(f"cell-{k}", "a2", {"n": 1}, 3_000) for k in range(4)]  # new cells among them
    await asyncio.gather(*adds)
    assert getattr(counted, "finds", 0) == 0  # no document's marks read to learn which did not match
    assert (counted.bulks, counted.inserts) == (1, 4)
    docs = {d["_id"]: d["n"] async for d in cells.find({})}
    assert docs == {**{f"week-{k}": 3 for k in range(3)}, **{f"cell-{k}": 1 for k in range(4)}}
