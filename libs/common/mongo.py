"""MongoDB access through motor, written for what both MongoDB and the nx-27017 store do right."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC

from bson.codec_options import CodecOptions
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError


def client(url: str, app_name: str = "fengqiao") -> AsyncIOMotorClient:
    return AsyncIOMotorClient(
        url, tz_aware=True, tzinfo=UTC, appname=app_name, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000
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
