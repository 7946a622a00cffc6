"""The embedded gateway of `fengqiao up`: no operator behind it; it records what was sent and answers with receipts.

Each message sent is one document (its `_id` the sms_id, so a resend is one record) that
`GET /v1/sms/outbox` lists, with the time its receipt falls due: `delivered` a few seconds after
sending, or failed `undeliverable` for the numbers a test or a staging station lists as failing.
`due_receipts` reads only the records whose receipt is due, through an index; the receipts
sweep applies them and then marks them issued (applying one twice changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel

from common.clock import Clock
from common.timefmt import epoch_ms
from notify.sms.adapters.port import DeliveryReceipt, OutboundSms, SendResult
from notify.sms.domain.messages import station_phone

RECORDS = "sms_embedded_outbox"
INDEXES = {
    RECORDS: [
        IndexModel([("receipt_ms", ASCENDING)]),
        IndexModel([("sent_ms", DESCENDING)]),
        IndexModel([("phone", ASCENDING), ("sent_ms", DESCENDING)]),
    ]
}


@dataclass(frozen=True)
class SentRecord:
    sms_id: str
    phone: str
    text: str
    sent_at: datetime
    #: what its receipt says (or will say)
    outcome: str
    receipt_at: datetime | None


class Records(Protocol):
    async def record(self, sms: OutboundSms, sent_at: datetime, receipt_at: datetime, fails: bool) -> None:
        """Keep what was sent (once per sms_id: a resend keeps the first record)."""

    async def due_receipts(self, now: datetime, limit: int) -> list[SentRecord]: ...

    async def issued(self, sms_id: str) -> None: ...

    async def listing(self, phone: str | None, limit: int) -> list[SentRecord]:
        """Newest first."""


def _record(doc: dict[str, Any]) -> SentRecord:
    return SentRecord(doc["_id"], doc["phone"], doc["text"], doc["sent_at"], doc["outcome"], doc.get("receipt_at"))


class MongoRecords:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._records = db[RECORDS]

    async def record(self, sms: OutboundSms, sent_at: datetime, receipt_at: datetime, fails: bool) -> None:
        doc = {"phone": sms.phone, "text": sms.text, "sent_at": sent_at, "sent_ms": epoch_ms(sent_at),
               "receipt_at": receipt_at, "receipt_ms": epoch_ms(receipt_at),
               "outcome": "failed" if fails else "delivered"}
        await self._records.update_one({"_id": sms.sms_id}, {"$setOnInsert": doc}, upsert=True)

    async def due_receipts(self, now: datetime, limit: int) -> list[SentRecord]:
        cursor = self._records.find({"receipt_ms": {"$lte": epoch_ms(now)}}).limit(limit)
        return [_record(d) async for d in cursor]

    async def issued(self, sms_id: str) -> None:
        await self._records.update_one({"_id": sms_id}, {"$unset": {"receipt_ms": ""}})

    async def listing(self, phone: str | None, limit: int) -> list[SentRecord]:
        query = {"phone": phone} if phone else {}
        cursor = self._records.find(query).sort("sent_ms", DESCENDING).limit(limit)
        return [_record(d) async for d in cursor]


class InMemoryRecords:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def record(self, sms: OutboundSms, sent_at: datetime, receipt_at: datetime, fails: bool) -> None:
        self.records.setdefault(sms.sms_id, {
            "_id": sms.sms_id, "phone": sms.phone, "text": sms.text, "sent_at": sent_at,
            "receipt_at": receipt_at, "due": True, "outcome": "failed" if fails else "delivered"})

    async def due_receipts(self, now: datetime, limit: int) -> list[SentRecord]:
        due = [r for r in self.records.values() if r["due"] and r["receipt_at"] <= now]
        return [_record(r) for r in due[:limit]]

    async def issued(self, sms_id: str) -> None:
        self.records[sms_id]["due"] = False

    async def listing(self, phone: str | None, limit: int) -> list[SentRecord]:
        found = [r for r in self.records.values() if phone is None or r["phone"] == phone]
        found.sort(key=lambda r: r["sent_at"], reverse=True)
        return [_record(r) for r in found[:limit]]


class EmbeddedGateway:
    """An `SmsGateway` that delivers to nobody: it keeps what was sent and reports on it."""

    name = "embedded"

    def __init__(self, records: Records, clock: Clock, *, receipt_delay: timedelta,
                 failing_numbers: Iterable[str] = ()) -> None:
        self.records = records
        self._clock = clock
        self._receipt_delay = receipt_delay
        self._failing = {station_phone(n) or n for n in failing_numbers}

    async def send(self, sms: OutboundSms) -> SendResult:
        now = self._clock.now()
        fails = (station_phone(sms.phone) or sms.phone) in self._failing
        await self.records.record(sms, now, now + self._receipt_delay, fails)
        return SendResult(True, detail="recorded by the embedded gateway")

    async def due_receipts(self, limit: int = 200) -> list[DeliveryReceipt]:
        return [
            DeliveryReceipt(r.sms_id, "delivered" if r.outcome == "delivered" else "failed",
                            r.receipt_at or self._clock.now(), "" if r.outcome == "delivered" else "undeliverable")
            for r in await self.records.due_receipts(self._clock.now(), limit)
        ]

    async def receipt_issued(self, sms_id: str) -> None:
        await self.records.issued(sms_id)
