"""The audit trail: who saw personal data whole, and who changed what, over HTTP.

One record per `/v1` request that showed a phone or ID number unmasked (`common.personal` notes
the ids on the caller's `Principal`) and per command (any method but GET/HEAD/OPTIONS) that
passed authentication: who (the JWT's `sub`, or a static token's hash name), the roles, the
route (its template, not the path with its values), the ids touched (path parameters and the ids
of the record shown), the status, when (UTC) and from which address. Never the personal data:
ids only, and no query string.

Recording is off the response path: `AuditTrail.note` appends to a list, and a task writes what
gathered within `GATHER_S` with one `insert_many` (a store away keeps them, bounded, for the next
try). Records are
append-only (no route changes or deletes one) and expire through a TTL index on `at` after
`audit_retention_days` (180 by default). Admins read them with `GET /v1/audit?who=&from=&to=` on
each service, or `fengqiao audit` asking every service at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from common import metrics
from common.auth import Principal, require

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorDatabase

log = structlog.get_logger(__name__)

COLLECTION = "audit"
#: records kept in memory while the store is away; past it the oldest are dropped (and counted)
MAX_PENDING = 10_000
#: the most records one query returns
MAX_LIMIT = 1_000
#: how long the writer gathers records before one insert_many (a busy route's records go together)
GATHER_S = 0.25
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class AuditRecord:
    who: str
    roles: list[str]
    kind: str  # "personal_data" (shown whole) or "command"
    method: str
    route: str
    ids: list[str]
    status: int
    at: datetime
    address: str
    service: str = ""


class AuditStore(Protocol):
    async def insert_many(self, records: list[AuditRecord]) -> None: ...

    async def find(self, who: str | None, start: datetime | None, end: datetime | None,
                   limit: int) -> list[AuditRecord]: ...


def _matches(r: AuditRecord, who: str | None, start: datetime | None, end: datetime | None) -> bool:
    return (who is None or r.who == who) and (start is None or r.at >= start) and (end is None or r.at < end)


@dataclass
class MemoryAuditStore:
    records: list[AuditRecord] = field(default_factory=list)

    async def insert_many(self, records: list[AuditRecord]) -> None:
        self.records.extend(records)

    async def find(self, who: str | None, start: datetime | None, end: datetime | None,
                   limit: int) -> list[AuditRecord]:
        found = [r for r in self.records if _matches(r, who, start, end)]
        return sorted(found, key=lambda r: r.at, reverse=True)[:limit]


class MongoAuditStore:
    """The `audit` collection of the service's own database; indexes made on first use."""

    def __init__(self, db: AsyncIOMotorDatabase, retention_days: int) -> None:
        self.collection = db[COLLECTION]
        self.retention = timedelta(days=retention_days)
        self._indexed = False

    async def ensure_indexes(self) -> None:
        from pymongo.errors import OperationFailure

        seconds = int(self.retention.total_seconds())
        try:
            await self.collection.create_index("at", name="expire_at", expireAfterSeconds=seconds)
        except OperationFailure:  # the retention setting changed: change the index's expiry in place
            await self.collection.database.command(
                "collMod", COLLECTION, index={"keyPattern": {"at": 1}, "expireAfterSeconds": seconds})
        await self.collection.create_index([("who", 1), ("at", -1)], name="who_at")
        self._indexed = True

    async def insert_many(self, records: list[AuditRecord]) -> None:
        if not self._indexed:
            await self.ensure_indexes()
        await self.collection.insert_many([asdict(r) for r in records], ordered=False)

    async def find(self, who: str | None, start: datetime | None, end: datetime | None,
                   limit: int) -> list[AuditRecord]:
        query: dict[str, Any] = {}
        if who is not None:
            query["who"] = who
        if start is not None or end is not None:
            query["at"] = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
        cursor = self.collection.find(query, {"_id": 0}).sort("at", -1).limit(limit)
        found = []
        async for doc in cursor:
            at = doc["at"]
            doc["at"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at
            found.append(AuditRecord(**doc))
        return found


class AuditTrail:
    """Gathers records during requests and writes them in the background, one `insert_many` at a time."""

    def __init__(self, store: AuditStore, service: str = "",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.service = service
        self._now = now
        self._pending: list[AuditRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def note(self, request: Request, principal: Principal, status: int) -> AuditRecord | None:
        """The record this request makes, if it makes one; queued for the writer."""
        command = request.method not in _READS
        if not command and (not principal.shown_whole or status >= 400):
            return None
        route = getattr(request.scope.get("route"), "path", request.url.path)
        params = [f"{k}={v}" for k, v in (request.scope.get("path_params") or {}).items()]
        ids = list(dict.fromkeys([*params, *principal.shown_whole]))[:50]
        client = request.client.host if request.client else ""
        record = AuditRecord(
            who=principal.who, roles=sorted(principal.roles), kind="command" if command else "personal_data",
            method=request.method, route=route, ids=ids, status=status, at=self._now(), address=client,
            service=self.service,
        )
        self._pending.append(record)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            del self._pending[:dropped]
            metrics.AUDIT_DROPPED.inc(dropped)
        if self._writer is None or self._writer.done():
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._gather_then_flush(), name="audit-writer")
        return record

    async def _gather_then_flush(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), GATHER_S)
        await self.flush()

    async def flush(self) -> None:
        """Write what gathered; a store away keeps it for the next try."""
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.store.insert_many(batch)
            except Exception as exc:  # noqa: BLE001 - the store is away: keep them, try with the next request
                self._pending[:0] = batch
                log.warning("audit.write_failed", records=len(batch), error=repr(exc)[:300])
                return
            metrics.AUDIT_RECORDS.inc(len(batch))

    async def idle(self) -> None:
        """Wait for the writer (tests, shutdown)."""
        if self._writer is not None:
            self._wake.set()
            with contextlib.suppress(Exception):
                await self._writer
        await self.flush()


def trail_of(request: Request) -> AuditTrail:
    return request.app.state.audit


class AuditRead(BaseModel):
    who: str = Field(description="The JWT's `sub`, or `token:<hash>` for a static token.")
    roles: list[str]
    kind: str = Field(description="`personal_data` (shown whole) or `command`.")
    method: str
    route: str = Field(description="The route's template, e.g. `/v1/callbacks/{callback_id}`.")
    ids: list[str] = Field(description="`name=value` of the path and of the record shown.")
    status: int
    at: datetime
    address: str = Field(description="The client's address as the service saw it.")
    service: str


router = APIRouter(tags=["audit"])


@router.get("/v1/audit", response_model=list[AuditRead],
            summary="The audit trail: who saw personal data whole or changed something, newest first")
async def read_audit(
    trail: Annotated[AuditTrail, Depends(trail_of)],
    _: Annotated[Principal, Depends(require("admin"))],
    who: Annotated[str | None, Query(max_length=200)] = None,
    start: Annotated[datetime | None, Query(alias="from", description="From this time (included).")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Until this time (excluded).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    await trail.idle()  # what this replica gathered so far is readable at once
    found = await trail.store.find(who, _utc(start), _utc(end), limit)
    return [asdict(r) for r in found]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def attach(app: Any, db: AsyncIOMotorDatabase, retention_days: int, service: str) -> AuditTrail:
    """Point the app's audit trail at the service's database (what `serve` does once the store is there)."""
    trail = AuditTrail(MongoAuditStore(db, retention_days), service=service)
    app.state.audit = trail
    return trail
