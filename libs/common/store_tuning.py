"""Store tuning: how a MongoDB-wire store is written and read faster, apart from the rules of the kernel.

- `WriteGroup`: a group commit. The writes of concurrent handlers (a fetched batch's inserts, saves
  and outbox clean-ups) go to one collection as one unordered bulk write, each caller still learning
  the fate of its own; `MongoRepository` writes through one per collection.
- `ReadGroup`: the reads by id of concurrent handlers (a fetched batch's loads) asked of one collection
  as one query; `MongoRepository.get` reads through one per collection.
- `ReadAhead`: the documents a sweep's query read whole, each handed once to the load that acts on it,
  so firing a due aggregate reads nothing more (its version-checked save still decides).
- `MarkedIncrements`: counts added to roll-up documents, each document taking an entry at most once
  (it keeps the entry's mark); what concurrent callers add to one document goes as one update, so a
  station-wide roll-up is rewritten once per batch rather than once per entry.

Measured on the embedded store (a write per message is what it bounds): docs/embedded-store.md.
"""

from __future__ import annotations

import asyncio
import copy
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorCursor
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure

T = TypeVar("T")


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


class _GroupCommit(ABC, Generic[T]):
    """A group commit: the first caller starts a writer task; the callers of the same moment (a fetched batch's
    handlers) join the next group; each caller awaits its own item's fate."""

    def __init__(self, max_batch: int | None = None) -> None:
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def _join(self, item: T) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the handlers running now join this write
            size = self._max_batch or len(self._pending)
            group, self._pending = self._pending[:size], self._pending[size:]
            try:
                await self._flush(group)
            except Exception as exc:  # a mistake of the flush itself: no caller waits for ever
                for _, future in group:
                    _settle(future, exc)

    @abstractmethod
    async def _flush(self, group: list[tuple[T, asyncio.Future[None]]]) -> None:
        """Write the group and settle every future (a result or the caller's own error)."""


class WriteGroup(_GroupCommit[Write]):
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
        super().__init__(max_batch)
        self._collection = collection

    async def insert(self, doc: dict[str, Any]) -> None:
        """Insert `doc`; DuplicateKeyError (with the store's details) as insert_one would."""
        await self.write(Write("insert", None, doc))

    async def replace(self, doc: dict[str, Any], expected: int) -> None:
        """Replace the document at version `expected` with `doc`; DuplicateKeyError on `_id` if it is not there."""
        await self.write(Write("replace", {"_id": doc["_id"], "version": expected}, doc))

    async def write(self, write: Write) -> None:
        await self._join(write)

    async def _flush(self, group: list[tuple[Write, asyncio.Future[None]]]) -> None:
        try:
            errors = await self._send([w for w, _ in group])
        except Exception as exc:
            if len(group) == 1 or isinstance(exc, ConnectionFailure):
                for _, future in group:
                    _settle(future, exc)
                return
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


class ReadGroup(_GroupCommit[str]):
    """The reads by id of concurrent handlers from one collection, asked as one query (`_id` in the ids).

    The first read goes at once, alone; the ones asked for while it is read go together next, so a
    fetched batch's loads cost the store one query rather than one each. A read is asked after the
    caller's earlier writes were acknowledged, so it sees them; each caller gets its own copy of the
    document. A failure of the query (the store away) is every caller's of that group.
    """

    def __init__(self, collection: AsyncIOMotorCollection, max_batch: int = 256) -> None:
        super().__init__(max_batch)
        self._collection = collection

    async def get(self, ident: str) -> dict[str, Any] | None:
        return await self._join(ident)

    async def _flush(self, group: list[tuple[str, asyncio.Future[Any]]]) -> None:
        if len(group) == 1:  # alone: the plain call is quicker than a query by a list of one
            doc = await self._collection.find_one({"_id": group[0][0]})
            found = {} if doc is None else {doc["_id"]: doc}
        else:
            wanted = list(dict.fromkeys(ident for ident, _ in group))
            found = {d["_id"]: d async for d in self._collection.find({"_id": {"$in": wanted}})}
        handed: set[str] = set()
        for ident, future in group:
            doc = found.get(ident)
            if doc is not None and ident in handed:
                doc = copy.deepcopy(doc)  # the same id asked twice in one group: never one dict for two callers
            handed.add(ident)
            if not future.done():
                future.set_result(doc)


class ReadAhead:
    """The documents the last sweep query read, each handed once to the `get` that acts on it.

    A document handed on may be stale by then (another replica saved it): the version-checked save says so.
    """

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any]] = {}

    async def read(self, cursor: AsyncIOMotorCursor) -> list[str]:
        """Read the query's documents whole; their ids, in the query's order."""
        self._docs = {d["_id"]: d async for d in cursor}
        return list(self._docs)

    def take(self, ident: str) -> dict[str, Any] | None:
        return self._docs.pop(ident, None)


