"""MongoDB access through motor, written for what both MongoDB and the nx-27017 store do right."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import UTC
from typing import Any

from bson.codec_options import CodecOptions
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError


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


async def key_before_index(
    collection: AsyncIOMotorCollection, field: str, queries: Sequence[Mapping[str, Any]],
    keys: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> int:
    """Give the documents stored before the index on `field` existed the keys a save now derives from them.

    Once: runs at start-up before the index is built (with the index there it reads nothing), over the
    documents `queries` find (those that may need a key), each `$set` with `keys(document)` only if it is
    still at the version read (a save since wrote its keys itself). Returns how many documents it changed.
    """
    async for index in collection.list_indexes():
        if field in index["key"]:
            return 0
    changed = 0
    for query in queries:
        async for doc in collection.find(query):
            derived = keys(doc)
            if derived:
                result = await collection.update_one({"_id": doc["_id"], "version": doc["version"]}, {"$set": derived})
                changed += result.modified_count
    return changed


def forget_marks_update(marks: Mapping[str, int], older_than_ms: int, keep: Set[str] = frozenset()) -> dict:
    """The update that drops a roll-up document's marks older than `older_than_ms` (epoch ms), except those in
    `keep`, and keeps `marked_ms` (the index the forgetting sweep reads) at the oldest mark left, or drops it;
    {} when no mark is dropped (nothing to write)."""
    kept = [at for name, at in marks.items() if at > older_than_ms or name in keep]
    dropped = {f"marks.{name}": "" for name, at in marks.items() if at <= older_than_ms and name not in keep}
    if marks and not dropped:
        return {}
    update: dict = {"$unset": dropped}
    if kept:
        update["$set"] = {"marked_ms": min(kept)}
    else:
        update["$unset"]["marked_ms"] = ""
    return update


#: fields one `$unset` removes at most: nx-27017 leaves a document unchanged, silently, when one update unsets
#: 127 fields or more (SQLite's 127 arguments to a function; docs/embedded-store.md)
UNSET_AT_ONCE = 100


async def forget_marks(collection: AsyncIOMotorCollection, older_than_ms: int, keep: Set[str] = frozenset(),
                       limit: int = 100) -> int:
    """Drop the marks of roll-up documents set at or before `older_than_ms`, except those in `keep`, reading the
    documents through the `marked_ms` index; how many documents had marks to drop.

    The marks dropped are named, so a document that takes an entry meanwhile keeps it (a busy station-wide
    document takes one every few milliseconds: a guard on the whole document would never let the sweep
    through). Only dropping `marked_ms` itself, when no mark is left, waits for a quiet moment (`rev`
    unchanged); otherwise the next run reads the document again."""
    cleaned = 0
    async for doc in collection.find({"marked_ms": {"$lte": older_than_ms}}, {"marks": 1, "rev": 1}).limit(limit):
        update = forget_marks_update(doc.get("marks") or {}, older_than_ms, keep)
        if not update:
            continue  # every old mark still needed
        cleaned += 1
        names = list(update["$unset"])  # the marks, then marked_ms if none is left
        while len(names) > UNSET_AT_ONCE:  # the first ones a chunk at a time, the rest with marked_ms below
            chunk, names = names[:UNSET_AT_ONCE], names[UNSET_AT_ONCE:]
            await collection.update_one({"_id": doc["_id"]}, {"$unset": dict.fromkeys(chunk, "")})
        update["$unset"] = dict.fromkeys(names, "")
        if "marked_ms" in update["$unset"]:
            if (await collection.update_one({"_id": doc["_id"], "rev": doc.get("rev")}, update)).matched_count:
                continue
            del update["$unset"]["marked_ms"]  # it took an entry meanwhile: marked_ms stays, read next run
            if not update["$unset"]:
                continue
        await collection.update_one({"_id": doc["_id"]}, update)
    return cleaned


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
