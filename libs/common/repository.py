"""Aggregates stored whole, one document each, with a version check and the events they caused.

`Repository` is the port; `MongoRepository` keeps the documents in MongoDB (or the embedded
store), `InMemoryRepository` in a dict for the use-case tests. Both run the same rules, and the
same test class runs against both (tests/integration/test_repository.py).

A service gives a `Codec` — how its aggregate becomes a document and back, plus any fields its
queries need (deadlines as epoch ms, keys of an index) — and adds its queries in a subclass.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from motor.motor_asyncio import AsyncIOMotorCollection
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from common.mongo import refused_by_id
from common.outbox import Events, new_entries
from common.store_tuning import ReadGroup, Write, WriteGroup
from common.timefmt import epoch_ms


class VersionConflict(Exception):
    """Someone else saved the aggregate since we read it (or stored one with its id): read again, decide again."""


class Aggregate(Protocol):
    #: owned by the repository: how many times the aggregate was saved; rules never touch it
    version: int


A = TypeVar("A", bound=Aggregate)

#: fields the repository keeps in every document beside the aggregate's own
BOOKKEEPING = ("_id", "version", "outbox", "outbox_ms")

#: every collection of aggregates has this index: the relay finds what a crash left staged
OUTBOX_INDEX = IndexModel([("outbox_ms", ASCENDING)])


class Codec(Protocol[A]):
    def ident(self, aggregate: A) -> str: ...

    def to_document(self, aggregate: A) -> dict[str, Any]:
        """The aggregate as plain data, with any field a query needs; without the bookkeeping fields."""

    def from_document(self, doc: Mapping[str, Any]) -> A: ...


@dataclass
class Stored(Generic[A]):
    """An aggregate as loaded: what to act on, and what its document held (to save it back right)."""

    aggregate: A
    #: events staged by earlier saves and not yet published: a save carries them over
    outbox: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the aggregate's own fields as loaded, to tell whether a command changed anything
    loaded: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Leftover:
    """A document whose outbox still holds events (for the relay)."""

    ident: str
    version: int
    outbox: dict[str, dict[str, str]]


class Repository(Protocol[A]):
    name: str
    codec: Codec[A]

    async def get(self, ident: str) -> Stored[A] | None: ...

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        """Store a new aggregate (version 1) with its events staged; VersionConflict if its id is taken."""

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        """Replace the whole aggregate if nobody saved it since it was loaded (VersionConflict otherwise),
        with what was staged and the new events in its outbox."""

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        """Remove published entries. `all_of_them`: they were every entry staged at `version`, so if the
        aggregate is still at that version nothing is left and the relay no longer looks at it."""

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        """Documents with events staged since before `older_than`, up to `limit`, through an index."""

    async def outboxes(self, limit: int) -> list[dict[str, dict[str, str]]]:
        """Up to `limit` of the outboxes that hold something now, through the outbox index (in flight or left)."""


def own_fields(codec: Codec[A], aggregate: A) -> dict[str, Any]:
    """The aggregate's document without the repository's bookkeeping."""
    return {k: v for k, v in codec.to_document(aggregate).items() if k not in BOOKKEEPING}


def _document(repo: Repository[A], aggregate: A, version: int, outbox: dict, now: datetime) -> dict[str, Any]:
    own = own_fields(repo.codec, aggregate)
    doc = {"_id": repo.codec.ident(aggregate), **own, "version": version, "outbox": outbox}
    if outbox:
        doc["outbox_ms"] = epoch_ms(now)  # wall time: the relay's own bookkeeping, not a rule
    return doc


def _stored(repo: Repository[A], doc: Mapping[str, Any]) -> Stored[A]:
    own = {k: v for k, v in doc.items() if k not in BOOKKEEPING}
    aggregate = repo.codec.from_document({**own, "version": doc["version"]})
    aggregate.version = doc["version"]
    return Stored(aggregate, dict(doc.get("outbox") or {}), own)


class MongoRepository(Generic[A]):
    """Aggregates in one collection, a document each (`_id` = the aggregate's id)."""

    def __init__(
        self,
        collection: AsyncIOMotorCollection,
        codec: Codec[A],
        *,
        refusal: Callable[[A, DuplicateKeyError], Exception] | None = None,
    ) -> None:
        self.collection = collection
        self.codec = codec
        self.name = collection.name
        #: the writes of concurrent handlers (a fetched batch's) go to the store together
        self._writes = WriteGroup(collection)
        #: and their loads by id, too
        self._reads = ReadGroup(collection)
        #: what a refused write means when another unique index than the id's refused it
        self._refusal = refusal

    def _refused(self, aggregate: A, exc: DuplicateKeyError) -> Exception:
        if refused_by_id(exc) or self._refusal is None:
            return VersionConflict(self.codec.ident(aggregate))
        return self._refusal(aggregate, exc)

    async def get(self, ident: str) -> Stored[A] | None:
        doc = await self._reads.get(ident)
        return _stored(self, doc) if doc is not None else None

    def stored(self, doc: Mapping[str, Any]) -> Stored[A]:
        """The aggregate of a document a query read whole (e.g. a sweep's read-ahead), as `get` gives it."""
        return _stored(self, doc)

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        doc = _document(self, aggregate, 1, new_entries(events, 1), datetime.now(UTC))
        try:
            await self._writes.insert(doc)
        except DuplicateKeyError as exc:
            raise self._refused(aggregate, exc) from exc
        aggregate.version = 1
        return _stored(self, doc)

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        aggregate, expected = stored.aggregate, stored.aggregate.version
        outbox = {**stored.outbox, **new_entries(events, expected + 1)}
        doc = _document(self, aggregate, expected + 1, outbox, datetime.now(UTC))
        try:
            await self._writes.replace(doc, expected)
        except DuplicateKeyError as exc:
            if not refused_by_id(exc) and await self._still_at(doc["_id"], expected):
                raise self._refused(aggregate, exc) from exc  # another unique key of the new state is taken
            # saved by someone else since it was loaded: the upsert's insert was refused (on the id, or on
            # another unique key the store checked first)
            raise VersionConflict(doc["_id"]) from exc
        aggregate.version = expected + 1
        return _stored(self, doc)

    async def _still_at(self, ident: str, version: int) -> bool:
        return await self.collection.find_one({"_id": ident, "version": version}, {"_id": 1}) is not None

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        removed = {f"outbox.{k}": "" for k in keys}
        writes = []
        if all_of_them:
            # nothing is staged without a new version: at `version` the outbox held only what was published
            writes.append(Write("update", {"_id": ident, "version": version},
                                {"$set": {"outbox": {}}, "$unset": {"outbox_ms": ""}}))
        if removed:  # saved again meanwhile, or some are still waiting: remove just these
            query = {"_id": ident, "version": {"$ne": version}} if all_of_them else {"_id": ident}
            writes.append(Write("update", query, {"$unset": removed}))
        await asyncio.gather(*(self._writes.write(w) for w in writes))

    async def outboxes(self, limit: int) -> list[dict[str, dict[str, str]]]:
        found = self.collection.find({"outbox_ms": {"$gte": 0}}, {"outbox": 1}).limit(limit)
        return [d["outbox"] async for d in found]

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        cursor = self.collection.find(
            {"outbox_ms": {"$lte": epoch_ms(older_than)}}, {"version": 1, "outbox": 1}
        ).limit(limit)
        return [Leftover(d["_id"], d["version"], dict(d.get("outbox") or {})) async for d in cursor]


class InMemoryRepository(Generic[A]):
    """The same rules in a dict, for use-case tests on a fake clock; a subclass adds the service's queries."""

    def __init__(self, codec: Codec[A], name: str = "memory") -> None:
        self.codec = codec
        self.name = name
        self.documents: dict[str, dict[str, Any]] = {}

    async def get(self, ident: str) -> Stored[A] | None:
        doc = self.documents.get(ident)
        return _stored(self, copy.deepcopy(doc)) if doc is not None else None

    async def add(self, aggregate: A, events: Events) -> Stored[A]:
        doc = _document(self, aggregate, 1, new_entries(events, 1), datetime.now(UTC))
        if doc["_id"] in self.documents:
            raise VersionConflict(doc["_id"])
        self.documents[doc["_id"]] = copy.deepcopy(doc)
        aggregate.version = 1
        return _stored(self, doc)

    async def save(self, stored: Stored[A], events: Events) -> Stored[A]:
        aggregate, expected = stored.aggregate, stored.aggregate.version
        ident = self.codec.ident(aggregate)
        current = self.documents.get(ident)
        if current is None or current["version"] != expected:
            raise VersionConflict(ident)
        outbox = {**stored.outbox, **new_entries(events, expected + 1)}
        doc = _document(self, aggregate, expected + 1, outbox, datetime.now(UTC))
        self.documents[ident] = copy.deepcopy(doc)
        aggregate.version = expected + 1
        return _stored(self, doc)

    async def unstage(self, ident: str, keys: Iterable[str], version: int, *, all_of_them: bool) -> None:
        doc = self.documents.get(ident)
        if doc is None:
            return
        if all_of_them and doc["version"] == version:
            doc["outbox"] = {}
            doc.pop("outbox_ms", None)
            return
        for key in keys:
            doc["outbox"].pop(key, None)

    async def outboxes(self, limit: int) -> list[dict[str, dict[str, str]]]:
        return [copy.deepcopy(d["outbox"]) for d in self.documents.values() if d.get("outbox")][:limit]

    async def leftovers(self, older_than: datetime, limit: int) -> list[Leftover]:
        cutoff = epoch_ms(older_than)
        found = [d for d in self.documents.values() if d.get("outbox_ms") is not None and d["outbox_ms"] <= cutoff]
        return [Leftover(d["_id"], d["version"], copy.deepcopy(d["outbox"])) for d in found[:limit]]

    def aggregates(self) -> list[A]:
        """Every stored aggregate (for the fakes of a service's queries)."""
        return [_stored(self, copy.deepcopy(d)).aggregate for d in self.documents.values()]

    def staged_now(self, ident: str) -> dict[str, dict[str, str]]:
        return copy.deepcopy(self.documents[ident]["outbox"])


#: how long the relay leaves a freshly staged outbox to the save that staged it
RELAY_GRACE = timedelta(seconds=5)


#: outboxes read at most by a caller that decides by what is staged (see `all_staged`)
STAGED_READ = 1000


async def all_staged(repositories: Iterable[Repository[Any]], limit: int = STAGED_READ) -> list[dict] | None:
    """Every outbox that holds something in these repositories, or None when more than `limit` do: an
    outage left many staged, and a caller deciding by what is staged (which roll-up marks may be
    forgotten) waits until the relay has published them, rather than reading them all every run."""
    found: list[dict] = []
    for repository in repositories:
        found += await repository.outboxes(limit + 1 - len(found))
        if len(found) > limit:
            return None
    return found