@dataclass(frozen=True, slots=True)
class _Increment:
    doc_id: str
    mark: str
    delta: Mapping[str, int]
    at_ms: int
    on_insert: Mapping[str, Any]
    names: Mapping[str, Any]


#: documents a `MarkedIncrements` remembers having seen (a station's roll-ups of a few weeks)
SEEN_KEPT = 10_000

#: entries one group of `MarkedIncrements` takes at most: a merged update asks for each entry's mark to be
#: absent, and the embedded store refuses a query of some hundreds of conditions ("Expression tree is too
#: large", docs/embedded-store.md)
MARKED_AT_ONCE = 100


class MarkedIncrements(_GroupCommit[_Increment]):
    """Counts added to roll-up documents, each at most once per entry: the document marks the entries it took
    (`marks.<mark>` = epoch ms, in the same write as the `$inc`) and an update matches only a document
    without the entry's mark.

    What concurrent callers (a fetched batch's handlers) add to one document goes as one update that
    matches only if none of its marks is there; a document that took one of them already, or is not
    there yet, takes each entry alone. The documents of one batch this process has seen before go in
    one bulk write; one not seen before (a new hotspot cell, a new week) is updated on its own, so a
    new document is found by its own update rather than by reading the whole batch's documents. `upsert=True`
    (documents of flat fields: rating's cells) writes a new document with its first update; otherwise
    the first write of a document is an insert (the embedded store's upsert would write `c.theft` as one
    key rather than `c: {theft: …}`). `mark` must be safe as one step of a field path.
    """

    def __init__(self, collection: AsyncIOMotorCollection, *, upsert: bool = False) -> None:
        super().__init__(MARKED_AT_ONCE)
        self._collection = collection
        self._upsert = upsert
        #: documents this process has seen there (most recent last): their updates go in one bulk write,
        #: which tells how many matched but not which; a document not among them is updated on its own,
        #: which tells whether it is there, rather than reading every document of the batch to find out
        self._seen: dict[str, None] = {}

    async def add(self, doc_id: str, mark: str, delta: Mapping[str, int], at_ms: int, *,
                  on_insert: Mapping[str, Any] | None = None, names: Mapping[str, Any] | None = None) -> None:
        """Add `delta` (dotted paths) to the document unless it took `mark`; set `names` (paths) with it, and
        `on_insert` when the document is first written."""
        await self._join(_Increment(doc_id, mark, delta, at_ms, on_insert or {}, names or {}))

    async def _flush(self, group: list[tuple[_Increment, asyncio.Future[None]]]) -> None:
        by_doc: dict[str, list[tuple[_Increment, asyncio.Future[None]]]] = defaultdict(list)
        for pair in group:
            by_doc[pair[0].doc_id].append(pair)
        # an entry twice in one document's group (a repeat meeting its first delivery) goes alone
        together = {d: pairs for d, pairs in by_doc.items() if len({i.mark for i, _ in pairs}) == len(pairs)}
        if len(group) == 1:
            together = {}  # one entry alone: its own update (and the insert of a new document) at once
        alone = [pairs for d, pairs in by_doc.items() if d not in together]
        if together:
            try:
                left, errors = await self._together({d: [i for i, _ in pairs] for d, pairs in together.items()})
            except Exception as exc:  # the store away, or the driver refusing the batch: each caller learns it
                left, errors = [], dict.fromkeys(together, exc)
            alone += [together[d] for d in left]
            for doc_id, pairs in together.items():
                if doc_id not in left:
                    for _, future in pairs:
                        _settle(future, errors.get(doc_id))
        await asyncio.gather(*(self._each_alone(pairs) for pairs in alone))

    async def _together(self, groups: dict[str, list[_Increment]]) -> tuple[list[str], dict[str, Exception]]:
        """One update per document for all its entries, each matched only if the document is there and took
        none of them: the documents seen before in one bulk write, the others each on its own. Returns the
        documents to take their entries alone (not there yet, or one entry taken already) and each refused
        document's error."""
        seen = {d: g for d, g in groups.items() if self._upsert or d in self._seen}
        new = [d for d in groups if d not in seen]
        # a document not seen before goes in a write of its own: whether it matched says whether it is there
        results = await asyncio.gather(self._bulk(seen), *(self._bulk({d: groups[d]}) for d in new))
        left: list[str] = []
        errors: dict[str, Exception] = {}
        for part_left, part_errors in results:
            left += part_left
            errors.update(part_errors)
        self._saw([d for d in groups if d not in left and d not in errors])
        return left, errors

    def _saw(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self._seen[doc_id] = None
        while len(self._seen) > SEEN_KEPT:
            del self._seen[next(iter(self._seen))]

    async def _bulk(self, groups: dict[str, list[_Increment]]) -> tuple[list[str], dict[str, Exception]]:
        """The documents' updates in one write (one document: `update_one`); returns as `_together`."""
        if not groups:
            return [], {}
        ids = list(groups)
        updates = [_merged(groups[d], self._upsert) for d in ids]
        errors: dict[str, Exception] = {}
        try:
            if len(updates) == 1:
                result = await self._collection.update_one(*updates[0], upsert=self._upsert)
                matched = result.matched_count + (result.upserted_id is not None)
            else:
                bulk = [UpdateOne(query, update, upsert=self._upsert) for query, update in updates]
                result = await self._collection.bulk_write(bulk, ordered=False)
                matched = result.matched_count + result.upserted_count
        except DuplicateKeyError:  # one document, there with one of the marks: each entry alone
            return ids, {}
        except BulkWriteError as exc:
            refused = exc.details.get("writeErrors", [])
            taken = [ids[e["index"]] for e in refused if e.get("code") == 11000]  # there, with one of the marks
            errors = {ids[e["index"]]: _write_error(e) for e in refused if e.get("code") != 11000}
            if self._upsert:
                return taken, errors
            matched = exc.details.get("nMatched", 0)
        except OperationFailure as exc:  # one document (`update_one`) the store refused: its callers learn it
            return [], {ids[0]: exc}
        if self._upsert or matched == len(ids) - len(errors):
            return [], errors
        if len(ids) == 1:
            return ([] if errors else ids), errors
        # which did not match: those without every one of their marks now
        asked = [d for d in ids if d not in errors]
        # the whole `marks` (the embedded store answers a projection of `marks.<mark>` with none of them)
        found = {doc["_id"]: doc.get("marks") or {}
                 async for doc in self._collection.find({"_id": {"$in": asked}}, {"marks": 1})}
        left = [d for d in asked if any(i.mark not in found.get(d, {}) for i in groups[d])]
        return left, errors

    async def _each_alone(self, pairs: list[tuple[_Increment, asyncio.Future[None]]]) -> None:
        try:
            for increment, _ in pairs:
                await self._alone(increment)
        except Exception as exc:
            for _, future in pairs:
                _settle(future, exc)
            return
        self._saw([pairs[0][0].doc_id])
        for _, future in pairs:
            _settle(future, None)

    async def _alone(self, i: _Increment) -> None:
        query, update = _merged([i], upsert=False)
        if self._upsert:
            try:
                await self._collection.update_one(*_merged([i], upsert=True), upsert=True)
            except DuplicateKeyError:  # there: it took this entry already, or another caller just made it
                await self._collection.update_one(query, update)
            return
        key = f"marks.{i.mark}"
        for _ in range(2):
            if (await self._collection.update_one(query, update)).matched_count:
                return
            # no document, or one that took this entry already
            first: dict[str, Any] = {"_id": i.doc_id, **i.on_insert, "rev": 1, "marked_ms": i.at_ms}
            for path, value in {**i.delta, **i.names, key: i.at_ms}.items():
                set_path(first, path, lambda _, value=value: value)
            try:
                await self._collection.insert_one(first)
                return
            except DuplicateKeyError:
                continue  # there is one: marked (the next update matches nothing), or just inserted by another


def _merged(increments: list[_Increment], upsert: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(filter, update) adding all the entries to their one document, matched only if it took none of them
    (`upsert`: with the first entry's `on_insert` for a new document)."""
    query: dict[str, Any] = {"_id": increments[0].doc_id}
    inc: dict[str, int] = {"rev": len(increments)}
    marked: dict[str, Any] = {}
    for i in increments:
        query[f"marks.{i.mark}"] = {"$exists": False}
        marked.update({**i.names, f"marks.{i.mark}": i.at_ms})
        for path, n in i.delta.items():
            inc[path] = inc.get(path, 0) + n
    update = {"$inc": inc, "$set": marked, "$min": {"marked_ms": min(i.at_ms for i in increments)}}
    if upsert and increments[0].on_insert:
        update["$setOnInsert"] = dict(increments[0].on_insert)
    return query, update


def set_path(doc: dict[str, Any], path: str, change: Any) -> None:
    """Change the value at a dotted `path` of a plain document (`change(old)`), making the parents on the way."""
    *parents, last = path.split(".")
    for step in parents:
        doc = doc.setdefault(step, {})
    doc[last] = change(doc.get(last))
