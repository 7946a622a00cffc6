"""Where dispatch keeps its headline figures: roll-ups written with each alert, and rating's weekly
satisfaction as rating published it.

An alert's counts are staged with its insert and applied after its placement is told (a local effect
of the alert's outbox, `handlers.figures.apply_counts`). A roll-up document remembers, in `marks`, each
alert it took, so counts applied again (a crash before the unstaging, the relay) add nothing twice: the
update matches only a document without the alert's mark (one document, one atomic write).
`forget_marks` drops, through the `marked_ms` index, the marks at least `marks_kept_s` old whose counts
are no longer staged: a document holds the marks of the last minutes, and an update costs in
proportion to the document's size (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence, Set
from copy import deepcopy
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.mongo import forget_marks
from common.store_tuning import MarkedIncrements, set_path
from dispatch.domain.trends import Increment, field_key

TRENDS, HOTSPOTS, SATISFACTION = "trend_rollups", "hotspot_rollups", "weekly_satisfaction"

INDEXES = {
    TRENDS: [IndexModel([("marked_ms", ASCENDING)])],
    HOTSPOTS: [IndexModel([("marked_ms", ASCENDING)])],
    SATISFACTION: [],
}




class Figures(Protocol):
    async def add(self, mark: str, increments: Sequence[Increment], at_ms: int) -> None: ...

    async def add_hotspot(
        self, mark: str, doc_id: str, fixed: Mapping[str, Any], delta: Mapping[str, int], names: Mapping[str, str],
        at_ms: int,
    ) -> None: ...

    async def periods(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def hotspot_cells(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The hotspot cell-weeks of these ids that have any alert."""
        ...

    async def keep_satisfaction(self, week: str, figures: Mapping[str, Any], as_of_ms: int) -> bool:
        """Keep rating's figure of a week unless a later one is kept; whether it was kept."""
        ...

    async def satisfaction(self, weeks: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        """Drop marks set at or before `older_than_ms` (through the `marked_ms` index), except those of alerts
        whose counts are still `staged`; how many documents were cleaned."""
        ...

    async def replace_all(self, trends: Iterable[Mapping[str, Any]], hotspots: Iterable[Mapping[str, Any]]) -> None:
        """The roll-ups, rebuilt (`trends.rebuild`, `hotspots.rebuild`: a repair, or a benchmark's fill)."""
        ...


class MongoFigures:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.trends: AsyncIOMotorCollection = db[TRENDS]
        self.hotspots: AsyncIOMotorCollection = db[HOTSPOTS]
        self.weekly: AsyncIOMotorCollection = db[SATISFACTION]
        #: what a batch's alerts add to one document goes as one update
        self._trend_counts = MarkedIncrements(self.trends)
        self._hotspot_counts = MarkedIncrements(self.hotspots)

    async def add(self, mark: str, increments: Sequence[Increment], at_ms: int) -> None:
        # one document each, in any order: together, not one round trip after the other
        key = field_key(mark)
        await asyncio.gather(*(self._trend_counts.add(doc_id, key, delta, at_ms) for doc_id, delta in increments))

    async def add_hotspot(
        self, mark: str, doc_id: str, fixed: Mapping[str, Any], delta: Mapping[str, int], names: Mapping[str, str],
        at_ms: int,
    ) -> None:
        await self._hotspot_counts.add(doc_id, field_key(mark), delta, at_ms, on_insert=fixed, names=names)

    async def periods(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The trend roll-ups (and hotspot week summaries) of these ids that have any alert."""
        return {d["_id"]: d async for d in self.trends.find({"_id": {"$in": list(doc_ids)}}, {"marks": 0})}

    async def hotspot_cells(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await self.hotspots.find({"_id": {"$in": list(doc_ids)}}, {"marks": 0}).to_list(None)

    async def keep_satisfaction(self, week: str, figures: Mapping[str, Any], as_of_ms: int) -> bool:
        try:
            result = await self.weekly.update_one(
                {"_id": week, "as_of_ms": {"$lt": as_of_ms}}, {"$set": {**figures, "as_of_ms": as_of_ms}}, upsert=True,
            )
        except DuplicateKeyError:
            return False  # a later (or the same) figure of the week is kept
        return bool(result.modified_count or result.upserted_id is not None)

    async def satisfaction(self, weeks: Sequence[str]) -> dict[str, dict[str, Any]]:
        # one read: a week's document each, a few hundred in all after years
        return {doc["_id"]: doc async for doc in self.weekly.find({"_id": {"$in": list(weeks)}})}

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        keep = {field_key(mark) for mark in staged}
        return sum([await forget_marks(c, older_than_ms, keep, limit) for c in (self.trends, self.hotspots)])

    async def replace_all(self, trends: Iterable[Mapping[str, Any]], hotspots: Iterable[Mapping[str, Any]]) -> None:
        for collection, docs in ((self.trends, [{**d, "rev": 0} for d in trends]),
                                 (self.hotspots, [{**d, "rev": 0} for d in hotspots])):
            await collection.delete_many({})
            for start in range(0, len(docs), 1000):
                await collection.insert_many(docs[start : start + 1000], ordered=False)


class InMemoryFigures:
    """The same figures in dictionaries, for use-case tests."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {TRENDS: {}, HOTSPOTS: {}, SATISFACTION: {}}

    def _add(self, name: str, doc_id: str, mark: str, delta: Mapping[str, int], at_ms: int,
             on_insert: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> None:
        doc = self.docs[name].setdefault(doc_id, {"_id": doc_id, **(on_insert or {}), "marks": {}, "rev": 0})
        if mark in doc["marks"]:
            return
        doc["marks"][mark] = at_ms
        doc["rev"] += 1
        for path, n in delta.items():
            set_path(doc, path, lambda old, n=n: (old or 0) + n)
        for path, value in (names or {}).items():
            set_path(doc, path, lambda _, value=value: value)

    async def add(self, mark: str, increments: Sequence[Increment], at_ms: int) -> None:
        for doc_id, delta in increments:
            self._add(TRENDS, doc_id, mark, delta, at_ms)

    async def add_hotspot(
        self, mark: str, doc_id: str, fixed: Mapping[str, Any], delta: Mapping[str, int], names: Mapping[str, str],
        at_ms: int,
    ) -> None:
        self._add(HOTSPOTS, doc_id, mark, delta, at_ms, fixed, names)

    async def periods(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {i: _unmarked(self.docs[TRENDS][i]) for i in doc_ids if i in self.docs[TRENDS]}

    async def hotspot_cells(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [_unmarked(self.docs[HOTSPOTS][i]) for i in doc_ids if i in self.docs[HOTSPOTS]]

    async def keep_satisfaction(self, week: str, figures: Mapping[str, Any], as_of_ms: int) -> bool:
        kept = self.docs[SATISFACTION].get(week)
        if kept is not None and kept["as_of_ms"] >= as_of_ms:
            return False
        self.docs[SATISFACTION][week] = {"_id": week, **(kept or {}), **figures, "as_of_ms": as_of_ms}
        return True

    async def satisfaction(self, weeks: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {w: dict(self.docs[SATISFACTION][w]) for w in weeks if w in self.docs[SATISFACTION]}

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        cleaned = 0
        for name in (TRENDS, HOTSPOTS):
            for doc in list(self.docs[name].values()):
                kept = {m: at for m, at in doc["marks"].items() if at > older_than_ms or m in staged}
                if cleaned < limit and kept != doc["marks"]:
                    doc["marks"] = kept
                    cleaned += 1
        return cleaned

    async def replace_all(self, trends: Iterable[Mapping[str, Any]], hotspots: Iterable[Mapping[str, Any]]) -> None:
        self.docs[TRENDS] = {d["_id"]: {**deepcopy(dict(d)), "marks": {}, "rev": 0} for d in trends}
        self.docs[HOTSPOTS] = {d["_id"]: {**deepcopy(dict(d)), "marks": {}, "rev": 0} for d in hotspots}


def _unmarked(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: deepcopy(v) for k, v in doc.items() if k != "marks"}
