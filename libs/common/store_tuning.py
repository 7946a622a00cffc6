"""Store tuning: how a MongoDB-wire store is written and read faster, apart from the rules of the kernel.

- `WriteGroup`: a group commit. The writes of concurrent handlers (a fetched batch's inserts, saves
  and outbox clean-ups) go to one collection as one unordered bulk write, each caller still learning
  the fate of its own; `MongoRepository` writes through one per collection.
- `ReadAhead`: the documents a sweep's query read whole, each handed once to the load that acts on it,
  so firing a due aggregate reads nothing more (its version-checked save still decides).

Measured on the embedded store (a write per message is what it bounds): docs/embedded-store.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorCursor
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure


@dataclass(frozen=True, slots=True)
class Write:
    """One write of a group: an insert of `doc`, or a replace or update of the document `query` finds
    (`upsert`: an update that inserts the document when `query` finds none)."""

    kind: Literal["insert", "replace", "update", "upsert"]
    query: dict[str, Any] | None
    doc: dict[str, Any]

    def bulk(self) -> InsertOne | ReplaceOne | UpdateOne:
        if self.kind == "insert":
            return InsertOne(self.doc)
        if self.kind == "replace":
            return ReplaceOne(self.query, self.doc, upsert=True)
        return UpdateOne(self.query, self.doc, upsert=self.kind == "upsert")

    async def alone(self, collection: AsyncIOMotorCollection) -> None:
        if self.kind == "insert":
            await collection.insert_one(self.doc)
        elif self.kind == "replace":
            await collection.replace_one(self.query, self.doc, upsert=True)
        else:
            await collection.update_one(self.query, self.doc, upsert=self.kind == "upsert")


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
