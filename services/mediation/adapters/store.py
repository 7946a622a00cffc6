"""Where mediation keeps its disputes and the request ids a client may retry with: MongoDB, or memory for tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from types import SimpleNamespace
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common import gauges
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Repository
from common.timefmt import epoch_ms
from mediation.domain import Dispute, RecurrenceCandidate, recurrence_keys

#: a client's request_id is remembered this long, so its retries open one dispute
REQUEST_ID_KEPT = timedelta(days=7)

#: the first-contact deadline (epoch ms), kept only while the first contact is awaited
CONTACT_DUE_MS = "contact_due_ms"

INDEXES = {
    "disputes": [
        IndexModel([("state", ASCENDING)]),
        IndexModel([("level", ASCENDING)]),
        IndexModel([("next_due_ms", ASCENDING)]),  # numeric: the embedded store scans date ranges
        IndexModel([("reported_at", ASCENDING)]),
        # the gauges' counts (due tonight, overdue): only disputes whose first contact is awaited hold the key
        IndexModel([(CONTACT_DUE_MS, ASCENDING)], sparse=True),
        OUTBOX_INDEX,
    ],
    "requests": [IndexModel([("at", ASCENDING)], expireAfterSeconds=int(REQUEST_ID_KEPT.total_seconds()))],
}


class DisputeCodec:
    def ident(self, dispute: Dispute) -> str:
        return dispute.dispute_id

    def to_document(self, dispute: Dispute) -> dict[str, Any]:
        doc = {**dispute.to_dict(), "next_due_ms": epoch_ms(dispute.next_due_at)}
        if dispute.first_contact_awaited:  # absent otherwise: the sparse index holds only these
            doc[CONTACT_DUE_MS] = epoch_ms(dispute.first_contact_due_at)
        return doc

    def from_document(self, doc: Mapping[str, Any]) -> Dispute:
        return Dispute.from_dict(doc)


def first_contact_due_tonight(now: datetime, zone: tzinfo) -> dict[str, Any]:
    """Disputes not yet contacted whose first-contact deadline is still ahead and falls before the end of
    the station's day (a deadline at local midnight, the day report's, is tonight's)."""
    return gauges.due_by_day_end(CONTACT_DUE_MS, now, zone)


def first_contact_overdue(now: datetime) -> dict[str, Any]:
    """Disputes not yet contacted at or past their first-contact deadline (`now >= due` is late, as the
    domain's check says), whether or not a sweep has flagged them yet."""
    return gauges.past(CONTACT_DUE_MS, now)


class Disputes(Repository[Dispute], Protocol):
    """The disputes, and the questions the use cases ask of them."""

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        """Disputes with a deadline (first contact, follow-up) at or before `now`, through an index."""

    async def find(
        self, *, state: str | None, level: str | None, high_risk: bool | None, overdue: bool | None,
        limit: int, offset: int,
    ) -> list[Dispute]:
        """Newest reports first."""

    async def reported_between(self, start: datetime, end: datetime) -> list[Dispute]: ...

    async def recurrence_candidates(self, since: datetime) -> list[RecurrenceCandidate]: ...


class MongoDisputes(MongoRepository[Dispute]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["disputes"], DisputeCodec())

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def find(
        self, *, state: str | None, level: str | None, high_risk: bool | None, overdue: bool | None,
        limit: int, offset: int,
    ) -> list[Dispute]:
        filters = {"state": state, "level": level, "high_risk": high_risk, "overdue": overdue}
        query = {k: v for k, v in filters.items() if v is not None}
        cursor = self.collection.find(query).sort("reported_at", DESCENDING).skip(offset).limit(limit)
        return [Dispute.from_dict(d) async for d in cursor]

    async def reported_between(self, start: datetime, end: datetime) -> list[Dispute]:
        # nx-27017 compares datetimes to the whole second: ask for a superset, keep the exact range
        cursor = self.collection.find({"reported_at": {"$gte": start, "$lte": end}})
        return [d for d in [Dispute.from_dict(doc) async for doc in cursor] if start <= d.reported_at < end]

    async def recurrence_candidates(self, since: datetime) -> list[RecurrenceCandidate]:
        # the store cannot query into the parties array: match the keys here
        cursor = self.collection.find({"reported_at": {"$gte": since}}, {"reported_at": 1, "parties": 1, "address": 1})
        return [RecurrenceCandidate(d["_id"], d["reported_at"], _keys(d)) async for d in cursor]


class InMemoryDisputes(InMemoryRepository[Dispute]):
    def __init__(self) -> None:
        super().__init__(DisputeCodec(), "disputes")

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        due = [d for d in self.aggregates() if d.next_due_at is not None and d.next_due_at <= now]
        return [d.dispute_id for d in due[:limit]]

    async def find(
        self, *, state: str | None, level: str | None, high_risk: bool | None, overdue: bool | None,
        limit: int, offset: int,
    ) -> list[Dispute]:
        wanted = {"state": state, "level": level, "high_risk": high_risk, "overdue": overdue}
        found = [d for d in self.aggregates() if all(getattr(d, k) == v for k, v in wanted.items() if v is not None)]
        found.sort(key=lambda d: d.reported_at, reverse=True)
        return found[offset : offset + limit]

    async def reported_between(self, start: datetime, end: datetime) -> list[Dispute]:
        return [d for d in self.aggregates() if start <= d.reported_at < end]

    async def recurrence_candidates(self, since: datetime) -> list[RecurrenceCandidate]:
        return [RecurrenceCandidate(d.dispute_id, d.reported_at, recurrence_keys(d))
                for d in self.aggregates() if d.reported_at >= since]


def _keys(doc: Mapping[str, Any]) -> frozenset[str]:
    """The recurrence keys of a stored dispute, from the few fields read for them."""
    parties = [SimpleNamespace(phone=p.get("phone"), id_number=p.get("id_number")) for p in doc["parties"]]
    return recurrence_keys(SimpleNamespace(address=doc.get("address"), parties=parties))


class RequestIds(Protocol):
    async def dispute_for(self, request_id: str, proposed: str) -> str:
        """The dispute id the first try with `request_id` got (`proposed` if this is the first)."""


class MongoRequestIds:
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


class InMemoryRequestIds:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    async def dispute_for(self, request_id: str, proposed: str) -> str:
        return self.ids.setdefault(request_id, proposed)
