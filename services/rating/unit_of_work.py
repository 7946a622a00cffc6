"""The kernel's unit of work, plus the roll-up increments each save stages: applied after it, at most once.

`common.unit_of_work.UnitOfWork` saves a record with its events and publishes them; the record's
codec (`adapters.store.RecordCodec`) also stages the weekly roll-up increments of those events in the
same single-document write. This subclass applies them to the roll-up cells after the save (after a
load too: what a crash left staged) and unstages them; the cells' marks make a second application a
no-op. With the store away the entries stay staged for `relay_rollups`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from common.errors import dependency_down
from common.outbox import RawPublisher
from common.repository import RELAY_GRACE, A, Stored
from common.unit_of_work import PublicEvents, UnitOfWork
from rating.adapters.store import Records, Rollups, decode, forget_staged, mark, wall_ms

log = structlog.get_logger(__name__)


class RecordUnitOfWork(UnitOfWork[A]):
    def __init__(
        self,
        repository: Records[A],
        publisher: RawPublisher,
        public_events: PublicEvents[A],
        rollups: Rollups,
        *,
        kind: str,
        refusal: type[Exception] | tuple[type[Exception], ...] = (),
    ) -> None:
        super().__init__(repository, publisher, public_events, kind=kind, refusal=refusal)
        self.records = repository
        self._rollups = rollups

    async def load(self, ident: str) -> Stored[A]:
        stored = await super().load(ident)
        staged = stored.loaded.get("rollup") or {}
        if staged and await self.settle(ident, stored.aggregate.version, staged):
            forget_staged(stored.aggregate, list(staged))
            stored.loaded["rollup"], stored.loaded["rollup_ms"] = {}, None
        return stored

    async def add(self, aggregate: A) -> bool:
        staged = self.repository.codec.to_document(aggregate)["rollup"]
        if not await super().add(aggregate):
            return False
        await self.settle(self.repository.codec.ident(aggregate), 1, staged)
        return True

    async def commit(self, stored: Stored[A], extra: Any = ()) -> Stored[A]:
        saved = await super().commit(stored, extra)
        staged = saved.loaded.get("rollup") or {}
        if staged:
            await self.settle(self.repository.codec.ident(saved.aggregate), saved.aggregate.version, staged)
        return saved

    async def settle(self, ident: str, version: int, staged: dict[str, list[dict[str, Any]]]) -> bool:
        """Apply the staged entries to their cells, oldest first, then unstage them; False if the store is away."""
        try:
            for key in sorted(staged):
                await self._rollups.apply(mark(self.records.name, ident, key), decode(staged[key]), wall_ms())
            await self.records.unstage_rollups(ident, list(staged), version)
        except Exception as exc:
            if not dependency_down(exc):
                raise
            log.warning("rollup.deferred", where=self.records.name, ident=ident, error=repr(exc))
            return False
        return True

    async def relay_rollups(self, limit: int = 100, now: datetime | None = None) -> int:
        """Apply what saves left staged more than a few seconds ago (a crash, a store outage)."""
        applied = 0
        for left in await self.records.rollup_leftovers((now or datetime.now(UTC)) - RELAY_GRACE, limit):
            if not await self.settle(left.ident, left.version, left.rollup):
                break
            applied += len(left.rollup)
        if applied:
            log.info("rollup.relayed", where=self.records.name, entries=applied)
        return applied
