"""Where rating keeps its records, the weekly roll-ups, the opt-outs and the weeks drawn: MongoDB, or memory for tests.

A record's save stages, in the record's own outbox and in the same write as its state change, the
roll-up increments the change causes (`rollup_effect`: one local effect per save, before its events);
the kernel's unit of work applies it after the save through `apply_rollup`, as it publishes events.
`Rollups.apply` adds a staged entry to each of its cells at most once: the cell document marks the
entries it took (`marks`) in the same write as the `$inc`. A mark is needed only while its entry can
be applied again, that is while the entry is staged in its record (a crash or an outage between the
cell's write and the unstaging) and for a while after (`marks_kept`: a handler that read the entry
before it was unstaged and writes late). The relay forgets the marks older than that whose entries
are no longer staged (`rollup_marks` of the records' outboxes), so a station-wide cell holds the
marks of the last minutes, not of the last hour: a cell's update costs in proportion to its size
(docs/performance.md). A crash
between the record's write and its roll-up leaves the entry staged for the next load or the relay; a
redelivery applies nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence, Set
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common import gauges
from common.mongo import forget_marks, key_before_index
from common.outbox import LOCAL, Effect, EffectHandler
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Repository
from common.store_tuning import MarkedIncrements
from common.timefmt import epoch_ms
from rating.domain import Followup, Rating, Rollup, SpotCheck, Survey, increments
from rating.domain.report import Cell, Increment

R = TypeVar("R", Survey, Rating, Followup, SpotCheck)

#: the local effect a record's save stages for the weekly roll-ups
ROLLUP = "rating.rollup"
#: a survey reply goes to one of the phone's latest surveys; older ones are long expired
PHONE_SURVEYS_READ = 50
#: a subject has a handful of ratings; more than this are not listed by subject
SUBJECT_RATINGS_READ = 1000

#: when the follow-up was opened (epoch ms), only while it is not done (open or overdue): what the gauge counts
UNDONE_SINCE_MS = "undone_since_ms"

INDEXES = {
    "surveys": [
        IndexModel([("phone", ASCENDING)]),
        IndexModel([("next_due_ms", ASCENDING)]),  # numeric: the embedded store scans date ranges
        OUTBOX_INDEX,
    ],
    "ratings": [
        IndexModel([("subject_id", ASCENDING)]),
        IndexModel([("officer_id", ASCENDING)]),
        IndexModel([("week", ASCENDING)]),
        IndexModel([("officer_week", ASCENDING)]),  # one field: the embedded store scans compound conditions
        OUTBOX_INDEX,
    ],
    "followups": [
        IndexModel([("state", ASCENDING)]),
        IndexModel([("next_due_ms", ASCENDING)]),
        IndexModel([(UNDONE_SINCE_MS, ASCENDING)], sparse=True),  # the gauge of follow-ups not done
        OUTBOX_INDEX,
    ],
    "spot_checks": [IndexModel([("week", ASCENDING)]), OUTBOX_INDEX],
    "rollups": [IndexModel([("week_scope", ASCENDING)]), IndexModel([("marked_ms", ASCENDING)])],
}


def wall_ms() -> int:
    """Wall time in epoch ms: when an entry was staged or a cell marked it (bookkeeping, not a rule)."""
    return epoch_ms(datetime.now(UTC))  # type: ignore[return-value]


# --- staged roll-up entries ---------------------------------------------------------------------


def encode(changes: Iterable[Increment]) -> list[dict[str, Any]]:
    """Increments as stored in a record's `rollup`: one item per cell, deltas of a cell summed."""
    merged: dict[Cell, dict[str, int]] = {}
    for cell, delta in changes:
        into = merged.setdefault(cell, {})
        for name, n in delta.items():
            into[name] = into.get(name, 0) + n
    return [{**asdict(cell), "delta": delta} for cell, delta in sorted(merged.items())]


