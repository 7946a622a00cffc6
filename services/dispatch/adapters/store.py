"""dispatch's stores: the grid, the units' live state, the alerts; each in MongoDB and in memory, one contract."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.mongo import refused_by_id
from common.outbox import Events
from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Stored, VersionConflict
from common.timefmt import epoch_ms
from dispatch.domain.alerts import Alert, desk_order
from dispatch.domain.units import GRID_ID, GridRecord, Unit, UnitState

INDEXES = {
    "alerts": [
        # single-field indexes: the embedded store uses those for equality and numeric ranges
        IndexModel([("ack_due_ms", ASCENDING)]),
        # the duty desk's queue, urgent and oldest first (see `waiting_key`)
        IndexModel([("waiting_key", ASCENDING)]),
        IndexModel([("state", ASCENDING)]),
        IndexModel([("unit_id", ASCENDING)]),
        IndexModel([("received_at", ASCENDING)]),
        OUTBOX_INDEX,
        # the places of the units: no two alerts in one place (see `slot`)
        IndexModel([("slot", ASCENDING)], unique=True),
    ],
    "units": [OUTBOX_INDEX],
    "grid": [OUTBOX_INDEX],
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


class PlaceTaken(Exception):
    """The place the alert was written into is held by another alert (another replica was quicker)."""

    def __init__(self, unit_id: str, place: int) -> None:
        super().__init__(f"place {place} of unit {unit_id} is taken")
        self.unit_id, self.place = unit_id, place


def slot(alert: Alert) -> str:
    """The alert's key in the unique index that keeps every unit within its capacity.

    An alert a unit holds takes one of the unit's places, `u:<unit> <place>` with place <
    capacity: two alerts cannot take the same place, so no unit ever holds more alerts than
    it has places, whichever replica writes. Any other alert has a key of its own.
    The space sorts before any character of a unit id (the grid refuses spaces and control
    characters in them), so held slots sort as their units do: a slice of units is one range.
    """
    if alert.state in ("assigned", "acknowledged") and alert.unit_id is not None and alert.place is not None:
        return f"{HELD}{alert.unit_id} {alert.place}"
    return f"w:{alert.alert_id}"


#: every held place's slot starts with HELD; HELD_END is the first key past all of them
HELD, HELD_END = "u:", "u;"


def _held_range(first: str, last: str) -> dict:
    """The slots of the units from `first` to `last` in id order (and of no unit outside them).

    "u:<last>!" sorts after every "u:<last> <place>", and before any later unit's slots.
    """
    return {"slot": {"$gte": HELD + first, "$lt": HELD + last + "!"}}


def held_place(slot_key: str) -> tuple[str, int]:
    """(unit_id, place) of a held slot."""
    unit_id, _, place = slot_key[len(HELD) :].rpartition(" ")
    return unit_id, int(place)


#: what a page of the queue reads of each alert when only its id and rank are wanted
_KEYS = {"_id": 1, "waiting_key": 1}

#: a waiting alert's key starts with REACHABLE if a unit of the grid can reach it, else BEYOND_REACH
REACHABLE, BEYOND_REACH = "a", "z"
WAITING_STATES = ("received", "unassigned")
#: every waiting alert's key, and no other alert's (the key is absent): a range of the queue index, which the
#: embedded store counts from the index (~0.3 ms at 40,000 alerts, where `state = "unassigned"` reads them all)
WAITING = {"waiting_key": {"$gte": REACHABLE, "$lt": chr(ord(BEYOND_REACH) + 1)}}


def waiting_received_at(key: str) -> datetime:
    """When the alert of a waiting key was received: `<reach><priority>:<received epoch ms>:<id>`."""
    return datetime.fromtimestamp(int(key.split(":", 2)[1]) / 1000, UTC)


def next_run(key: str) -> str:
    """The first key past the run of `key`'s reach and priority (`a2:` → `a2;`, ';' sorting right after ':')."""
    return key[: key.index(":")] + ";"


def waiting_key(alert: Alert) -> str | None:
    """The key of an alert no unit holds in the queue index; None (no key) for any other alert.

    Alerts within some unit's reach and those beyond every unit's reach are two ranges of the
    index: a freed place is offered from the first only, the duty desk lists both.
    """
    if alert.state not in WAITING_STATES:
        return None
    return (BEYOND_REACH if alert.beyond_reach else REACHABLE) + desk_order(alert)


