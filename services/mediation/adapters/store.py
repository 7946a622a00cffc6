"""Mongo repositories of mediation: the disputes, and the request ids a client may retry with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.contracts.base import Event
from common.outbox import save_staged
from common.timefmt import epoch_ms
from mediation.domain import Dispute, RecurrenceCandidate, recurrence_keys

#: a client's request_id is remembered this long, so its retries open one dispute
REQUEST_ID_KEPT = timedelta(days=7)

INDEXES = {
    "disputes": [
        IndexModel([("state", ASCENDING)]),
        IndexModel([("level", ASCENDING)]),
        IndexModel([("next_due_ms", ASCENDING)]),  # numeric: the embedded store scans date ranges
        IndexModel([("reported_at", ASCENDING)]),
        IndexModel([("outbox_ms", ASCENDING)]),
    ],
    "requests": [IndexModel([("at", ASCENDING)], expireAfterSeconds=int(REQUEST_ID_KEPT.total_seconds()))],
}


class DisputeStore:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db["disputes"]

    async def get_doc(self, dispute_id: str) -> dict | None:
        return await self.collection.find_one({"_id": dispute_id})

    async def save(self, dispute: Dispute, staged: list[tuple[Event, str]]) -> dict:
        """Save the whole dispute if nobody changed it meanwhile, its events staged. Returns the doc saved."""
        doc = await save_staged(self.collection, _document(dispute, dispute.version + 1), dispute.version, staged)
        dispute.version += 1
        return doc

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def find(
        self, *, state: str | None, level: str | None, high_risk: bool | None, overdue: bool | None,
        limit: int, offset: int,
    ) -> list[Dispute]:
        filters = {"state": state, "level": level, "high_risk": high_risk, "overdue": overdue}
        query = {k: v for k, v in filters.items() if v is not None}
        cursor = self.collection.find(query).sort("reported_at", -1).skip(offset).limit(limit)
        return [Dispute.from_dict(d) async for d in cursor]

    async def reported_between(self, start: datetime, end: datetime) -> list[Dispute]:
        # nx-27017 compares datetimes to the whole second: ask for a superset, keep the exact range
        cursor = self.collection.find({"reported_at": {"$gte": start, "$lte": end}})
        return [d for d in [Dispute.from_dict(doc) async for doc in cursor] if start <= d.reported_at < end]

    async def recurrence_candidates(self, since: datetime) -> list[RecurrenceCandidate]:
        # the store cannot query into the parties array: match the keys here
        cursor = self.collection.find({"reported_at": {"$gte": since}}, {"reported_at": 1, "parties": 1, "address": 1})
        return [
            RecurrenceCandidate(d["_id"], d["reported_at"], recurrence_keys(_keyed(d)))
            async for d in cursor
        ]


def _keyed(doc: dict) -> SimpleNamespace:
    """The parts of a stored dispute that recurrence looks at."""
    parties = [SimpleNamespace(phone=p.get("phone"), id_number=p.get("id_number")) for p in doc["parties"]]
    return SimpleNamespace(address=doc.get("address"), parties=parties)


class RequestIds:
    """A client's request_id fixes the dispute id of its first try, so a retry opens nothing new."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._requests = db["requests"]

    async def dispute_for(self, request_id: str, proposed: str) -> str:
        try:
            # wall time: the expiry index's bookkeeping, not a business rule
            await self._requests.insert_one({"_id": request_id, "dispute_id": proposed, "at": datetime.now(UTC)})
            return proposed
        except DuplicateKeyError:
            doc = await self._requests.find_one({"_id": request_id})
            return doc["dispute_id"] if doc else proposed


def _document(dispute: Dispute, version: int) -> dict:
    data = dispute.to_dict()
    data.pop("version", None)
    return {"_id": dispute.dispute_id, **data, "next_due_ms": epoch_ms(dispute.next_due_at), "version": version,
            "outbox": {}}