def decode(items: Iterable[Mapping[str, Any]]) -> list[Increment]:
    return [(Cell(i["week"], i["scope"], i["key"], i["channel"]), dict(i["delta"])) for i in items]


def mark(msg_id: str) -> str:
    """The name a cell marks a staged entry with: field-safe, whatever the record's id holds."""
    return hashlib.blake2b(msg_id.encode(), digest_size=12).hexdigest()


def rollup_effect(record: Any, station: str) -> list[tuple[Effect, str]]:
    """The roll-up increments of the record's new events, as one effect staged with its save (none if none)."""
    changes = encode(change for event in record.events for change in increments(event, station=station))
    if not changes:
        return []
    return [(Effect(ROLLUP, json.dumps(changes, ensure_ascii=False)), f"{record.ident}/rollup/{record.version + 1}")]


def apply_rollup(rollups: Callable[[], Rollups]) -> EffectHandler:
    """The handler of the staged roll-up effects: each entry's increments to their cells, at most once."""

    async def apply(msg_id: str, data: str) -> None:
        await rollups().apply(mark(msg_id), decode(json.loads(data)), wall_ms())

    return apply


class RecordCodec(Generic[R]):
    """A record as a document, with the fields its queries need."""

    def __init__(self, kind: type[R], extra: Callable[[R], dict[str, Any]] | None = None) -> None:
        self._kind = kind
        self._extra = extra or (lambda _: {})

    def ident(self, record: R) -> str:
        return record.ident

    def to_document(self, record: R) -> dict[str, Any]:
        return {**record.to_dict(), **self._extra(record)}

    def from_document(self, doc: Mapping[str, Any]) -> R:
        return self._kind.from_dict(doc)


def _due_ms(record: Survey | Followup) -> dict[str, Any]:
    return {"next_due_ms": epoch_ms(record.next_due_at)}


def _followup_keys(followup: Followup) -> dict[str, Any]:
    keys = _due_ms(followup)
    if followup.state != "done":  # absent once done: the sparse index holds the follow-ups not done only
        keys[UNDONE_SINCE_MS] = epoch_ms(followup.opened_at)
    return keys


def _rating_keys(rating: Rating) -> dict[str, Any]:
    return {"officer_week": f"{rating.officer_id}|{rating.week}" if rating.officer_id else None}


SURVEYS, RATINGS = RecordCodec(Survey, _due_ms), RecordCodec(Rating, _rating_keys)
FOLLOWUPS, SPOT_CHECKS = RecordCodec(Followup, _followup_keys), RecordCodec(SpotCheck)

#: leadership follow-ups not yet done (open or overdue)
FOLLOWUPS_UNDONE = gauges.holding(UNDONE_SINCE_MS)


