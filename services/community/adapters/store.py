"""Where community keeps its visits, hazards, key persons, month sheets and grid copy: MongoDB, or memory in tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.repository import OUTBOX_INDEX, InMemoryRepository, MongoRepository, Repository
from common.timefmt import epoch_ms
from community.domain.grid import Grid
from community.domain.hazards import Hazard
from community.domain.keypersons import KeyPerson
from community.domain.scorecard import MonthSheet
from community.domain.visits import Visit

INDEXES = {  # one field each: the embedded store answers an equality from a single-field index, scans compounds
    "visits": [IndexModel([("officer_month", ASCENDING)]), IndexModel([("officer_id", ASCENDING)]),
               IndexModel([("month", ASCENDING)]), IndexModel([("visited_at", ASCENDING)]), OUTBOX_INDEX],
    "hazards": [IndexModel([("next_due_ms", ASCENDING)]), IndexModel([("month", ASCENDING)]),
                IndexModel([("state", ASCENDING)]), IndexModel([("overdue", ASCENDING)]),
                IndexModel([("reported_at", ASCENDING)]), OUTBOX_INDEX],
    "keypersons": [IndexModel([("next_due_ms", ASCENDING)]), IndexModel([("officer_id", ASCENDING)]),
                   IndexModel([("overdue", ASCENDING)]), OUTBOX_INDEX],
    "sheets": [IndexModel([("month", ASCENDING)]), OUTBOX_INDEX],
    "sheet_totals": [IndexModel([("month", ASCENDING)])],
}
#: the local effect a sheet's save stages: its counters copied to the small document the scorecard reads
TOTALS = "community.sheet_totals"


def _officer_month(officer_id: str, month: str) -> str:
    return f"{officer_id}/{month}"


class _Codec:
    """Plain `to_dict`/`from_dict` aggregates, with the fields community's queries need."""

    def __init__(self, cls: Any, ident: str, extra: Any = None) -> None:
        self._cls, self._ident, self._extra = cls, ident, extra

    def ident(self, aggregate: Any) -> str:
        return getattr(aggregate, self._ident)

    def to_document(self, aggregate: Any) -> dict[str, Any]:
        return {**aggregate.to_dict(), **(self._extra(aggregate) if self._extra else {})}

    def from_document(self, doc: Mapping[str, Any]) -> Any:
        return self._cls.from_dict(doc)


def visit_codec(zone_month: Any) -> _Codec:
    def fields(v: Visit) -> dict[str, str]:
        month = zone_month(v.visited_at)
        return {"month": month, "officer_month": _officer_month(v.officer_id, month)}

    return _Codec(Visit, "visit_id", fields)


def hazard_codec(zone_month: Any) -> _Codec:
    return _Codec(Hazard, "hazard_id", lambda h: {"month": zone_month(h.reported_at),
                                                   "next_due_ms": epoch_ms(h.next_due_at)})


KEYPERSON_CODEC = _Codec(KeyPerson, "person_id", lambda p: {"next_due_ms": epoch_ms(p.next_due_at)})
SHEET_CODEC = _Codec(MonthSheet, "sheet_id")


# --- the ports ---------------------------------------------------------------------------------


class Visits(Repository[Visit], Protocol):
    async def count_for(self, officer_id: str, month: str) -> int: ...

    async def find(self, *, officer_id: str | None, month: str | None, limit: int, offset: int) -> list[Visit]:
        """Newest visits first; officer and month together go through their index."""


class Hazards(Repository[Hazard], Protocol):
    async def due(self, now: datetime, limit: int = 200) -> list[str]: ...

    async def find(self, *, state: str | None, month: str | None, overdue: bool | None, limit: int, offset: int
                   ) -> list[Hazard]:
        """Newest reports first."""

    async def reported_in(self, month: str) -> list[dict[str, Any]]:
        """The month's hazards: responsible_unit, unit_id, state, overdue, severity of each (for the counts)."""


class KeyPersons(Repository[KeyPerson], Protocol):
    async def due(self, now: datetime, limit: int = 200) -> list[str]: ...

    async def find(self, *, officer_id: str | None, overdue: bool | None, limit: int, offset: int) -> list[KeyPerson]:
        ...


class Sheets(Repository[MonthSheet], Protocol):
    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        """officer_id -> counters of every sheet of the month, through the month index (without the fact keys)."""