@dataclass(frozen=True)
class HeldPlace:
    unit_id: str
    place: int
    alert_id: str
    state: str  # "assigned" (not acknowledged yet) or "acknowledged"


class GridCodec:
    def ident(self, record: GridRecord) -> str:
        return GRID_ID

    def to_document(self, record: GridRecord) -> dict:
        return record.to_dict()

    def from_document(self, doc: dict) -> GridRecord:
        return GridRecord.from_dict(doc)




class GridStore(MongoRepository[GridRecord]):
    """The grid as last uploaded, one document whose version is the grid's."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["grid"], GridCodec())

    async def current(self) -> tuple[int, dict | None, list[dict]]:
        doc = await self.collection.find_one({"_id": GRID_ID}, {"outbox": 0})
        if doc is None:
            return 0, None, []
        return doc["version"], json.loads(doc["geojson"]), doc.get("warnings", [])

    async def version(self) -> int:
        doc = await self.collection.find_one({"_id": GRID_ID}, {"version": 1})
        return doc["version"] if doc else 0


class UnitCodec:
    def ident(self, unit: Unit) -> str:
        return unit.unit_id

    def to_document(self, unit: Unit) -> dict:
        data = unit.to_dict()
        data.pop("version")
        return data

    def from_document(self, doc: dict) -> Unit:
        return Unit.from_dict(doc)


class UnitStore(MongoRepository[Unit]):
    """The units' live state: status, capacity, officers. Their places are held in the alerts (see `slot`)."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["units"], UnitCodec())

    async def give_versions(self) -> int:
        """Units stored before they were saved whole (no version, no own id field) get both; once.

        Runs at start-up before the units' outbox index is built: with the index there, nothing is looked for.
        """
        async for index in self.collection.list_indexes():
            if "outbox_ms" in index["key"]:
                return 0
        changed = 0
        async for doc in self.collection.find({"version": {"$exists": False}}, {"_id": 1}):
            await self.collection.update_one(
                {"_id": doc["_id"]}, {"$set": {"unit_id": doc["_id"], "version": 1, "outbox": {}}})
            changed += 1
        return changed

    async def retired_ids(self, keep: list[str]) -> list[str]:
        """Units in service that are not in `keep` (a new grid's units)."""
        return [d["_id"] async for d in self.collection.find({"_id": {"$nin": keep}, "retired": False}, {"_id": 1})]

    async def states(self, unit_ids: Iterable[str] | None = None) -> dict[str, UnitState]:
        """Live state of the given units, UNIT_CHUNK ids per query; of every unit (in one query) if None."""
        if unit_ids is None:
            cursor = self.collection.find({}, _STATE_FIELDS).batch_size(SCAN_BATCH)
            return {d["_id"]: _state(d) async for d in cursor}
        states: dict[str, UnitState] = {}
        for chunk in _chunks(unit_ids, UNIT_CHUNK):
            async for d in self.collection.find({"_id": {"$in": chunk}}, _STATE_FIELDS):
                states[d["_id"]] = _state(d)
        return states

    async def state(self, unit_id: str) -> UnitState | None:
        d = await self.collection.find_one({"_id": unit_id}, _STATE_FIELDS)
        return _state(d) if d else None


_STATE_FIELDS = {"status": 1, "capacity": 1, "officers": 1, "retired": 1}


def _state(d: dict) -> UnitState:
    # the embedded store hands booleans back as 0 / 1
    return UnitState(d["_id"], d["status"], d["capacity"], tuple(d.get("officers", ())), bool(d.get("retired", False)))


class AlertCodec:
    def ident(self, alert: Alert) -> str:
        return alert.alert_id

    def to_document(self, alert: Alert) -> dict:
        return _document(alert)

    def from_document(self, doc: dict) -> Alert:
        return alert_from(doc)


