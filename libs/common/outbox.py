"""Transactional outbox inside the aggregate's own document (single-document atomicity only).

An event caused by an HTTP call or a timer is staged in `doc["outbox"]` and saved with
the state change in one write; then it is published with its msg id and unstaged. If
the process dies in between, the relay publishes it later; JetStream drops the
duplicate by msg id.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from motor.motor_asyncio import AsyncIOMotorCollection

from common import metrics
from common.bus import Publisher
from common.consume import TRANSIENT
from common.contracts.base import Event
from common.mongo import save_versioned
from common.timefmt import epoch_ms

log = structlog.get_logger(__name__)


def stage(doc: dict, events: list[tuple[Event, str]]) -> None:
    """Put (event, msg_id) pairs into the document about to be saved."""
    if not events:
        doc.setdefault("outbox", {})
        return
    box = doc.setdefault("outbox", {})
    for event, msg_id in events:
        box[msg_id] = {"subject": event.subject, "data": event.model_dump_json()}
    doc["outbox_ms"] = epoch_ms(datetime.now(UTC))  # wall time: the relay's own bookkeeping, not a rule


async def flush(collection: AsyncIOMotorCollection, doc: dict, publisher: Publisher, *, patient: bool = True) -> int:
    """Publish what `doc` (as just saved) has staged, then clear it."""
    box: dict = doc.get("outbox") or {}
    if not box:
        return 0
    for msg_id, item in box.items():
        await publisher.publish_raw(item["subject"], item["data"].encode(), msg_id, patient=patient)
    cleared = await collection.update_one(
        {"_id": doc["_id"], "version": doc["version"]}, {"$set": {"outbox": {}}, "$unset": {"outbox_ms": ""}}
    )
    if cleared.matched_count == 0:
        # saved again meanwhile: unstage only what we published; the relay sees the rest
        await collection.update_one({"_id": doc["_id"]}, {"$unset": {f"outbox.{k}": "" for k in box}})
    metrics.OUTBOX_PUBLISHED.labels(collection.name).inc(len(box))
    return len(box)


async def save_staged(
    collection: AsyncIOMotorCollection, doc: dict, expected_version: int, events: list[tuple[Event, str]]
) -> dict:
    """Save an aggregate's whole document (version-checked) with its events staged in it; returns it."""
    stage(doc, events)
    await save_versioned(collection, doc, expected_version)
    return doc


async def publish_staged(collection: AsyncIOMotorCollection, doc: dict, publisher: Publisher) -> None:
    """Publish what a saved document staged; with the broker away, the relay does it later.

    The state change is stored already: a command must not fail for want of a broker.
    """
    try:
        await flush(collection, doc, publisher, patient=False)  # the relay has the patience
    except TRANSIENT as exc:
        log.warning("outbox.deferred", collection=collection.name, id=str(doc["_id"]), error=repr(exc))


async def fetch(collection: AsyncIOMotorCollection, ident: str, publisher: Publisher) -> dict | None:
    """An aggregate's document, with any event a crash left unpublished sent first."""
    doc = await collection.find_one({"_id": ident})
    if doc is not None and doc.get("outbox"):
        await publish_staged(collection, doc, publisher)
    return doc


class OutboxRelay:
    """Publishes outboxes a crash left behind; runs in every replica, duplicates are harmless."""

    def __init__(self, collections: list[AsyncIOMotorCollection], publisher: Publisher, grace_s: float = 5.0) -> None:
        self._collections = collections
        self._publisher = publisher
        self._grace = timedelta(seconds=grace_s)

    async def run_once(self) -> int:
        published = 0
        cutoff = epoch_ms(datetime.now(UTC) - self._grace)
        for coll in self._collections:
            async for doc in coll.find({"outbox_ms": {"$lte": cutoff}}):
                try:
                    published += await flush(coll, doc, self._publisher)
                except Exception as exc:
                    log.warning("outbox.relay_failed", collection=coll.name, id=str(doc["_id"]), error=repr(exc))
                    await asyncio.sleep(0)
        if published:
            log.info("outbox.relayed", events=published)
        return published
