"""Mongo repositories of dispatch: the grid, the units' live state, the alerts."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.contracts.base import Event
from common.mongo import GroupedWrites, VersionConflict
from common.outbox import save_staged
from common.timefmt import epoch_ms
from dispatch.domain.alerts import Alert

INDEXES = {
    "alerts": [
        # single-field indexes: the embedded store uses those for equality and numeric ranges
        IndexModel([("ack_due_ms", ASCENDING)]),
        IndexModel([("waiting_ms", ASCENDING)]),
        IndexModel([("state", ASCENDING)]),
        IndexModel([("unit_id", ASCENDING)]),
        IndexModel([("received_at", ASCENDING)]),
        IndexModel([("outbox_ms", ASCENDING)]),
    ],
    "units": [],
}


#: documents per round trip when a sweep reads many: alerts being placed get the store in between
SCAN_BATCH = 50
#: units per query when every unit is re-read. The embedded store runs a query whole while holding
#: its database lock: one query over 900 units stalled alert writes ~50 ms, 64 ids at a time ~10 ms
UNIT_CHUNK = 64


def _chunks(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def holder_key(alert_id: str) -> str:
    """A field name safe for any alert id (ids may hold '.' or '$')."""
    return "h" + hashlib.blake2b(alert_id.encode(), digest_size=10).hexdigest()


#: (unit_id, alert_id, claimed_at) of a place a unit holds
HeldClaim = tuple[str, str, datetime]


class Claim(enum.Enum):
    CLAIMED = "claimed"  # a new place taken now
    HELD = "held"  # this alert already had its place there (a duplicate or a redelivery)
    REFUSED = "refused"  # full, busy, off duty or retired


@dataclass(frozen=True)
class UnitState:
    unit_id: str
    status: str
    load: int
    capacity: int
    officers: tuple[str, ...]
    retired: bool


class GridStore:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._grids = db["grid"]

    async def current(self) -> tuple[int, dict | None, list[dict]]:
        doc = await self._grids.find_one({"_id": "current"})
        if doc is None:
            return 0, None, []
        return doc["version"], json.loads(doc["geojson"]), doc.get("warnings", [])

    async def version(self) -> int:
        doc = await self._grids.find_one({"_id": "current"}, {"version": 1})
        return doc["version"] if doc else 0

    async def replace(self, geojson: dict, warnings: list[dict], now: datetime) -> int:
        doc = await self._grids.find_one({"_id": "current"}, {"version": 1})
        version = (doc["version"] if doc else 0) + 1
        await self._grids.replace_one(
            {"_id": "current"},
            {"_id": "current", "version": version, "geojson": json.dumps(geojson, ensure_ascii=False),
             "warnings": warnings, "uploaded_at": now},
            upsert=True,
        )
        return version


class UnitStore:
    """Live state of the units; capacity is claimed with one guarded update, safe across replicas."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._units = db["units"]
        self._claims = GroupedWrites(self._units)

    async def sync_with_grid(self, units: Iterable, grid_version: int) -> list[str]:
        """Upsert the grid's units keeping their load; units gone from the grid are retired. Returns retired ids."""
        keep = []
        for u in units:
            keep.append(u.unit_id)
            static = {"name": u.name, "officers": list(u.officers), "capacity": u.capacity,
                      "retired": False, "grid_version": grid_version}
            existing = await self._units.find_one({"_id": u.unit_id}, {"_id": 1})
            if existing is None:
                await self._units.insert_one({"_id": u.unit_id, **static, "status": u.status, "load": 0, "holders": {}})
            else:
                await self._units.update_one({"_id": u.unit_id}, {"$set": {**static, "status": u.status}})
        retired = [d["_id"] async for d in self._units.find({"_id": {"$nin": keep}, "retired": False}, {"_id": 1})]
        if retired:
            await self._units.update_many({"_id": {"$in": retired}}, {"$set": {"retired": True, "status": "off_duty"}})
        return retired

    async def states(self) -> dict[str, UnitState]:
        """Live state of every unit, in one query (at start-up; a running replica uses `read`)."""
        cursor = self._units.find({}, _STATE_FIELDS).batch_size(SCAN_BATCH)
        return {d["_id"]: _state(d) async for d in cursor}

    async def read(self, unit_ids: Iterable[str]) -> tuple[dict[str, UnitState], list[HeldClaim]]:
        """Live state of the given units and the claims they hold, UNIT_CHUNK ids per query."""
        states: dict[str, UnitState] = {}
        claims: list[HeldClaim] = []
        for chunk in _chunks(unit_ids, UNIT_CHUNK):
            async for d in self._units.find({"_id": {"$in": chunk}}, {**_STATE_FIELDS, "holders": 1}):
                states[d["_id"]] = _state(d)
                for value in (d.get("holders") or {}).values():
                    alert_id, _, at = value.rpartition("|")
                    claims.append((d["_id"], alert_id, datetime.fromisoformat(at)))
        return states, claims

    async def get(self, unit_id: str) -> UnitState | None:
        d = await self._units.find_one({"_id": unit_id}, _STATE_FIELDS)
        return _state(d) if d else None

    async def set_status(self, unit_id: str, status: str) -> bool:
        result = await self._units.update_one({"_id": unit_id, "retired": False}, {"$set": {"status": status}})
        return result.matched_count == 1

    async def claim(self, unit_id: str, alert_id: str, now: datetime, capacity: int) -> Claim:
        """Take one place of the unit's capacity for the alert: CLAIMED, HELD (already) or REFUSED.

        `capacity` is what the caller believes; a grid that changed it meanwhile refuses the
        claim rather than overfill the unit (a literal guard: `$expr` is twice as slow here).
        """
        key = holder_key(alert_id)
        changed = await self._claims.update(
            {"_id": unit_id, "status": "available", "retired": False, f"holders.{key}": {"$exists": False},
             "capacity": capacity, "load": {"$lt": capacity}},
            {"$set": {f"holders.{key}": f"{alert_id}|{now.isoformat()}"}, "$inc": {"load": 1}},
        )
        if changed:
            return Claim.CLAIMED
        if not await self.holds(unit_id, alert_id):
            return Claim.REFUSED
        # held but not changed by us: a duplicate alert's place. When a batch could not tell, the
        # place may be new: count it as new (this replica's view only; the store is exact)
        return Claim.HELD if changed is False else Claim.CLAIMED

    async def holds(self, unit_id: str, alert_id: str) -> bool:
        query = {"_id": unit_id, f"holders.{holder_key(alert_id)}": {"$exists": True}}
        return await self._units.count_documents(query) == 1

    async def holder_of(self, alert_id: str) -> str | None:
        d = await self._units.find_one({f"holders.{holder_key(alert_id)}": {"$exists": True}}, {"_id": 1})
        return d["_id"] if d else None

    async def release(self, unit_id: str, alert_id: str) -> bool:
        key = holder_key(alert_id)
        result = await self._units.update_one(
            {"_id": unit_id, f"holders.{key}": {"$exists": True}},
            {"$unset": {f"holders.{key}": ""}, "$inc": {"load": -1}},
        )
        return result.modified_count == 1

