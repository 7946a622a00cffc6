"""Where notify keeps callbacks and its record of each case: MongoDB, or memory for the use-case tests.

Every query a sweep or a hot route asks goes through one single-field index with an equality or a
numeric range and a limit (the embedded store answers those from the index; times are therefore
also stored as epoch ms): `next_due_ms` for the sweep, `open_officer` for an officer's day,
`case_id` for a case's callbacks, `state` for leadership's overdue list, `objection` for the
objections' lists, `completed_ms`, `overdue_ms`, `explained_ms` and `escalated_ms` for the
weekly figures; for the gauges, `open_due_ms` (sparse: open callbacks only) counts those due today and
those overdue, `open_objection_ms` (sparse: open objections only) the open objections and `manual_since_ms`
(sparse: manual callbacks only) those waiting for an officer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel

from common import gauges
from common.mongo import key_before_index
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Repository, Stored
from common.store_tuning import ReadAhead
from common.timefmt import epoch_ms
from notify.domain import OPEN_STATES, UNASSIGNED, Callback, Case

#: the deadline (epoch ms) of an open callback only: what "due today" counts
OPEN_DUE_MS = "open_due_ms"
#: when the objection was opened (epoch ms), only while it is open: what the open objections count
OPEN_OBJECTION_MS = "open_objection_ms"
#: when the callback became an officer's task (epoch ms), only while it is `manual`: what the manual ones count
MANUAL_SINCE_MS = "manual_since_ms"
#: the keys the gauges count, each held only while the callback belongs in a count
GAUGE_KEYS = (OPEN_DUE_MS, OPEN_OBJECTION_MS, MANUAL_SINCE_MS)

INDEXES = {
    "callbacks": [
        IndexModel([("next_due_ms", ASCENDING)]),
        IndexModel([("case_id", ASCENDING)]),
        IndexModel([("open_officer", ASCENDING)]),
        IndexModel([("objection", ASCENDING)]),
        IndexModel([("explained_ms", ASCENDING)]),
        IndexModel([("escalated_ms", ASCENDING)]),
        IndexModel([("state", ASCENDING)]),
        IndexModel([("officer_id", ASCENDING)]),
        IndexModel([("unit_id", ASCENDING)]),
        IndexModel([("due_ms", ASCENDING)]),
        IndexModel([("completed_ms", ASCENDING)]),
        IndexModel([("overdue_ms", ASCENDING)]),
        IndexModel([(OPEN_DUE_MS, ASCENDING)], sparse=True),  # the gauge of callbacks due today
        IndexModel([(OPEN_OBJECTION_MS, ASCENDING)], sparse=True),  # the gauge of open objections
        IndexModel([(MANUAL_SINCE_MS, ASCENDING)], sparse=True),  # the gauge of manual callbacks
        OUTBOX_INDEX,
    ],
    "cases": [OUTBOX_INDEX],
}

#: the times the weekly figures count, each an indexed epoch-ms field
WEEK_FIELDS = ("completed_ms", "overdue_ms", "explained_ms", "escalated_ms")
#: the most callbacks a week's figures read (a station's week holds hundreds)
FIGURES_LIMIT = 50_000
#: the most open callbacks one officer's day lists
OFFICER_OPEN_LIMIT = 1_000


@dataclass(frozen=True)
class CallbackQuery:
    """The filters of `GET /v1/callbacks`: every given one must hold."""

    case_id: str | None = None
    state: str | None = None
    officer_id: str | None = None
    unit_id: str | None = None
    due_from: datetime | None = None  # included
    due_to: datetime | None = None  # excluded

    def matches(self, callback: Callback) -> bool:
        wanted = {"case_id": self.case_id, "state": self.state, "officer_id": self.officer_id, "unit_id": self.unit_id}
        if any(v is not None and getattr(callback, k) != v for k, v in wanted.items()):
            return False
        return (self.due_from is None or callback.due_at >= self.due_from) and (
            self.due_to is None or callback.due_at < self.due_to
        )

    def mongo(self) -> dict[str, Any]:
        query: dict[str, Any] = {
            k: v for k, v in (("case_id", self.case_id), ("state", self.state), ("officer_id", self.officer_id),
                              ("unit_id", self.unit_id)) if v is not None
        }
        due: dict[str, int | None] = {}
        if self.due_from is not None:
            due["$gte"] = epoch_ms(self.due_from)
        if self.due_to is not None:
            due["$lt"] = epoch_ms(self.due_to)
        if due:
            query["due_ms"] = due
        return query


class CallbackCodec:
    def ident(self, callback: Callback) -> str:
        return callback.callback_id

    def to_document(self, callback: Callback) -> dict[str, Any]:
        return {
            **callback.to_dict(),
            "next_due_ms": epoch_ms(callback.next_due_at),
            "due_ms": epoch_ms(callback.due_at),
            "completed_ms": epoch_ms(callback.completed_at),
            "overdue_ms": epoch_ms(callback.overdue_at),
            "explained_ms": epoch_ms(callback.explained_at),
            "escalated_ms": epoch_ms(callback.escalated_at),
            "open_officer": (callback.officer_id or UNASSIGNED) if callback.is_open else None,
            # absent once done or superseded: the sparse index holds the open callbacks only
            **({OPEN_DUE_MS: epoch_ms(callback.due_at)} if callback.is_open else {}),
            **({OPEN_OBJECTION_MS: epoch_ms(callback.objection_at)} if callback.objection == "open" else {}),
            **({MANUAL_SINCE_MS: epoch_ms(callback.manual_at or callback.start_at)} if callback.state == "manual"
               else {}),
        }

    def from_document(self, doc: Mapping[str, Any]) -> Callback:
        return Callback.from_dict(doc)


def due_today(now: datetime, zone: tzinfo) -> dict[str, Any]:
    """Open callbacks whose deadline is still ahead and falls before the end of the station's day (`due_at`
    is the exclusive local midnight, so the last day's callbacks are today's; past ones count as overdue)."""
    return gauges.due_by_day_end(OPEN_DUE_MS, now, zone)


def overdue(now: datetime) -> dict[str, Any]:
    """Open callbacks at or past their deadline (`now >= due_at` is late, as `check_deadlines` says), whether or
    not the sweep has flagged them `overdue` yet."""
    return gauges.past(OPEN_DUE_MS, now)


#: objections not yet explained or handed on (escalated)
OBJECTIONS_OPEN = gauges.holding(OPEN_OBJECTION_MS)
#: callbacks waiting for an officer's phone call or visit
MANUAL = gauges.holding(MANUAL_SINCE_MS)


def gauge_keys(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The gauges' keys a save now writes for a stored callback (see `key_before_gauges`)."""
    codec = CallbackCodec()
    fresh = codec.to_document(codec.from_document(doc))
    return {k: fresh[k] for k in GAUGE_KEYS if k in fresh}


