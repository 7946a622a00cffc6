"""The transactional outbox inside the aggregate's own document (single-document atomicity only).

A save writes the aggregate whole, version-checked, with the events it caused staged in
`doc["outbox"]` in the same write; then they are published with their msg ids and unstaged.

Two rules keep every staged event until the broker has acknowledged it, whatever happens between:
- a save carries over what it loaded still staged: only an unstage after a publish removes an entry;
- entries are keyed by the version that staged them (then their place in that save), so an
  aggregate's events go out in the order they happened, and a publish stops at the first failure
  rather than send a later event before an earlier one.
A crash or a broker outage leaves entries staged; the next load of the aggregate or the relay
publishes them. JetStream drops a duplicate by msg id, so publishing twice is harmless.

The outbox carries local side effects too (`Effect`: rating's roll-up increments), staged in the same
write as the change that causes them and applied after it, in order with the events, by the handler
the unit of work names (`WithEffects`); a handler applies a msg id at most once, as JetStream publishes
one, so a crash or a store outage between the save and the effect leaves it staged, never lost or doubled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from common import metrics, tracing
from common.contracts.base import Event
from common.errors import dependency_down

log = structlog.get_logger(__name__)

#: the subjects of local side effects begin so: they are applied by the service, never published
LOCAL = "local:"


@dataclass(frozen=True, slots=True)
class Effect:
    """A local side effect staged with the save that causes it; `data` is JSON for its handler."""

    name: str
    data: str

    @property
    def subject(self) -> str:
        return LOCAL + self.name

    def model_dump_json(self) -> str:
        return self.data


#: (event or effect, msg_id) pairs a use case wants published or applied with its save
Events = Sequence[tuple[Event | Effect, str]]

#: applies one staged effect, given its msg id and data; at most once per msg id, whatever the calls
EffectHandler = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One staged event, as kept in the document."""

    key: str
    msg_id: str
    subject: str
    data: str
    #: the trace context of the use case that staged it (W3C `traceparent`), empty if none
    traceparent: str = ""

    def document(self) -> dict[str, str]:
        doc = {"msg_id": self.msg_id, "subject": self.subject, "data": self.data}
        return {**doc, "traceparent": self.traceparent} if self.traceparent else doc

    def headers(self) -> dict[str, str] | None:
        return {"traceparent": self.traceparent} if self.traceparent else None


def entry_key(version: int, index: int) -> str:
    """Sorts as the events happened: by the version whose save staged them, then their place in it."""
    return f"{version:012d}-{index:04d}"


def new_entries(events: Events, version: int) -> dict[str, dict[str, str]]:
    """The outbox entries of the events caused by the save that makes `version`."""
    traceparent = tracing.current_headers().get("traceparent")
    return {
        entry_key(version, i): {
            "msg_id": msg_id, "subject": event.subject, "data": event.model_dump_json(),
            **({"traceparent": traceparent} if traceparent else {}),
        }
        for i, (event, msg_id) in enumerate(events)
    }


def staged(outbox: Mapping[str, Mapping[str, str]] | None) -> list[Entry]:
    """The entries of a stored outbox, oldest first."""
    return [
        Entry(key, v["msg_id"], v["subject"], v["data"], v.get("traceparent", ""))
        for key, v in sorted((outbox or {}).items())
    ]


class RawPublisher(Protocol):
    async def publish_raw(
        self, subject: str, data: bytes, msg_id: str, headers: dict[str, str] | None = None, *, patient: bool = True
    ) -> object: ...


class WithEffects:
    """A publisher that applies the local effects of an outbox by their handlers and hands the rest on."""

    def __init__(self, publisher: RawPublisher, handlers: Mapping[str, EffectHandler]) -> None:
        self._publisher = publisher
        self._handlers = dict(handlers)

    async def publish_raw(
        self, subject: str, data: bytes, msg_id: str, headers: dict[str, str] | None = None, *, patient: bool = True
    ) -> object:
        if not subject.startswith(LOCAL):
            return await self._publisher.publish_raw(subject, data, msg_id, headers, patient=patient)
        handler = self._handlers.get(subject.removeprefix(LOCAL))
        if handler is None:
            raise LookupError(f"no handler for the staged effect {subject!r}")
        await handler(msg_id, data.decode())
        return None


async def publish_in_order(
    publisher: RawPublisher, entries: Iterable[Entry], *, patient: bool, where: str
) -> list[str]:
    """Publish entries oldest first; stop at the first the broker did not take. Returns the keys published.

    A dependency failure is logged once and ends the run (the rest stays staged for later);
    any other failure is raised.
    """
    done: list[str] = []
    for entry in entries:
        try:
            await publisher.publish_raw(
                entry.subject, entry.data.encode(), entry.msg_id, headers=entry.headers(), patient=patient
            )
        except Exception as exc:
            if not dependency_down(exc):
                raise
            log.warning("outbox.deferred", where=where, msg_id=entry.msg_id, error=repr(exc))
            break
        done.append(entry.key)
    if done:
        metrics.OUTBOX_PUBLISHED.labels(where).inc(len(done))
    return done
