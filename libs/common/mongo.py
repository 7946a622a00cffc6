"""MongoDB access through motor, written for what both MongoDB and the nx-27017 store do right."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import UTC

from bson.codec_options import CodecOptions
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import IndexModel, InsertOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure


def client(url: str, app_name: str = "fengqiao") -> AsyncIOMotorClient:
    return AsyncIOMotorClient(
        url, tz_aware=True, tzinfo=UTC, appname=app_name, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000,
        minPoolSize=4,  # the first alerts after a start do not pay for opening connections
    )


def database(mongo: AsyncIOMotorClient, name: str) -> AsyncIOMotorDatabase:
    return mongo.get_database(name, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))


async def ensure_indexes(db: AsyncIOMotorDatabase, indexes: Mapping[str, Sequence[IndexModel]]) -> None:
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))


def forget_marks_update(marks: Mapping[str, int], older_than_ms: int) -> dict:
    """The update that drops a roll-up document's marks older than `older_than_ms` (epoch ms) and keeps
    `marked_ms` (the index the forgetting sweep reads) at the oldest mark left, or drops it."""
    kept = [at for at in marks.values() if at > older_than_ms]
    update: dict = {"$unset": {f"marks.{name}": "" for name, at in marks.items() if at <= older_than_ms}}
    if kept:
        update["$set"] = {"marked_ms": min(kept)}
    else:
        update["$unset"]["marked_ms"] = ""
    return update


def refused_by_id(exc: DuplicateKeyError) -> bool:
    """Whether the document's `_id` was taken, rather than another unique index's key.

    MongoDB names the index in `keyPattern` (and as `index: _id_` in the message); the
    embedded store says `UNIQUE constraint failed: <collection>._id`, or names another
    index `idx_<collection>_<field>`.
    """
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if pattern:
        return list(pattern) == ["_id"]
    message = str(details.get("errmsg") or exc)
    return bool(re.search(r"index: _id_ |^UNIQUE constraint failed: [^ ']+\._id$", message))


class GroupedInserts:
    """Inserts from concurrent handlers sent together, one bulk write at a time (a group commit).

    The store bounds a write per message; while one batch is being written the next one
    gathers, so each handler still learns the fate of its own insert.
    """

    def __init__(self, collection: AsyncIOMotorCollection, max_batch: int = 256) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._pending: list[tuple[dict, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, doc: dict) -> None:
        """Insert `doc`; raises DuplicateKeyError (with the store's details) as insert_one would."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await future

    async def _send(self, docs: list[dict]) -> None:
        if len(docs) == 1:  # alone: the plain call is quicker than a bulk write of one
            try:
                await self._collection.insert_one(docs[0])
            except DuplicateKeyError as exc:
                error = {"errmsg": str(exc), **(exc.details or {}), "index": 0, "code": 11000}
                raise BulkWriteError({"writeErrors": [error]}) from exc
            return
        await self._collection.bulk_write([InsertOne(doc) for doc in docs], ordered=False)

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the handlers running now join this batch
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            failed: dict[int, dict] = {}
            try:
                await self._send([doc for doc, _ in batch])
            except BulkWriteError as exc:
                failed = {e["index"]: e for e in exc.details.get("writeErrors", [])}
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for index, (_, future) in enumerate(batch):
                error = failed.get(index)
                if error is None:
                    future.set_result(None)
                else:
                    code = error.get("code")
                    kind = DuplicateKeyError if code == 11000 else OperationFailure
                    future.set_exception(kind(error.get("errmsg", "write failed"), code, error))