async def key_before_gauges(db: AsyncIOMotorDatabase) -> int:
    """Callbacks stored before the gauges' keys get them, once (start-up, before the indexes): every open
    callback and open objection, read by the state and objection indexes. Returns how many changed."""
    queries = [*({"state": state} for state in sorted(OPEN_STATES)), {"objection": "open"}]
    return await key_before_index(db["callbacks"], MANUAL_SINCE_MS, queries, gauge_keys)


@dataclass(eq=False)
class CaseRecord:
    """What notify has seen of a case (`domain.Case`), as stored: one document per case_id."""

    case: Case
    version: int = 0


class CaseCodec:
    def ident(self, record: CaseRecord) -> str:
        return record.case.case_id

    def to_document(self, record: CaseRecord) -> dict[str, Any]:
        return record.case.to_dict()

    def from_document(self, doc: Mapping[str, Any]) -> CaseRecord:
        return CaseRecord(Case.from_dict(dict(doc)))


class Callbacks(Repository[Callback], Protocol):
    """The callbacks, and the questions the use cases ask of them."""

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Callbacks with a send time, cutoff or deadline at or before `now`, through the index."""

    async def of_case(self, case_id: str) -> list[Callback]: ...

    async def find(self, query: CallbackQuery, *, limit: int, offset: int) -> list[Callback]:
        """Earliest deadline first."""

    async def open_for(self, officer_id: str) -> list[Callback]:
        """The officer's open callbacks (UNASSIGNED: those without an officer)."""

    async def in_week(self, start_ms: int, end_ms: int) -> list[Callback]:
        """Callbacks completed, gone overdue, or whose objection was explained or escalated in [start_ms, end_ms)."""

    async def objections(self, state: str, limit: int) -> list[Callback]:
        """Callbacks whose objection is in `state`, earliest deadline first, up to `limit` (through the index)."""


