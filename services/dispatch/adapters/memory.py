"""dispatch's stores in memory, with the same rules and queries as the Mongo ones: for use-case tests in milliseconds.

The unique `slot` index is checked here too, so a place is held by one alert at most and a
write into a taken place is refused with PlaceTaken, as the store refuses it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import datetime

from common.outbox import Events
from common.repository import InMemoryRepository, Stored, VersionConflict
from common.timefmt import epoch_ms
from dispatch.adapters.store import (
    BEYOND_REACH,
    GRID_ID,
    HELD,
    REACHABLE,
    AlertCodec,
    GridCodec,
    HeldPlace,
    PlaceTaken,
    UnitCodec,
    alert_from,
    held_place,
)
from dispatch.domain.alerts import Alert
from dispatch.domain.units import GridRecord, Unit, UnitState


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

    async def find(self, *, state: str | None, unit_id: str | None, limit: int) -> list[Alert]:
        found = [a for a in self.aggregates()
                 if (state is None or a.state == state) and (unit_id is None or a.unit_id == unit_id)]
        return sorted(found, key=lambda a: a.received_at, reverse=True)[:limit]

    async def received_between(self, start: datetime, end: datetime) -> list[Alert]:
        return [a for a in self.aggregates() if start <= a.received_at < end]