class AlertStore(MongoRepository[Alert]):
    """The alerts, saved whole (see `slot`), and the questions the use cases ask of them."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        collection = db["alerts"]
        super().__init__(collection, AlertCodec(), refusal=_refusal)

    async def insert_new(self, alert: Alert) -> None:
        """Store a just-received alert, in its place if it has one (its events are told from its state).

        VersionConflict if an alert with its id is stored already; PlaceTaken if its place is.
        """
        await self.add(alert, [])

    async def places(self, unit_ids: Iterable[str]) -> dict[str, set[int]]:
        """The places held in each of the given units.

        One range query on the slot index per UNIT_CHUNK units (in id order, slots sort as
        their units do), asking only for the distinct slots: the embedded store reads a whole
        alert for each document a `find` returns (~150 µs each, under its lock), and a
        `distinct` ~10 times cheaper.
        """
        held: dict[str, set[int]] = {unit_id: set() for unit_id in unit_ids}
        for chunk in _chunks(held, UNIT_CHUNK):
            for slot_key in await self.collection.distinct("slot", _held_range(chunk[0], chunk[-1])):
                unit_id, place = held_place(slot_key)
                if unit_id in held:
                    held[unit_id].add(place)
        return held

    async def held_by(self, unit_id: str) -> list[HeldPlace]:
        """The alerts the unit holds, in which place and state."""
        found = [HeldPlace(*held_place(d["slot"]), d["_id"], d["state"])
                 async for d in self.collection.find(_held_range(unit_id, unit_id), {"slot": 1, "state": 1})]
        return [h for h in found if h.unit_id == unit_id]

    async def give_places(self) -> int:
        """Give every alert stored without a slot (by a version before places) its slot.

        An alert a unit holds takes the unit's lowest free place, in the order the alerts
        came in. Runs before the slot index is built, once: with the index there every alert
        has its slot, and the look for those without one (a scan of every alert) is skipped.
        Returns how many alerts it changed.
        """
        async for index in self.collection.list_indexes():
            if "slot" in index["key"]:
                return 0
        taken: dict[str, set[int]] = {}
        async for doc in self.collection.find({"slot": {"$gte": HELD, "$lt": HELD_END}}, {"slot": 1}):
            unit_id, place = held_place(doc["slot"])
            taken.setdefault(unit_id, set()).add(place)
        changed = 0
        async for doc in self.collection.find({"slot": {"$exists": False}}).sort("received_at", ASCENDING):
            alert = alert_from(doc)
            if alert.state in ("assigned", "acknowledged") and alert.unit_id is not None:
                places = taken.setdefault(alert.unit_id, set())
                alert.place = next(k for k in range(len(places) + 1) if k not in places)
                places.add(alert.place)
            await self.collection.update_one({"_id": doc["_id"]}, {"$set": {"slot": slot(alert), "place": alert.place}})
            changed += 1
        return changed

    async def due_for_ack(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"ack_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def waiting(
        self, *, after: str = "", limit: int, reach: str = REACHABLE, fields: dict | None = _KEYS
    ) -> list[dict]:
        """The next `limit` alerts no unit holds after `after` (a `desk_order`), urgent and oldest first.

        One range of the queue index, sorted and limited: the store reads only the documents
        returned, however many wait (measured on nx-27017 with 10,000 waiting: ~0.5 ms for 10,
        against ~270 ms to read them all).
        """
        if limit <= 0:
            return []
        query = {"waiting_key": {"$gt": reach + after, "$lt": chr(ord(reach) + 1)}}
        cursor = self.collection.find(query, fields).sort("waiting_key", ASCENDING).limit(limit)
        return [d async for d in cursor]

    async def queue(self, *, after: str = "", limit: int) -> list[Alert]:
        """The duty desk's queue, every alert no unit holds (within reach or not): urgent and oldest first."""
        docs = [*await self.waiting(after=after, limit=limit, fields=None),
                *await self.waiting(after=after, limit=limit, reach=BEYOND_REACH, fields=None)]
        docs.sort(key=lambda d: d["waiting_key"][1:])
        return [alert_from(d) for d in docs[:limit]]

    async def oldest_waiting(self) -> datetime | None:
        """When the longest-waiting alert was received (None when none waits), through the queue index.

        The queue runs by reach, then priority, then age: the oldest alert is the first of one of its runs.
        One `find_one` per run (reach × priority: six at most), each reading one key from the index, where
        a sort by `received_at` of the alerts in a state walked past every alert received since.
        """
        firsts, start = [], REACHABLE
        while doc := await self.collection.find_one(
            {"waiting_key": {"$gte": start, "$lt": chr(ord(BEYOND_REACH) + 1)}}, _KEYS, sort=[("waiting_key", 1)]
        ):
            firsts.append(waiting_received_at(doc["waiting_key"]))
            start = next_run(doc["waiting_key"])
        return min(firsts, default=None)

    async def key_waiting(self) -> int:
        """Give alerts stored before the queue index (with `waiting_ms`) their `waiting_key`; once.

        Runs at start-up before the index is built; an alert beyond every unit's reach is found
        so by its first offer and keyed again. Returns how many alerts it changed.
        """
        async for index in self.collection.list_indexes():
            if "waiting_key" in index["key"]:
                return 0
        changed = 0
        async for doc in self.collection.find({"waiting_ms": {"$gte": 0}}):
            await self.collection.update_one(
                {"_id": doc["_id"]},
                {"$set": {"waiting_key": waiting_key(alert_from(doc))}, "$unset": {"waiting_ms": ""}},
            )
            changed += 1
        return changed

    async def held_unacknowledged_by(self, unit_id: str) -> list[str]:
        return [h.alert_id for h in await self.held_by(unit_id) if h.state == "assigned"]

    async def find(self, *, state: str | None, unit_id: str | None, limit: int, since: datetime | None = None,
                   before: tuple[datetime, str] | None = None) -> list[Alert]:
        """Newest first (received_at, then alert id); `since` bounds the received_at index's range and `before` is
        the last (received_at, alert id) of the page before."""
        terms: list[dict[str, Any]] = [{k: v} for k, v in (("state", state), ("unit_id", unit_id)) if v is not None]
        if since is not None:
            terms.append({"received_at": {"$gte": since}})
        if before is not None:
            at, alert_id = before
            terms.append({"received_at": {"$lte": at}})
            terms.append({"$or": [{"received_at": {"$lt": at}}, {"_id": {"$lt": alert_id}}]})
        # each term alone under $and: nx-27017 drops a field's condition that sits beside an $or (embedded-store.md)
        query = {"$and": terms} if len(terms) > 1 else (terms[0] if terms else {})
        cursor = self.collection.find(query).sort([("received_at", -1), ("_id", -1)]).limit(limit)
        return [alert_from(d) async for d in cursor]

    async def received_between(self, start: datetime, end: datetime) -> list[Alert]:
        cursor = self.collection.find({"received_at": {"$gte": start, "$lt": end}})
        return [alert_from(d) async for d in cursor]


