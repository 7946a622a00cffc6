"""Aggregates stored whole, one document each, with a version check and the events they caused.

`Repository` is the port; `MongoRepository` keeps the documents in MongoDB (or the embedded
store), `InMemoryRepository` in a dict for the use-case tests. Both run the same rules, and the
same test class runs against both (tests/integration/test_repository.py).

A service gives a `Codec` — how its aggregate becomes a document and back, plus any fields its
queries need (deadlines as epoch ms, keys of an index) — and adds its queries in a subclass.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

from motor.motor_asyncio import AsyncIOMotorCollection
from pymongo import ASCENDING, IndexModel, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure

from common.mongo import refused_by_id
from common.outbox import Events, new_entries
from common.timefmt import epoch_ms


class VersionConflict(Exception):
    """Someone else saved the aggregate since we read it (or stored one with its id): read again, decide again."""


class Aggregate(Protocol):
    #: owned by the repository: how many times the aggregate was saved; rules never touch it
    version: int


A = TypeVar("A", bound=Aggregate)

#: fields the repository keeps in every document beside the aggregate's own
BOOKKEEPING = ("_id", "version", "outbox", "outbox_ms")

#: every collection of aggregates has this index: the relay finds what a crash left staged
OUTBOX_INDEX = IndexModel([("outbox_ms", ASCENDING)])


class Codec(Protocol[A]):
    def ident(self, aggregate: A) -> str: ...

    def to_document(self, aggregate: A) -> dict[str, Any]:
        """The aggregate as plain data, with any field a query needs; without the bookkeeping fields."""

    def from_document(self, doc: Mapping[str, Any]) -> A: ...


@dataclass
class Stored(Generic[A]):
    """An aggregate as loaded: what to act on, and what its document held (to save it back right)."""

    aggregate: A
    #: events staged by earlier saves and not yet published: a save carries them over
    outbox: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the aggregate's own fields as loaded, to tell whether a command changed anything
    loaded: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Leftover:
    """A document whose outbox still holds events (for the relay)."""

    ident: str
    version: int
    outbox: dict[str, dict[str, str]]


class Repository(Protocol[A]):
    name: str
    codec: Codec[A]

    async def get(self, ident: str) -> Stored[A] | None: ...

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        """Store a new aggregate (version 1) with its events staged; VersionConflict if its id is taken."""

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        """Replace the whole aggregate if nobody saved it since it was loaded (VersionConflict otherwise),
        with what was staged and the new events in its outbox."""

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        """Remove published entries. `all_of_them`: they were every entry staged at `version`, so if the
        aggregate is still at that version nothing is left and the relay no longer looks at it."""

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        """Documents with events staged since before `older_than`, up to `limit`, through an index."""


def own_fields(codec: Codec[A], aggregate: A) -> dict[str, Any]:
    """The aggregate's document without the repository's bookkeeping."""
    return {k: v for k, v in codec.to_document(aggregate).items() if k not in BOOKKEEPING}


def _document(repo: Repository[A], aggregate: A, version: int, outbox: dict, now: datetime) -> dict[str, Any]:
    own = own_fields(repo.codec, aggregate)
    doc = {"_id": repo.codec.ident(aggregate), **own, "version": version, "outbox": outbox}
    if outbox:
        doc["outbox_ms"] = epoch_ms(now)  # wall time: the relay's own bookkeeping, not a rule
    return doc


def _stored(repo: Repository[A], doc: Mapping[str, Any]) -> Stored[A]:
    own = {k: v for k, v in doc.items() if k not in BOOKKEEPING}
    aggregate = repo.codec.from_document({**own, "version": doc["version"]})
    aggregate.version = doc["version"]
    return Stored(aggregate, dict(doc.get("outbox") or {}), own)


class MongoRepository(Generic[A]):
    """Aggregates in one collection, a document each (`_id` = the aggregate's id)."""

    def __init__(
        self,
        collection: AsyncIOMotorCollection,
        codec: Codec[A],
        *,
        insert: Callable[[dict], Any] | None = None,
        refusal: Callable[[A, DuplicateKeyError], Exception] | None = None,
    ) -> None:
        self.collection = collection
        self.codec = codec
        self.name = collection.name
        #: the writes of concurrent handlers (a fetched batch's) go to the store together
        self._writes = WriteGroup(collection)
        #: how a new document is inserted (e.g. a group commit of concurrent inserts)
        self._insert = insert or self._writes.insert
        #: what a refused write means when another unique index than the id's refused it
        self._refusal = refusal

    def _refused(self, aggregate: A, exc: DuplicateKeyError) -> Exception:
        if refused_by_id(exc) or self._refusal is None:
            return VersionConflict(self.codec.ident(aggregate))
        return self._refusal(aggregate, exc)

    async def get(self, ident: str) -> Stored[A] | None:
        doc = await self.collection.find_one({"_id": ident})
        return _stored(self, doc) if doc is not None else None

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        doc = _document(self, aggregate, 1, new_entries(events, 1), datetime.now(UTC))
        try:
            await self._insert(doc)
        except DuplicateKeyError as exc:
            raise self._refused(aggregate, exc) from exc
        aggregate.version = 1
        return _stored(self, doc)

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        aggregate, expected = stored.aggregate, stored.aggregate.version
        outbox = {**stored.outbox, **new_entries(events, expected + 1)}
        doc = _document(self, aggregate, expected + 1, outbox, datetime.now(UTC))
        try:
            await self._writes.replace(doc, expected)
        except DuplicateKeyError as exc:
            if not refused_by_id(exc) and await self._still_at(doc["_id"], expected):
                raise self._refused(aggregate, exc) from exc  # another unique key of the new state is taken
            # saved by someone else since it was loaded: the upsert's insert was refused (on the id, or on
            # another unique key the store checked first)
            raise VersionConflict(doc["_id"]) from exc
        aggregate.version = expected + 1
        return _stored(self, doc)

    async def _still_at(self, ident: str, version: int) -> bool:
        return await self.collection.find_one({"_id": ident, "version": version}, {"_id": 1}) is not None

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        removed = {f"outbox.{k}": "" for k in keys}
        ops = []
        if all_of_them:
            # nothing is staged without a new version: at `version` the outbox held only what was published
            ops.append(Write("update", {"_id": ident, "version": version},
                             {"$set": {"outbox": {}}, "$unset": {"outbox_ms": ""}}))
        if removed:  # saved again meanwhile, or some are still waiting: remove just these (a no-op if cleared)
            ops.append(Write("update", {"_id": ident}, {"$unset": removed}))
        await asyncio.gather(*(self._writes.write(op) for op in ops))

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        cursor = self.collection.find(
            {"outbox_ms": {"$lte": epoch_ms(older_than)}}, {"version": 1, "outbox": 1}
        ).limit(limit)
        return [Leftover(d["_id"], d["version"], dict(d.get("outbox") or {})) async for d in cursor]


class InMemoryRepository(Generic[A]):
    """The same rules in a dict, for use-case tests on a fake clock; a subclass adds the service's queries."""

    def __init__(self, codec: Codec[A], name: str = "memory") -> None:
        self.codec = codec
        self.name = name
        self.documents: dict[str, dict[str, Any]] = {}

    async def get(self, ident: str) -> Stored[A] | None:
        doc = self.documents.get(ident)
        return _stored(self, copy.deepcopy(doc)) if doc is not None else None

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        doc = _document(self, aggregate, 1, new_entries(events, 1), datetime.now(UTC))
        if doc["_id"] in self.documents:
            raise VersionConflict(doc["_id"])
        self.documents[doc["_id"]] = copy.deepcopy(doc)
        aggregate.version = 1
        return _stored(self, doc)

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        aggregate, expected = stored.aggregate, stored.aggregate.version
        ident = self.codec.ident(aggregate)
        current = self.documents.get(ident)
        if current is None or current["version"] != expected:
            raise VersionConflict(ident)
        outbox = {**stored.outbox, **new_entries(events, expected + 1)}
        doc = _document(self, aggregate, expected + 1, outbox, datetime.now(UTC))
        self.documents[ident] = copy.deepcopy(doc)
        aggregate.version = expected + 1
        return _stored(self, doc)

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        doc = self.documents.get(ident)
        if doc is None:
            return
        if all_of_them and doc["version"] == version:
            doc["outbox"] = {}
            doc.pop("outbox_ms", None)
            return
        for key in keys:
            doc["outbox"].pop(key, None)

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        cutoff = epoch_ms(older_than)
        found = [d for d in self.documents.values() if d.get("outbox_ms") is not None and d["outbox_ms"] <= cutoff]
        return [Leftover(d["_id"], d["version"], copy.deepcopy(d["outbox"])) for d in found[:limit]]

    def aggregates(self) -> list[A]:
        """Every stored aggregate (for the fakes of a service's queries)."""
        return [_stored(self, copy.deepcopy(d)).aggregate for d in self.documents.values()]

    def staged_now(self, ident: str) -> dict[str, dict[str, str]]:
        return copy.deepcopy(self.documents[ident]["outbox"])


#: how long the relay leaves a freshly staged outbox to the save that staged it
RELAY_GRACE = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Write:
    """One write of a group: an insert of `doc`, or a replace or update of the document `query` finds."""

    kind: Literal["insert", "replace", "update"]
    query: dict[str, Any] | None
    doc: dict[str, Any]

    def bulk(self) -> InsertOne | ReplaceOne | UpdateOne:
        if self.kind == "insert":
            return InsertOne(self.doc)
        if self.kind == "replace":
            return ReplaceOne(self.query, self.doc, upsert=True)
        return UpdateOne(self.query, self.doc)

    async def alone(self, collection: AsyncIOMotorCollection) -> None:
        if self.kind == "insert":
            await collection.insert_one(self.doc)
        elif self.kind == "replace":
            await collection.replace_one(self.query, self.doc, upsert=True)
        else:
            await collection.update_one(self.query, self.doc)


class WriteGroup:
    """The writes of concurrent handlers to one collection, sent as one unordered bulk write (a group commit).

    The consume loop handles a fetched batch's messages at once, so their saves meet here: the first
    write goes at once, and the ones asked for while it is written go together next. Each caller still
    learns the fate of its own write: a save is guarded by its version (`_id` and the version loaded;
    upserted, so that a version saved meanwhile is refused on the id, per write, as a duplicate key —
    aggregates are never deleted), and a refused or failed write raises for that caller only. A failure
    of the whole group that is not the store being away (a document the driver refuses) sends each write
    alone, so only the bad one fails.
    """

    def __init__(self, collection: AsyncIOMotorCollection, max_batch: int = 256) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, doc: dict[str, Any]) -> None:
        """Insert `doc`; DuplicateKeyError (with the store's details) as insert_one would."""
        await self.write(Write("insert", None, doc))

    async def replace(self, doc: dict[str, Any], expected: int) -> None:
        """Replace the document at version `expected` with `doc`; DuplicateKeyError on `_id` if it is not there."""
        await self.write(Write("replace", {"_id": doc["_id"], "version": expected}, doc))

    async def write(self, write: Write) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await future

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the handlers running now join this write
            group, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                errors = await self._send([w for w, _ in group])
            except Exception as exc:
                if len(group) == 1 or isinstance(exc, ConnectionFailure):
                    for _, future in group:
                        _settle(future, exc)
                    continue
                errors = {}
                for i, (write, _) in enumerate(group):  # one bad write: find it, write the others
                    try:
                        if refused := (await self._send([write])).get(0):
                            errors[i] = refused
                    except Exception as alone:
                        errors[i] = alone
            for index, (_, future) in enumerate(group):
                _settle(future, errors.get(index))

    async def _send(self, writes: list[Write]) -> dict[int, Exception]:
        """Each refused write's error, by its place in `writes`."""
        try:
            if len(writes) == 1:  # alone: the plain call is quicker than a bulk write of one
                await writes[0].alone(self._collection)
            else:
                await self._collection.bulk_write([w.bulk() for w in writes], ordered=False)
        except DuplicateKeyError as exc:
            return {0: exc}
        except BulkWriteError as exc:
            return {e["index"]: _write_error(e) for e in exc.details.get("writeErrors", [])}
        return {}


def _write_error(error: Mapping[str, Any]) -> Exception:
    code = error.get("code")
    kind = DuplicateKeyError if code == 11000 else OperationFailure
    return kind(error.get("errmsg", "write failed"), code, dict(error))


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