_STATE_FIELDS = {"status": 1, "load": 1, "capacity": 1, "officers": 1, "retired": 1}


def _state(d: dict) -> UnitState:
    return UnitState(d["_id"], d["status"], d.get("load", 0), d["capacity"], tuple(d.get("officers", ())),
                     d.get("retired", False))


class AlertStore:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db["alerts"]
        self._inserts = GroupedWrites(self.collection)

    async def insert_new(self, alert: Alert) -> None:
        """Store a just-received alert; VersionConflict if one with its id is stored already."""
        try:
            await self._inserts.insert(_document(alert, 1))
        except DuplicateKeyError as exc:
            raise VersionConflict(alert.alert_id) from exc
        alert.version = 1

    async def get(self, alert_id: str) -> Alert | None:
        doc = await self.collection.find_one({"_id": alert_id})
        return alert_from(doc) if doc else None

    async def save(self, alert: Alert, staged: list[tuple[Event, str]] | None = None) -> dict:
        """Save the whole alert if nobody changed it meanwhile; stage events in its outbox. Returns the doc saved."""
        doc = await save_staged(self.collection, _document(alert, alert.version + 1), alert.version, staged or [])
        alert.version += 1
        return doc

    async def due_for_ack(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"ack_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def waiting(self, limit: int = 200) -> list[str]:
        """Alerts no unit holds: at the duty desk, or released and not yet placed again; urgent and old first."""
        cursor = self.collection.find({"waiting_ms": {"$gte": 0}}, {"_id": 1, "priority": 1, "received_at": 1})
        docs = [d async for d in cursor]
        docs.sort(key=lambda d: (d.get("priority", 2), d["received_at"]))
        return [d["_id"] for d in docs[:limit]]

    async def held_unacknowledged_by(self, unit_id: str) -> list[str]:
        cursor = self.collection.find({"unit_id": unit_id}, {"_id": 1, "state": 1})
        return [d["_id"] async for d in cursor if d["state"] == "assigned"]

    async def find(self, *, state: str | None, unit_id: str | None, limit: int) -> list[Alert]:
        query = {k: v for k, v in (("state", state), ("unit_id", unit_id)) if v is not None}
        cursor = self.collection.find(query).sort("received_at", -1).limit(limit)
        return [alert_from(d) async for d in cursor]

    async def received_between(self, start: datetime, end: datetime) -> list[Alert]:
        cursor = self.collection.find({"received_at": {"$gte": start, "$lt": end}})
        return [alert_from(d) async for d in cursor]


def _document(alert: Alert, version: int) -> dict:
    data = alert.to_dict()
    data.pop("version", None)
    data.pop("events", None)
    ack_due = alert.ack_due_at if alert.state == "assigned" else None
    waiting = alert.received_at if alert.state in ("unassigned", "received") else None
    return {"_id": alert.alert_id, **data, "ack_due_ms": epoch_ms(ack_due), "waiting_ms": epoch_ms(waiting),
            "version": version, "outbox": {}}


def alert_from(doc: dict) -> Alert:
    data = {k: v for k, v in doc.items() if k not in ("_id", "outbox", "outbox_ms", "ack_due_ms", "waiting_ms")}
    return Alert.from_dict(data)