def _document(alert: Alert) -> dict:
    data = alert.to_dict()
    data.pop("events", None)
    ack_due = alert.ack_due_at if alert.state == "assigned" else None
    doc = {**data, "slot": slot(alert), "ack_due_ms": epoch_ms(ack_due)}
    key = waiting_key(alert)
    if key is not None:  # no key at all otherwise: the queue's index holds the waiting alerts only
        doc["waiting_key"] = key
    return doc


def _refusal(alert: Alert, exc: DuplicateKeyError) -> Exception:
    """What a refused write of the alert means: its place is taken, or the alert is stored already."""
    if refused_by_id(exc) or alert.place is None or alert.unit_id is None:
        return VersionConflict(alert.alert_id)  # a duplicate: its id, or its own waiting slot, is taken
    return PlaceTaken(alert.unit_id, alert.place)


#: what the store adds to an alert's document (indexes, outbox) and the alert does not hold
_STORE_ONLY = ("_id", "slot", "outbox", "outbox_ms", "ack_due_ms", "waiting_ms", "waiting_key")


def alert_from(doc: dict) -> Alert:
    data = {k: v for k, v in doc.items() if k not in _STORE_ONLY}
    return Alert.from_dict(data)


# --- the same stores in memory, with the same rules and queries: for use-case tests in milliseconds ---
# The unique `slot` is checked here too: a place is held by one alert at most, a write into a taken
# place is refused with PlaceTaken as the store refuses it.


class InMemoryGrid(InMemoryRepository[GridRecord]):
    def __init__(self) -> None:
        super().__init__(GridCodec(), "grid")

    async def current(self) -> tuple[int, dict | None, list[dict]]:
        doc = self.documents.get(GRID_ID)
        if doc is None:
            return 0, None, []
        return doc["version"], json.loads(doc["geojson"]), copy.deepcopy(doc["warnings"])

    async def version(self) -> int:
        doc = self.documents.get(GRID_ID)
        return doc["version"] if doc else 0


class InMemoryUnits(InMemoryRepository[Unit]):
    def __init__(self) -> None:
        super().__init__(UnitCodec(), "units")

    async def give_versions(self) -> int:
        return 0

    async def retired_ids(self, keep: list[str]) -> list[str]:
        return [u for u, doc in self.documents.items() if u not in keep and not doc["retired"]]

    async def states(self, unit_ids: Iterable[str] | None = None) -> dict[str, UnitState]:
        wanted = self.documents if unit_ids is None else [u for u in unit_ids if u in self.documents]
        return {u: _state(self.documents[u]) for u in wanted}

    async def state(self, unit_id: str) -> UnitState | None:
        doc = self.documents.get(unit_id)
        return _state(doc) if doc else None


