"""One use case on one aggregate: load it, act, save it whole with its events, publish them.

    uow = UnitOfWork(repository, publisher, public_events, kind="dispute")
    dispute = await uow.act(dispute_id, lambda d: d.contact(now=now, actor=actor))

- `load` publishes what an earlier save left staged (a crash, a broker outage) before anything
  else happens to the aggregate, so its events keep their order.
- `act` applies a command and saves the aggregate only if the command changed it; the save is
  version-checked and carries the events (`public_events(aggregate)`, public contracts with
  deterministic msg ids) in the same single-document write. On a version conflict it loads again
  and decides again; after `attempts` it gives up with `Conflict`.
- A command's domain refusal (a `common.domain.Refusal`, or `refusal`) becomes `Refused` with its
  reason; a missing aggregate `NotFound`. Entrypoints translate those once (HTTP status, dead letter).
- `public_events` may stage local effects (`common.outbox.Effect`) beside the events: `effects`
  names each one's handler, which applies it after the save, in order with the events.
- Publishing after the save is impatient: with the broker away the command still succeeds and
  the events wait in the outbox for the next load or the relay (`relay`, run periodically).

A UnitOfWork holds no state between calls but what `defer` holds for `publish_deferred`: one
instance serves every concurrent message.

The one named exception to the outbox is `insert` + `tell`: a new aggregate that a consumed
message creates, stored without its events staged and told at once. The message is acknowledged
only after the telling, so its redelivery is that aggregate's outbox (dispatch's received alert:
one write on the hottest path instead of a save and an unstage). Local effects may still be staged
with the insert (`insert(aggregate, effects)`), and handed to `defer`: a periodic job's
`publish_deferred` publishes what many inserts deferred at once (their handlers' writes grouped: one
update per roll-up document per run rather than one per aggregate); a load on the way, or the relay
after a crash, publishes them sooner or later. What waits on the telling is the one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic

import structlog

from common import tracing
from common.domain import Refusal
from common.errors import Conflict, NotFound, Refused
from common.failures import dependency_down
from common.outbox import EffectHandler, Events, RawPublisher, WithEffects, publish_in_order, staged
from common.repository import RELAY_GRACE, A, Repository, Stored, VersionConflict, own_fields

log = structlog.get_logger(__name__)

#: an aggregate's domain events since it was loaded, as public contracts with their msg ids
PublicEvents = Callable[[A], Events]

#: a command: acts on the aggregate (recording events), or raises the domain's refusal
Command = Callable[[A], Any]


def _clear_events(aggregate: Any) -> None:
    events = getattr(aggregate, "events", None)
    if isinstance(events, list):
        events.clear()  # published through the outbox now: a later save must not stage them again


class UnitOfWork(Generic[A]):
    def __init__(
        self,
        repository: Repository[A],
        publisher: RawPublisher,
        public_events: PublicEvents[A],
        *,
        kind: str,
        refusal: type[Exception] | tuple[type[Exception], ...] = Refusal,
        attempts: int = 3,
        effects: Mapping[str, EffectHandler] | None = None,
    ) -> None:
        self.repository = repository
        #: local effects staged in the outbox go to their handlers, the events to the broker
        self._publisher = WithEffects(publisher, effects or {})
        self._public_events = public_events
        self._kind = kind
        self._refusal = refusal
        self._attempts = attempts
        #: saved aggregates whose staged effects wait for `publish_deferred` (the one state it holds)
        self._deferred: list[tuple[str, Stored[A]]] = []

    # --- reading ---

    async def load(self, ident: str) -> Stored[A]:
        """The aggregate as stored, after publishing what earlier saves left staged; NotFound if none."""
        stored = await self.repository.get(ident)
        if stored is None:
            raise NotFound(self._kind, ident)
        if stored.outbox:
            await self.publish(ident, stored)
        return stored

    async def get(self, ident: str) -> A:
        return (await self.load(ident)).aggregate

    # --- writing ---

    async def add(self, aggregate: A) -> bool:
        """Store a new aggregate and publish its events; False (nothing done) if one with its id is stored."""
        try:
            stored = await self.repository.add(aggregate, self._public_events(aggregate))
        except VersionConflict:
            return False
        _clear_events(aggregate)
        await self.publish(self.repository.codec.ident(aggregate), stored)
        return True

    async def insert(self, aggregate: A, effects: Events = ()) -> Stored[A]:
        """Store a new aggregate WITHOUT staging its events (the named exception, see the module's doc).

        The caller `tell`s them once stored; a crash in between redelivers the message that created
        it, and the caller tells the stored state again with the same msg ids. Local `effects` are
        staged with it, for the caller to `publish` once told (or the next load, or the relay).
        VersionConflict if one with its id is stored already; any refusal of the store's own to the caller.
        """
        return await self.repository.add(aggregate, effects)

    async def tell(self, aggregate: A) -> None:
        """Publish what the aggregate recorded, now and unstaged (after `insert`); a failure to the caller."""
        for event, msg_id in self._public_events(aggregate):
            await self._publisher.publish_raw(event.subject, event.model_dump_json().encode(), msg_id)
        _clear_events(aggregate)

    async def commit(self, stored: Stored[A], extra: Sequence[tuple[Any, str]] = ()) -> Stored[A]:
        """Save a loaded aggregate with its events (and `extra` ones), then publish; VersionConflict to the caller."""
        events = [*self._public_events(stored.aggregate), *extra]
        with tracing.span(f"{self._kind} save", **{"db.collection.name": self.repository.name}):
            saved = await self.repository.save(stored, events)
        _clear_events(stored.aggregate)
        await self.publish(self.repository.codec.ident(stored.aggregate), saved)
        return saved

    def changed(self, stored: Stored[A]) -> bool:
        return own_fields(self.repository.codec, stored.aggregate) != stored.loaded

    async def act(self, ident: str, command: Command[A], *, resume: Callable[[A], str] | None = None) -> A:
        """Apply `command` to the stored aggregate and save it; decide again if someone saved it meanwhile.

        `resume` (for a timer, which has no trace of its own) names the trace context the aggregate
        keeps: outside a trace, the use case continues that trace (`tracing.resumed`)."""
        if resume is not None and not tracing.in_trace():
            first = await self.load(ident)
            with tracing.resumed(resume(first.aggregate), f"{self._kind} use case", **{"fengqiao.id": ident}):
                return await self._act(ident, command, first)
        with tracing.span(f"{self._kind} use case", **{"fengqiao.id": ident}):
            return await self._act(ident, command)

    async def _act(self, ident: str, command: Command[A], first: Stored[A] | None = None) -> A:
        for _ in range(self._attempts):
            stored, first = first or await self.load(ident), None
            try:
                command(stored.aggregate)
            except self._refusal as exc:
                raise Refused(getattr(exc, "reason", str(exc))) from exc
            if not self.changed(stored):
                return stored.aggregate  # nothing happened: nothing to save
            try:
                await self.commit(stored)
            except VersionConflict:
                continue
            return stored.aggregate
        raise Conflict(f"{self._kind} {ident} is being changed by someone else: try again")

    # --- publishing ---

    async def publish(self, ident: str, stored: Stored[A]) -> None:
        """Publish what `stored` holds staged, oldest first, and unstage what the broker took."""
        entries = staged(stored.outbox)
        done = await publish_in_order(self._publisher, entries, patient=False, where=self.repository.name)
        if done:
            await self.repository.unstage(ident, done, stored.aggregate.version, all_of_them=len(done) == len(entries))
            for key in done:
                stored.outbox.pop(key, None)

    def defer(self, ident: str, stored: Stored[A]) -> None:
        """Leave what `stored` holds staged (an insert's local effects) for `publish_deferred`."""
        self._deferred.append((ident, stored))

    async def publish_deferred(self) -> int:
        """Publish what was deferred since the last call, all at once: their handlers' writes meet in the
        group commits (one update per roll-up document for the lot, one bulk of unstagings). Held in this
        process only: a crash loses the hold, not the effects, which stay staged for the next load or the
        relay. What a store away refused (the effect's or the unstaging) stays staged too, and a handler
        applies a msg id once; a mistake is raised. Returns how many were held."""
        taken, self._deferred = self._deferred, []
        results = await asyncio.gather(*(self.publish(ident, stored) for ident, stored in taken),
                                       return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            if not (isinstance(error, Exception) and dependency_down(error)):
                raise error  # a mistake, not the store away: the caller's (the periodic job logs it)
        if failed:
            log.warning("outbox.deferred_left", where=self.repository.name, left=len(failed), error=repr(failed[0]))
        return len(taken)

    async def relay(self, limit: int = 100, now: datetime | None = None) -> int:
        """Publish what saves left staged more than a few seconds ago (a crash, a broker outage)."""
        published = 0
        for left in await self.repository.leftovers((now or datetime.now(UTC)) - RELAY_GRACE, limit):
            entries = staged(left.outbox)
            done = await publish_in_order(self._publisher, entries, patient=False, where=self.repository.name)
            if len(done) < len(entries):
                if done:
                    await self.repository.unstage(left.ident, done, left.version, all_of_them=False)
                break  # the broker is away: the next run tries again
            await self.repository.unstage(left.ident, done, left.version, all_of_them=True)
            published += len(done)
        if published:
            log.info("outbox.relayed", where=self.repository.name, events=published)
        return published