class SheetTotals(Protocol):
    """Each sheet's counters without its fact keys, kept by the sheet's saves (a local effect of each)."""

    async def put(self, officer_id: str, month: str, counts: Mapping[str, int], version: int) -> None:
        """Keep the counters of the sheet's `version`, unless a later version's are kept."""

    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        """officer_id -> counters of the month, through the month index."""


class GridCopy(Protocol):
    async def current(self) -> Grid | None: ...

    async def offer(self, version: int, geojson: Mapping[str, Any]) -> bool:
        """Keep the grid if it is newer than the one kept; True if kept."""


# --- MongoDB -----------------------------------------------------------------------------------


class MongoVisits(MongoRepository[Visit]):
    def __init__(self, db: AsyncIOMotorDatabase, zone_month: Any) -> None:
        super().__init__(db["visits"], visit_codec(zone_month))

    async def count_for(self, officer_id: str, month: str) -> int:
        return await self.collection.count_documents({"officer_month": _officer_month(officer_id, month)})

    async def find(self, *, officer_id: str | None, month: str | None, limit: int, offset: int) -> list[Visit]:
        if officer_id and month:
            query: dict[str, Any] = {"officer_month": _officer_month(officer_id, month)}
        else:
            query = {k: v for k, v in {"officer_id": officer_id, "month": month}.items() if v}
        cursor = self.collection.find(query).sort("visited_at", DESCENDING).skip(offset).limit(limit)
        return [Visit.from_dict(d) async for d in cursor]


class MongoHazards(MongoRepository[Hazard]):
    def __init__(self, db: AsyncIOMotorDatabase, zone_month: Any) -> None:
        super().__init__(db["hazards"], hazard_codec(zone_month))

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def find(self, *, state: str | None, month: str | None, overdue: bool | None, limit: int, offset: int
                   ) -> list[Hazard]:
        query = {k: v for k, v in {"state": state, "month": month, "overdue": overdue}.items() if v is not None}
        cursor = self.collection.find(query).sort("reported_at", DESCENDING).skip(offset).limit(limit)
        return [Hazard.from_dict(d) async for d in cursor]

    async def reported_in(self, month: str) -> list[dict[str, Any]]:
        fields = {"responsible_unit": 1, "unit_id": 1, "state": 1, "overdue": 1, "severity": 1}
        return [d async for d in self.collection.find({"month": month}, fields)]


class MongoKeyPersons(MongoRepository[KeyPerson]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["keypersons"], KEYPERSON_CODEC)

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_due_ms": {"$lte": epoch_ms(now)}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def find(self, *, officer_id: str | None, overdue: bool | None, limit: int, offset: int) -> list[KeyPerson]:
        query = {k: v for k, v in {"officer_id": officer_id, "overdue": overdue}.items() if v is not None}
        cursor = self.collection.find(query).sort("_id", ASCENDING).skip(offset).limit(limit)
        return [KeyPerson.from_dict(d) async for d in cursor]


class MongoSheets(MongoRepository[MonthSheet]):
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        super().__init__(db["sheets"], SHEET_CODEC)

    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        cursor = self.collection.find({"month": month}, {"officer_id": 1, "counts": 1})
        return {d["officer_id"]: dict(d["counts"]) async for d in cursor}


class MongoSheetTotals:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._totals = db["sheet_totals"]

    async def put(self, officer_id: str, month: str, counts: Mapping[str, int], version: int) -> None:
        doc = {"_id": MonthSheet.ident(officer_id, month), "officer_id": officer_id, "month": month,
               "counts": dict(counts), "version": version}
        try:
            await self._totals.insert_one(doc)
        except DuplicateKeyError:
            await self._totals.replace_one({"_id": doc["_id"], "version": {"$lt": version}}, doc)

    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        cursor = self._totals.find({"month": month}, {"officer_id": 1, "counts": 1})
        return {d["officer_id"]: dict(d["counts"]) async for d in cursor}


