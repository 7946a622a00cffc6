"""Live changes: one set of NATS subscriptions per console process, fanned out to every open browser.

Each event is read, masked and serialised once (`frame`), whatever the number of browsers; each
browser's server-sent-event stream gets the same bytes put on its queue (a browser too slow to take
them is disconnected, and its page reconnects and reloads what it shows from the APIs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from common.http import masked

log = structlog.get_logger(__name__)

#: the subject families the console shows live, and so subscribes to (one subscription each, per process)
FAMILIES = ("alerts", "units", "grid", "disputes", "callbacks", "ratings")
#: what a browser's stream may hold before it is dropped as too slow
QUEUE_LIMIT = 1000
#: the most frames one write to a browser carries
BATCH = 256
#: a comment line this often keeps proxies from closing an idle stream
HEARTBEAT_S = 15.0

EVENTS = Counter("fengqiao_console_events_total", "Events the console passed on to browsers, by family.", ["family"])
STREAMS = Gauge("fengqiao_console_streams", "Browsers' event streams open on this console process.")
DROPPED = Counter("fengqiao_console_streams_dropped_total", "Event streams dropped because a browser was too slow.")

#: the fields of an event a browser may be told (masked; the rest is read from the APIs with the user's token)
_SHOWN = ("alert_id", "unit_id", "reason", "distance_m", "attempt", "ack_due_at", "category", "priority", "location",
          "summary", "received_at", "at", "why", "disposition", "status", "dispute_id", "level", "state",
          "callback_id", "case_id", "officer_id", "grid_version", "rating_id")


def frame(subject: str, payload: dict[str, Any]) -> tuple[str, bytes]:
    """The server-sent event of one NATS event: its family (the SSE event name) and the bytes every browser gets."""
    family = subject.split(".", 1)[0]
    shown = {k: payload[k] for k in _SHOWN if k in payload}
    shown = masked(shown)  # a phone written into a summary is masked for everyone: lists are masked too
    shown["subject"] = subject
    data = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
    return family, f"event: {family}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class Listener:
    families: frozenset[str]
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    dropped: bool = False


class Hub:
    def __init__(self) -> None:
        self.listeners: set[Listener] = set()
        self.events = 0
        self._subscriptions: list[Any] = []

    async def start(self, nc: Any) -> None:
        for family in FAMILIES:
            self._subscriptions.append(await nc.subscribe(f"{family}.>", cb=self._on_message))

    async def stop(self) -> None:
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        for listener in list(self.listeners):
            self._drop(listener)

    async def _on_message(self, msg: Any) -> None:
        try:
            payload = json.loads(msg.data)
        except ValueError:
            return  # not an event of the contract; the owner's consumer dead-letters it
        if isinstance(payload, dict):
            self.publish(*frame(msg.subject, payload))

    def publish(self, family: str, data: bytes) -> None:
        self.events += 1
        EVENTS.labels(family).inc()
        for listener in list(self.listeners):
            if family not in listener.families:
                continue
            try:
                listener.queue.put_nowait(data)
            except asyncio.QueueFull:
                log.warning("console.browser_too_slow", queued=QUEUE_LIMIT)
                DROPPED.inc()
                self._drop(listener)

    def _drop(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        listener.dropped = True
        with contextlib.suppress(asyncio.QueueFull):
            listener.queue.put_nowait(None)

    async def stream(self, families: frozenset[str]) -> AsyncIterator[bytes]:
        """One browser's server-sent events until it goes away (or is dropped as too slow)."""
        listener = Listener(families)
        self.listeners.add(listener)
        STREAMS.inc()
        try:
            yield b"retry: 1000\n: connected\n\n"
            while True:
                try:
                    data = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if data is None or listener.dropped:
                    return  # the page reconnects and reads what it shows again: stale frames are not worth sending
                batch = [data]
                while not listener.queue.empty() and len(batch) < BATCH:  # a burst goes out as one write
                    more = listener.queue.get_nowait()
                    if more is None:
                        return
                    batch.append(more)
                yield b"".join(batch)
        finally:
            self.listeners.discard(listener)
            STREAMS.dec()