def followup_gauge_key(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The gauge's key a save now writes for a stored follow-up (see `key_before_gauge`)."""
    fresh = FOLLOWUPS.to_document(FOLLOWUPS.from_document(doc))
    return {UNDONE_SINCE_MS: fresh[UNDONE_SINCE_MS]} if UNDONE_SINCE_MS in fresh else {}


async def key_before_gauge(db: AsyncIOMotorDatabase) -> int:
    """Follow-ups stored before the gauge's key get it, once (start-up, before the indexes): those open or
    overdue, read by the state index. Returns how many changed."""
    queries = [{"state": "open"}, {"state": "overdue"}]
    return await key_before_index(db["followups"], UNDONE_SINCE_MS, queries, followup_gauge_key)


# --- record repositories ------------------------------------------------------------------------


class Records(Repository[R], Protocol):
    """Records of one kind."""

    def scan(self, batch: int = 5000) -> AsyncIterator[list[R]]:
        """Every record, in batches by id (the rebuild of the roll-ups)."""

    async def forget_all_staged(self) -> None:
        """The roll-ups were rebuilt from the records as they are: no staged roll-up entry is still to apply."""


def _rollup_keys(outbox: Mapping[str, Mapping[str, str]] | None) -> list[str]:
    return [key for key, entry in (outbox or {}).items() if entry["subject"] == LOCAL + ROLLUP]


def rollup_marks(outbox: Mapping[str, Mapping[str, str]] | None) -> set[str]:
    """The marks the staged roll-up entries of an outbox set on their cells."""
    return {mark(outbox[key]["msg_id"]) for key in _rollup_keys(outbox)} if outbox else set()


class MongoRecords(MongoRepository[R]):
    async def scan(self, batch: int = 5000) -> AsyncIterator[list[R]]:
        """Every record, in batches by id (the rebuild of the roll-ups)."""
        after = ""
        while True:
            cursor = self.collection.find({"_id": {"$gt": after}}).sort("_id", ASCENDING).limit(batch)
            docs = await cursor.to_list(batch)
            if not docs:
                return
            after = docs[-1]["_id"]
            yield [self.codec.from_document(d) for d in docs]

    async def forget_all_staged(self) -> None:
        async for doc in self.collection.find({"outbox_ms": {"$gte": 0}}, {"outbox": 1}):
            if keys := _rollup_keys(doc.get("outbox")):
                await self.collection.update_one({"_id": doc["_id"]}, {"$unset": {f"outbox.{k}": "" for k in keys}})


class InMemoryRecords(InMemoryRepository[R]):
    async def scan(self, batch: int = 5000) -> AsyncIterator[list[R]]:
        records = self.aggregates()
        for start in range(0, len(records), batch):
            yield records[start : start + batch]

    async def forget_all_staged(self) -> None:
        for doc in self.documents.values():
            for key in _rollup_keys(doc.get("outbox")):
                del doc["outbox"][key]


# surveys


class Surveys(Records[Survey], Protocol):
    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        """Surveys to send or to expire at or before `now`, through an index."""

    async def of_phone(self, phone: str) -> list[Survey]:
        """The phone's latest surveys (normalised digits), newest send time first."""


class MongoSurveys(MongoRecords[Survey]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["surveys"], SURVEYS)

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def of_phone(self, phone: str) -> list[Survey]:
        cursor = self.collection.find({"phone": phone}).sort("send_at", DESCENDING).limit(PHONE_SURVEYS_READ)
        return [self.codec.from_document(d) async for d in cursor]


class InMemorySurveys(InMemoryRecords[Survey]):
    def __init__(self) -> None:
        super().__init__(SURVEYS, "surveys")

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        return [s.survey_id for s in self.aggregates() if s.next_due_at is not None and s.next_due_at <= now][:limit]

    async def of_phone(self, phone: str) -> list[Survey]:
        found = sorted((s for s in self.aggregates() if s.phone == phone), key=lambda s: s.send_at, reverse=True)
        return found[:PHONE_SURVEYS_READ]


# ratings


class RatingQuery:
    """What `GET /v1/ratings` asks: any of subject, officer and week, a page of the newest first."""

    def __init__(self, *, subject_id: str | None, officer_id: str | None, week: str | None, limit: int, offset: int):
        self.subject_id, self.officer_id, self.week = subject_id, officer_id, week
        self.limit, self.offset = limit, offset

    def matches(self, rating: Rating) -> bool:
        wanted = {"subject_id": self.subject_id, "officer_id": self.officer_id, "week": self.week}
        return all(getattr(rating, k) == v for k, v in wanted.items() if v is not None)

    def indexed(self) -> dict[str, Any]:
        """One indexed equality (the embedded store answers a single field from its index)."""
        if self.subject_id:
            return {"subject_id": self.subject_id}
        if self.officer_id and self.week:
            return {"officer_week": f"{self.officer_id}|{self.week}"}
        if self.officer_id:
            return {"officer_id": self.officer_id}
        return {"week": self.week}


class RatingRecords(Records[Rating], Protocol):
    async def find(self, query: RatingQuery) -> list[Rating]: ...

    async def of_week(self, week: str) -> list[Rating]:
        """Every rating of the week (the spot-check draw, once a week)."""


class MongoRatings(MongoRecords[Rating]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["ratings"], RATINGS)

    async def find(self, query: RatingQuery) -> list[Rating]:
        cursor = self.collection.find(query.indexed()).sort("at", DESCENDING)
        if query.subject_id:  # few per subject: the other filters are applied here
            found = [r for r in [self.codec.from_document(d) async for d in cursor.limit(SUBJECT_RATINGS_READ)]
                     if query.matches(r)]
            return found[query.offset : query.offset + query.limit]
        return [self.codec.from_document(d) async for d in cursor.skip(query.offset).limit(query.limit)]

    async def of_week(self, week: str) -> list[Rating]:
        return [self.codec.from_document(d) async for d in self.collection.find({"week": week})]


class InMemoryRatings(InMemoryRecords[Rating]):
    def __init__(self) -> None:
        super().__init__(RATINGS, "ratings")

    async def find(self, query: RatingQuery) -> list[Rating]:
        found = sorted((r for r in self.aggregates() if query.matches(r)), key=lambda r: r.at, reverse=True)
        return found[query.offset : query.offset + query.limit]

    async def of_week(self, week: str) -> list[Rating]:
        return [r for r in self.aggregates() if r.week == week]


# follow-ups


class Followups(Records[Followup], Protocol):
    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        """Open follow-ups past their deadline, through an index."""

    async def find(self, *, state: str | None, limit: int, offset: int) -> list[Followup]:
        """Earliest deadline first."""


class MongoFollowups(MongoRecords[Followup]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["followups"], FOLLOWUPS)

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        # check_deadline flags only after due_at: ask for strictly earlier deadlines
        cursor = self.collection.find({"next_due_ms": {"$lt": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def find(self, *, state: str | None, limit: int, offset: int) -> list[Followup]:
        query = {"state": state} if state else {}
        cursor = self.collection.find(query).sort("due_at", ASCENDING).skip(offset).limit(limit)
        return [self.codec.from_document(d) async for d in cursor]


class InMemoryFollowups(InMemoryRecords[Followup]):
    def __init__(self) -> None:
        super().__init__(FOLLOWUPS, "followups")

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        return [f.followup_id for f in self.aggregates() if f.next_due_at is not None and f.next_due_at < now][:limit]

    async def find(self, *, state: str | None, limit: int, offset: int) -> list[Followup]:
        found = sorted((f for f in self.aggregates() if state in (None, f.state)), key=lambda f: f.due_at)
        return found[offset : offset + limit]


# spot checks


class SpotChecks(Records[SpotCheck], Protocol):
    async def of_week(self, week: str, *, limit: int, offset: int) -> list[SpotCheck]:
        """By officer, then check id."""


class MongoSpotChecks(MongoRecords[SpotCheck]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["spot_checks"], SPOT_CHECKS)

    async def of_week(self, week: str, *, limit: int, offset: int) -> list[SpotCheck]:
        cursor = self.collection.find({"week": week}).sort([("officer_id", ASCENDING), ("_id", ASCENDING)])
        return [self.codec.from_document(d) async for d in cursor.skip(offset).limit(limit)]


class InMemorySpotChecks(InMemoryRecords[SpotCheck]):
    def __init__(self) -> None:
        super().__init__(SPOT_CHECKS, "spot_checks")

    async def of_week(self, week: str, *, limit: int, offset: int) -> list[SpotCheck]:
        found = sorted((c for c in self.aggregates() if c.week == week), key=lambda c: (c.officer_id, c.check_id))
        return found[offset : offset + limit]


# --- roll-ups -----------------------------------------------------------------------------------


class Rollups(Protocol):
    async def apply(self, mark: str, changes: Sequence[Increment], at_ms: int) -> None:
        """Add the changes to their cells, each cell at most once per `mark`."""

    async def of_week(self, week: str, scope: str) -> list[Rollup]: ...

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        """Drop marks set at or before `older_than_ms` (through an index), except those of entries still `staged`;
        how many cells were cleaned."""

    async def replace_all(self, rollups: Iterable[Rollup]) -> None:
        """The rebuild: these and no other cells."""


def _week_scope(cell: Cell) -> str:
    return f"{cell.week}|{cell.scope}"


class MongoRollups:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection: AsyncIOMotorCollection = db["rollups"]
        #: what concurrent saves (and one save's several cells) add to one cell goes as one update
        self._counts = MarkedIncrements(self.collection, upsert=True)  # a cell's fields are flat

    async def apply(self, mark: str, changes: Sequence[Increment], at_ms: int) -> None:
        taken = await asyncio.gather(*(
            self._counts.add(cell.doc_id, mark, delta, at_ms,
                             on_insert={**asdict(cell), "week_scope": _week_scope(cell)})
            for cell, delta in changes), return_exceptions=True)
        if failed := next((e for e in taken if isinstance(e, BaseException)), None):
            raise failed  # the entry stays staged: the cells that took it are marked, the others take it next time

    async def of_week(self, week: str, scope: str) -> list[Rollup]:
        return [Rollup.from_dict(d) async for d in self.collection.find({"week_scope": f"{week}|{scope}"})]

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        return await forget_marks(self.collection, older_than_ms, staged, limit)

    async def replace_all(self, rollups: Iterable[Rollup]) -> None:
        await self.collection.delete_many({})
        docs = [{**r.to_dict(), "week_scope": _week_scope(r.cell), "rev": 0} for r in rollups]
        for start in range(0, len(docs), 1000):
            await self.collection.insert_many(docs[start : start + 1000], ordered=False)


class InMemoryRollups:
    def __init__(self) -> None:
        self.cells: dict[Cell, Rollup] = {}
        self.marks: dict[Cell, dict[str, int]] = {}

    async def apply(self, mark: str, changes: Sequence[Increment], at_ms: int) -> None:
        for cell, delta in changes:
            marks = self.marks.setdefault(cell, {})
            if mark not in marks:
                marks[mark] = at_ms
                self.cells[cell] = self.cells.get(cell, Rollup(cell)).plus(delta)

    async def of_week(self, week: str, scope: str) -> list[Rollup]:
        return [r for c, r in self.cells.items() if (c.week, c.scope) == (week, scope)]

    async def forget_marks(self, older_than_ms: int, staged: Set[str] = frozenset(), limit: int = 100) -> int:
        def forgotten(marks: dict[str, int]) -> dict[str, int]:
            return {m: at for m, at in marks.items() if at > older_than_ms or m in staged}

        stale = [c for c, marks in self.marks.items() if forgotten(marks) != marks][:limit]
        for cell in stale:
            self.marks[cell] = forgotten(self.marks[cell])
        return len(stale)

    async def replace_all(self, rollups: Iterable[Rollup]) -> None:
        self.cells = {r.cell: r for r in rollups}
        self.marks = {}


# --- keys: opt-outs and the weeks drawn ---------------------------------------------------------


class KeySet(Protocol):
    async def add(self, key: str, at: datetime) -> bool:
        """True if the key is new."""

    async def has(self, key: str) -> bool: ...


class MongoKeySet:
    def __init__(self, collection: AsyncIOMotorCollection) -> None:
        self.collection = collection

    async def add(self, key: str, at: datetime) -> bool:
        try:
            await self.collection.insert_one({"_id": key, "at": at})
        except DuplicateKeyError:
            return False
        return True

    async def has(self, key: str) -> bool:
        return await self.collection.find_one({"_id": key}, {"_id": 1}) is not None


class InMemoryKeySet:
    def __init__(self) -> None:
        self.keys: dict[str, datetime] = {}

    async def add(self, key: str, at: datetime) -> bool:
        if key in self.keys:
            return False
        self.keys[key] = at
        return True

    async def has(self, key: str) -> bool:
        return key in self.keys