class MongoCallbacks(MongoRepository[Callback]):
    """The sweep's query reads the due documents whole, so firing one does not read it again (writes of
    concurrent handlers, a case's parties and concurrent cases, go together as every repository's do)."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["callbacks"], CallbackCodec())
        #: documents the last sweep query read, each handed once to the `get` that fires it
        self._read_ahead = ReadAhead()

    async def due(self, now: datetime, limit: int) -> list[str]:
        return await self._read_ahead.read(self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}).limit(limit))

    async def get(self, ident: str) -> Stored[Callback] | None:
        doc = self._read_ahead.take(ident)
        return self.stored(doc) if doc is not None else await super().get(ident)

    async def _read(self, query: dict[str, Any], limit: int, offset: int = 0, sort: bool = False) -> list[Callback]:
        cursor = self.collection.find(query)
        if sort:
            # one key: the store walks its index and stops at the page (with `_id` as a second key it sorted
            # a whole day's callbacks, which share their due_ms, before answering); ties keep index order
            cursor = cursor.sort("due_ms", ASCENDING)
        cursor = cursor.skip(offset).limit(limit)
        return [Callback.from_dict(d) async for d in cursor]

    async def of_case(self, case_id: str) -> list[Callback]:
        return await self._read({"case_id": case_id}, limit=OFFICER_OPEN_LIMIT)

    async def find(self, query: CallbackQuery, *, limit: int, offset: int) -> list[Callback]:
        return await self._read(query.mongo(), limit, offset, sort=True)

    async def open_for(self, officer_id: str) -> list[Callback]:
        return await self._read({"open_officer": officer_id}, limit=OFFICER_OPEN_LIMIT)

    async def objections(self, state: str, limit: int) -> list[Callback]:
        found = await self._read({"objection": state}, limit=limit)
        return sorted(found, key=lambda c: (c.objection_due_at or c.due_at, c.callback_id))

    async def in_week(self, start_ms: int, end_ms: int) -> list[Callback]:
        found: dict[str, Callback] = {}
        for field in WEEK_FIELDS:  # indexed ranges, one at a time: an $or would scan
            for callback in await self._read({field: {"$gte": start_ms, "$lt": end_ms}}, limit=FIGURES_LIMIT):
                found[callback.callback_id] = callback
        return list(found.values())


class InMemoryCallbacks(InMemoryRepository[Callback]):
    def __init__(self) -> None:
        super().__init__(CallbackCodec(), "callbacks")

    async def due(self, now: datetime, limit: int) -> list[str]:
        cutoff = epoch_ms(now)
        due = [d["_id"] for d in self.documents.values() if d["next_due_ms"] is not None and d["next_due_ms"] <= cutoff]
        return due[:limit]

    async def of_case(self, case_id: str) -> list[Callback]:
        return [c for c in self.aggregates() if c.case_id == case_id]

    async def find(self, query: CallbackQuery, *, limit: int, offset: int) -> list[Callback]:
        found = sorted((c for c in self.aggregates() if query.matches(c)), key=lambda c: (c.due_at, c.callback_id))
        return found[offset : offset + limit]

    async def open_for(self, officer_id: str) -> list[Callback]:
        return [c for c in self.aggregates() if c.is_open and (c.officer_id or UNASSIGNED) == officer_id]

    async def objections(self, state: str, limit: int) -> list[Callback]:
        found = [c for c in self.aggregates() if c.objection == state]
        return sorted(found, key=lambda c: (c.objection_due_at or c.due_at, c.callback_id))[:limit]

    async def in_week(self, start_ms: int, end_ms: int) -> list[Callback]:
        def inside(moment: datetime | None) -> bool:
            return moment is not None and start_ms <= epoch_ms(moment) < end_ms  # type: ignore[operator]

        return [c for c in self.aggregates()
                if any(inside(m) for m in (c.completed_at, c.overdue_at, c.explained_at, c.escalated_at))]


class Cases(Repository[CaseRecord], Protocol):
    """notify's record of each case."""


def mongo_cases(db: AsyncIOMotorDatabase) -> MongoRepository[CaseRecord]:
    return MongoRepository(db["cases"], CaseCodec())


def memory_cases() -> InMemoryRepository[CaseRecord]:
    return InMemoryRepository(CaseCodec(), "cases")