def _state(doc: dict) -> UnitState:
    return UnitState(doc["_id"], doc["status"], doc["capacity"], tuple(doc["officers"]), doc["retired"])


class InMemoryAlerts(InMemoryRepository[Alert]):
    def __init__(self) -> None:
        super().__init__(AlertCodec(), "alerts")

    def _refuse_a_taken_slot(self, alert: Alert) -> None:
        key = self.codec.to_document(alert)["slot"]
        if any(doc["slot"] == key and ident != alert.alert_id for ident, doc in self.documents.items()):
            if alert.unit_id is not None and alert.place is not None and key.startswith(HELD):
                raise PlaceTaken(alert.unit_id, alert.place)
            raise VersionConflict(alert.alert_id)

    async def add(self, alert: Alert, events: Events) -> Stored[Alert]:
        if alert.alert_id in self.documents:
            raise VersionConflict(alert.alert_id)
        self._refuse_a_taken_slot(alert)
        return await super().add(alert, events)

    async def save(self, stored: Stored[Alert], events: Events) -> Stored[Alert]:
        self._refuse_a_taken_slot(stored.aggregate)
        return await super().save(stored, events)

    async def insert_new(self, alert: Alert) -> None:
        await self.add(alert, [])

    async def give_places(self) -> int:
        return 0

    async def key_waiting(self) -> int:
        return 0

    async def oldest_waiting(self) -> datetime | None:
        keys = [doc["waiting_key"] for doc in self.documents.values() if "waiting_key" in doc]
        return min(map(waiting_received_at, keys), default=None)

    def _held(self) -> list[tuple[str, int, dict]]:
        return [(*held_place(doc["slot"]), doc) for doc in self.documents.values() if doc["slot"].startswith(HELD)]

    async def places(self, unit_ids: Iterable[str]) -> dict[str, set[int]]:
        held: dict[str, set[int]] = {unit_id: set() for unit_id in unit_ids}
        for unit_id, place, _ in self._held():
            if unit_id in held:
                held[unit_id].add(place)
        return held

    async def held_by(self, unit_id: str) -> list[HeldPlace]:
        return [HeldPlace(u, place, doc["_id"], doc["state"]) for u, place, doc in self._held() if u == unit_id]

    async def held_unacknowledged_by(self, unit_id: str) -> list[str]:
        return [h.alert_id for h in await self.held_by(unit_id) if h.state == "assigned"]

    async def due_for_ack(self, now: datetime, limit: int = 200) -> list[str]:
        due = [ident for ident, doc in self.documents.items()
               if doc.get("ack_due_ms") is not None and doc["ack_due_ms"] <= epoch_ms(now)]
        return due[:limit]

    async def waiting(
        self, *, after: str = "", limit: int, reach: str = REACHABLE, fields: dict | None = None
    ) -> list[dict]:
        found = sorted(
            (doc for doc in self.documents.values()
             if doc.get("waiting_key", "").startswith(reach) and doc["waiting_key"] > reach + after),
            key=lambda doc: doc["waiting_key"],
        )
        return copy.deepcopy(found[: max(limit, 0)])

    async def queue(self, *, after: str = "", limit: int) -> list[Alert]:
        docs = [*await self.waiting(after=after, limit=limit), *await self.waiting(
            after=after, limit=limit, reach=BEYOND_REACH)]
        docs.sort(key=lambda d: d["waiting_key"][1:])
        return [alert_from(d) for d in docs[:limit]]

    async def find(self, *, state: str | None, unit_id: str | None, limit: int, since: datetime | None = None,
                   before: tuple[datetime, str] | None = None) -> list[Alert]:
        found = [a for a in self.aggregates()
                 if (state is None or a.state == state) and (unit_id is None or a.unit_id == unit_id)
                 and (since is None or a.received_at >= since)
                 and (before is None or (a.received_at, a.alert_id) < before)]
        return sorted(found, key=lambda a: (a.received_at, a.alert_id), reverse=True)[:limit]

    async def received_between(self, start: datetime, end: datetime) -> list[Alert]:
        return [a for a in self.aggregates() if start <= a.received_at < end]
