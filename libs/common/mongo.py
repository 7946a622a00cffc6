"""MongoDB access through motor, written for what both MongoDB and the nx-27017 store do right."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC

from bson.codec_options import CodecOptions
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import IndexModel, InsertOne, UpdateOne
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


class VersionConflict(Exception):
    """Someone else saved the aggregate since we read it: reload and decide again."""


async def save_versioned(collection, doc: dict, expected_version: int) -> None:
    """Insert (expected_version 0) or replace a whole document if nobody changed it meanwhile."""
    if expected_version == 0:
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise VersionConflict(str(doc.get("_id"))) from exc
        return
    result = await collection.replace_one({"_id": doc["_id"], "version": expected_version}, doc)
    if result.matched_count != 1:
        raise VersionConflict(str(doc["_id"]))


class GroupedWrites:
    """Writes from concurrent handlers sent together, one bulk write at a time (a group commit).

    The store bounds a write per message; while one batch is being written the next one
    gathers, so each handler still learns the fate of its own write.
    """

    def __init__(self, collection: AsyncIOMotorCollection, max_batch: int = 256) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._pending: list[tuple[InsertOne | UpdateOne, asyncio.Future[bool | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, doc: dict) -> None:
        """Insert `doc`; raises DuplicateKeyError if its _id exists, as insert_one would."""
        await self._submit(InsertOne(doc))

    async def update(self, query: dict, change: dict) -> bool | None:
        """A guarded update_one: True if it changed the document, False if not, None if the batch cannot tell.

        A bulk result counts the changed documents, not which ones: when a batch changed
        fewer than it held, the caller looks for itself.
        """
        return await self._submit(UpdateOne(query, change))

    async def _submit(self, op: InsertOne | UpdateOne) -> bool | None:
        future: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the handlers running now join this batch
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            updates = sum(isinstance(op, UpdateOne) for op, _ in batch)
            failed: dict[int, dict] = {}
            try:
                result = await self._collection.bulk_write([op for op, _ in batch], ordered=False)
                modified = result.modified_count
            except BulkWriteError as exc:
                failed = {e["index"]: e for e in exc.details.get("writeErrors", [])}
                modified = exc.details.get("nModified", 0)
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            known = True if modified == updates else False if modified == 0 else None
            for index, (op, future) in enumerate(batch):
                error = failed.get(index)
                if error is not None:
                    code = error.get("code")
                    kind = DuplicateKeyError if code == 11000 else OperationFailure
                    future.set_exception(kind(error.get("errmsg", "write failed"), code))
                elif isinstance(op, UpdateOne):
                    future.set_result(known)
                else:
                    future.set_result(None)
