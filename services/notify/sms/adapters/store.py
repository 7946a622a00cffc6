"""Where the SMS gateway keeps its messages, replies, daily counters, opt-outs and strays: MongoDB, or memory.

Every write relies on single-document atomicity only, so two replicas stay right on a real
MongoDB as on the embedded store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common import gauges
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Repository
from common.timefmt import epoch_ms
from notify.sms.domain.messages import InboundSms, OutboundMessage
from notify.sms.domain.questions import Question

#: receipts and replies that named nothing known are kept this long (for an operator to look into)
STRAYS_KEPT = timedelta(days=90)
#: a question is kept this long after it expired (an answer arriving later is a stray, listed with the others)
QUESTIONS_KEPT = timedelta(days=30)
#: a day's counter outlives its day by this much (a message sent at 23:59 may be retried after midnight)
COUNTER_KEPT = timedelta(days=2)

MESSAGES = "sms_messages"
INBOUND = "sms_inbound"
COUNTERS = "sms_daily_counts"
OPT_OUTS = "sms_opt_outs"
STRAYS = "sms_strays"
QUESTIONS = "sms_questions"

#: when the gateway took the message (epoch ms), kept only while its delivery report is awaited (state sent)
RECEIPT_AWAITED_MS = "receipt_awaited_ms"
#: a message handed to the gateway longer ago than this without a receipt counts as undelivered
RECEIPT_EXPECTED_WITHIN = timedelta(hours=1)

INDEXES = {
    MESSAGES: [
        IndexModel([("next_try_ms", ASCENDING)]),  # numeric: the embedded store scans date ranges
        IndexModel([("phone", ASCENDING)]),
        IndexModel([(RECEIPT_AWAITED_MS, ASCENDING)], sparse=True),  # the gauge of SMS without a receipt
        OUTBOX_INDEX,
    ],
    INBOUND: [OUTBOX_INDEX, IndexModel([("stray_ms", ASCENDING)], sparse=True),
              IndexModel([("answered_ms", ASCENDING)], sparse=True)],
    QUESTIONS: [IndexModel([("phone", ASCENDING)]), IndexModel([("kept_until", ASCENDING)], expireAfterSeconds=0)],
    COUNTERS: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
    STRAYS: [IndexModel([("at", ASCENDING)], expireAfterSeconds=int(STRAYS_KEPT.total_seconds()))],
}


# --- messages and replies (aggregates with their outbox) -------------------------------------------


class MessageCodec:
    def ident(self, message: OutboundMessage) -> str:
        return message.sms_id

    def to_document(self, message: OutboundMessage) -> dict[str, Any]:
        doc = {**message.to_dict(), "next_try_ms": epoch_ms(message.next_try_at)}
        if message.state == "sent":  # absent otherwise: the sparse index holds only these
            doc[RECEIPT_AWAITED_MS] = epoch_ms(message.sent_at)
        return doc

    def from_document(self, doc: Mapping[str, Any]) -> OutboundMessage:
        return OutboundMessage.from_dict(dict(doc))


def undelivered(now: datetime) -> dict[str, Any]:
    """Messages the gateway took more than an hour before `now` with no delivery report yet (exactly an hour
    ago is not yet late)."""
    return gauges.older_than(RECEIPT_AWAITED_MS, now, RECEIPT_EXPECTED_WITHIN)


class InboundCodec:
    def ident(self, inbound: InboundSms) -> str:
        return inbound.inbound_id

    def to_document(self, inbound: InboundSms) -> dict[str, Any]:
        # one of the two listing fields, never both: each index holds only its own replies
        return {**inbound.to_dict(), "answered_ms" if inbound.matched else "stray_ms": epoch_ms(inbound.received_at)}

    def from_document(self, doc: Mapping[str, Any]) -> InboundSms:
        return InboundSms.from_dict(dict(doc))


class QuestionCodec:
    def ident(self, question: Question) -> str:
        return question.key

    def to_document(self, question: Question) -> dict[str, Any]:
        return {**question.to_dict(), "kept_until": question.expires_at + QUESTIONS_KEPT}

    def from_document(self, doc: Mapping[str, Any]) -> Question:
        return Question.from_dict(dict(doc))


class Messages(Repository[OutboundMessage], Protocol):
    async def due(self, now: datetime, limit: int) -> list[str]:
        """Queued messages whose next try is at or before `now`, up to `limit`, through an index."""

    async def sent_to(self, phone: str) -> bool:
        """Whether the station ever asked to message `phone` (a reply from it names something known)."""


class MongoMessages(MongoRepository[OutboundMessage]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db[MESSAGES], MessageCodec())

    async def due(self, now: datetime, limit: int) -> list[str]:
        cursor = self.collection.find({"next_try_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def sent_to(self, phone: str) -> bool:
        return await self.collection.find_one({"phone": phone}, {"_id": 1}) is not None


class InMemoryMessages(InMemoryRepository[OutboundMessage]):
    def __init__(self) -> None:
        super().__init__(MessageCodec(), MESSAGES)

    async def due(self, now: datetime, limit: int) -> list[str]:
        return [m.sms_id for m in self.aggregates() if m.next_try_at is not None and m.next_try_at <= now][:limit]

    async def sent_to(self, phone: str) -> bool:
        return any(m.phone == phone for m in self.aggregates())


class Inbound(Repository[InboundSms], Protocol):
    async def listing(self, *, matched: bool, limit: int) -> list[InboundSms]:
        """Newest first: the replies matched to a question, or the strays."""


class MongoInbound(MongoRepository[InboundSms]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db[INBOUND], InboundCodec())

    async def listing(self, *, matched: bool, limit: int) -> list[InboundSms]:
        field = "answered_ms" if matched else "stray_ms"
        cursor = self.collection.find({field: {"$gte": 0}}).sort(field, -1).limit(limit)
        return [self.codec.from_document(d) async for d in cursor]


class InMemoryInbound(InMemoryRepository[InboundSms]):
    def __init__(self) -> None:
        super().__init__(InboundCodec(), INBOUND)

    async def listing(self, *, matched: bool, limit: int) -> list[InboundSms]:
        found = [i for i in self.aggregates() if i.matched == matched]
        found.sort(key=lambda i: (i.received_at, i.inbound_id), reverse=True)
        return found[:limit]


class Questions(Repository[Question], Protocol):
    async def of_phone(self, phone: str) -> list[Question]:
        """Every question kept for `phone` (through its index; a phone has a handful)."""


class MongoQuestions(MongoRepository[Question]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db[QUESTIONS], QuestionCodec())

    async def of_phone(self, phone: str) -> list[Question]:
        cursor = self.collection.find({"phone": phone}).limit(200)
        return [self.codec.from_document(d) async for d in cursor]


class InMemoryQuestions(InMemoryRepository[Question]):
    def __init__(self) -> None:
        super().__init__(QuestionCodec(), QUESTIONS)

    async def of_phone(self, phone: str) -> list[Question]:
        return [q for q in self.aggregates() if q.phone == phone]


# --- the daily counters --------------------------------------------------------------------------


class DailyCounters(Protocol):
    async def claim(self, key: str, sms_id: str, limit: int, expires_at: datetime) -> bool:
        """Take one of the `limit` places of `key` (a phone's local day) for `sms_id`; True if it has one.

        Idempotent: a message that holds a place (a retry, a redelivery) keeps it and takes no other.
        """


class MongoDailyCounters:
    """One document per (phone, local day): `count` and the ids holding its places, raised atomically."""

    def __init__(self, db: AsyncIOMotorDatabase, attempts: int = 5) -> None:
        self._counters = db[COUNTERS]
        self._attempts = attempts

    async def claim(self, key: str, sms_id: str, limit: int, expires_at: datetime) -> bool:
        for _ in range(self._attempts):
            doc = await self._counters.find_one({"_id": key})
            if doc is not None and sms_id in (doc.get("ids") or []):
                return True
            if doc is not None and doc.get("count", 0) >= limit:
                return False
            try:
                # matches only below the limit; an upsert on a full (or just created) counter hits its _id
                await self._counters.update_one(
                    {"_id": key, "count": {"$lt": limit}},
                    {"$inc": {"count": 1}, "$addToSet": {"ids": sms_id}, "$setOnInsert": {"expires_at": expires_at}},
                    upsert=True,
                )
                return True
            except DuplicateKeyError:
                continue  # full, or another replica created it first: read it again
        return False


class InMemoryDailyCounters:
    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}

    async def claim(self, key: str, sms_id: str, limit: int, expires_at: datetime) -> bool:
        holders = self.ids.setdefault(key, [])
        if sms_id in holders:
            return True
        if len(holders) >= limit:
            return False
        holders.append(sms_id)
        return True


# --- the opt-out list ----------------------------------------------------------------------------


class OptOuts(Protocol):
    async def add(self, phone: str, at: datetime, inbound_id: str) -> None: ...

    async def has(self, phone: str) -> bool: ...

    async def remove(self, phone: str) -> bool: ...


class MongoOptOuts:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._opt_outs = db[OPT_OUTS]

    async def add(self, phone: str, at: datetime, inbound_id: str) -> None:
        # the first opt-out is the one on record; a repeated TD changes nothing
        await self._opt_outs.update_one(
            {"_id": phone}, {"$setOnInsert": {"at": at, "inbound_id": inbound_id}}, upsert=True
        )

    async def has(self, phone: str) -> bool:
        return await self._opt_outs.find_one({"_id": phone}, {"_id": 1}) is not None

    async def remove(self, phone: str) -> bool:
        return (await self._opt_outs.delete_one({"_id": phone})).deleted_count == 1


class InMemoryOptOuts:
    def __init__(self) -> None:
        self.phones: dict[str, datetime] = {}

    async def add(self, phone: str, at: datetime, inbound_id: str) -> None:
        self.phones.setdefault(phone, at)

    async def has(self, phone: str) -> bool:
        return phone in self.phones

    async def remove(self, phone: str) -> bool:
        return self.phones.pop(phone, None) is not None


# --- strays: receipts that named nothing known ---------------------------------------------------


class Strays(Protocol):
    async def keep(self, kind: str, at: datetime, data: dict[str, Any]) -> None: ...


class MongoStrays:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._strays = db[STRAYS]

    async def keep(self, kind: str, at: datetime, data: dict[str, Any]) -> None:
        await self._strays.insert_one({"kind": kind, "at": at, "data": data})


class InMemoryStrays:
    def __init__(self) -> None:
        self.kept: list[tuple[str, dict[str, Any]]] = []

    async def keep(self, kind: str, at: datetime, data: dict[str, Any]) -> None:
        self.kept.append((kind, data))