class MongoGridCopy:
    """One document: the newest grid dispatch published (its version and FeatureCollection)."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._grid = db["grid"]
        self._cached: Grid | None = None

    async def current(self) -> Grid | None:
        doc = await self._grid.find_one({"_id": "grid"}, {"version": 1})
        if doc is None:
            return None
        if self._cached is None or self._cached.version != doc["version"]:
            whole = await self._grid.find_one({"_id": "grid"})
            if whole is None:
                return None
            self._cached = Grid.from_geojson(whole["version"], whole["geojson"])
        return self._cached

    async def offer(self, version: int, geojson: Mapping[str, Any]) -> bool:
        doc = {"_id": "grid", "version": version, "geojson": dict(geojson)}
        try:
            await self._grid.insert_one(doc)
            return True
        except DuplicateKeyError:
            replaced = await self._grid.replace_one({"_id": "grid", "version": {"$lt": version}}, doc)
            return replaced.matched_count == 1


# --- memory ------------------------------------------------------------------------------------


class InMemoryVisits(InMemoryRepository[Visit]):
    def __init__(self, zone_month: Any) -> None:
        super().__init__(visit_codec(zone_month), "visits")
        self._month = zone_month

    async def count_for(self, officer_id: str, month: str) -> int:
        return sum(1 for v in self.aggregates() if v.officer_id == officer_id and self._month(v.visited_at) == month)

    async def find(self, *, officer_id: str | None, month: str | None, limit: int, offset: int) -> list[Visit]:
        found = [v for v in self.aggregates() if (not officer_id or v.officer_id == officer_id)
                 and (not month or self._month(v.visited_at) == month)]
        found.sort(key=lambda v: v.visited_at, reverse=True)
        return found[offset:offset + limit]


class InMemoryHazards(InMemoryRepository[Hazard]):
    def __init__(self, zone_month: Any) -> None:
        super().__init__(hazard_codec(zone_month), "hazards")
        self._month = zone_month

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        return [h.hazard_id for h in self.aggregates() if h.next_due_at is not None and h.next_due_at <= now][:limit]

    async def find(self, *, state: str | None, month: str | None, overdue: bool | None, limit: int, offset: int
                   ) -> list[Hazard]:
        found = [h for h in self.aggregates() if (not state or h.state == state)
                 and (not month or self._month(h.reported_at) == month) and (overdue is None or h.overdue == overdue)]
        found.sort(key=lambda h: h.reported_at, reverse=True)
        return found[offset:offset + limit]

    async def reported_in(self, month: str) -> list[dict[str, Any]]:
        return [{"responsible_unit": h.responsible_unit, "unit_id": h.unit_id, "state": h.state, "overdue": h.overdue,
                 "severity": h.severity} for h in self.aggregates() if self._month(h.reported_at) == month]


class InMemoryKeyPersons(InMemoryRepository[KeyPerson]):
    def __init__(self) -> None:
        super().__init__(KEYPERSON_CODEC, "keypersons")

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        return [p.person_id for p in self.aggregates() if p.next_due_at is not None and p.next_due_at <= now][:limit]

    async def find(self, *, officer_id: str | None, overdue: bool | None, limit: int, offset: int) -> list[KeyPerson]:
        found = [p for p in self.aggregates() if (officer_id is None or p.officer_id == officer_id)
                 and (overdue is None or p.overdue == overdue)]
        found.sort(key=lambda p: p.person_id)
        return found[offset:offset + limit]


class InMemorySheets(InMemoryRepository[MonthSheet]):
    def __init__(self) -> None:
        super().__init__(SHEET_CODEC, "sheets")

    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        return {s.officer_id: dict(s.counts) for s in self.aggregates() if s.month == month}


class InMemorySheetTotals:
    def __init__(self) -> None:
        self.kept: dict[str, tuple[int, str, str, dict[str, int]]] = {}

    async def put(self, officer_id: str, month: str, counts: Mapping[str, int], version: int) -> None:
        ident = MonthSheet.ident(officer_id, month)
        if ident not in self.kept or self.kept[ident][0] < version:
            self.kept[ident] = (version, officer_id, month, dict(counts))

    async def of_month(self, month: str) -> dict[str, dict[str, int]]:
        return {officer: dict(counts) for _, officer, m, counts in self.kept.values() if m == month}


class InMemoryGridCopy:
    def __init__(self) -> None:
        self.kept: tuple[int, dict[str, Any]] | None = None

    async def current(self) -> Grid | None:
        return None if self.kept is None else Grid.from_geojson(*self.kept)

    async def offer(self, version: int, geojson: Mapping[str, Any]) -> bool:
        if self.kept is not None and self.kept[0] >= version:
            return False
        self.kept = (version, copy.deepcopy(dict(geojson)))
        return True
