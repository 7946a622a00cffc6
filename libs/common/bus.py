"""NATS JetStream wiring: connection, streams, and publishing with `Nats-Msg-Id`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from common import tracing
from common.contracts.base import Event
from common.contracts.subjects import STREAMS

log = structlog.get_logger(__name__)

#: how long JetStream remembers a Nats-Msg-Id, so a publisher's retry within it is not doubled
DUPLICATE_WINDOW_S = 3600.0


class BrokerUnreachable(ConnectionError):
    """No NATS server answered the first connection; the message says where and why."""


ErrorCallback = Callable[[Exception], Awaitable[None]]

#: a connection that dropped logs its failed reconnects at most once per this many seconds
ERROR_LOG_EVERY_S = 30.0


async def connect(url: str, name: str, *, reconnect: bool = True, connect_timeout: float = 5.0) -> NATS:
    """Connect to NATS, or raise BrokerUnreachable soon (each server is tried twice).

    nats-py (2.16) runs its reconnect loop for the first connection too (nats.py issue #352):
    with `max_reconnect_attempts=-1` a server that is not there makes `connect()` wait
    forever, calling `error_cb` every `reconnect_time_wait`; and `allow_reconnect=False`
    alone does not end that loop (each server is retried up to `max_reconnect_attempts`,
    60 by default). So the first connection is made with `max_reconnect_attempts=1` (two
    tries per server, then NoServersError) and fails with the last reason; a caller that
    must wait for NATS retries with its own backoff (`common.runtime`). With `reconnect`,
    the connection then kept reconnects forever after a drop, and logs its failed attempts
    at most once per ERROR_LOG_EVERY_S; without it (a command-line tool) a drop closes it.
    """
    servers = [u.strip() for u in url.split(",")]
    failures: list[Exception] = []

    async def _noted(exc: Exception) -> None:
        failures.append(exc)

    first = NATS()
    try:
        await first.connect(
            servers=servers, name=name, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.1,
            connect_timeout=connect_timeout, error_cb=_noted,
        )
    except (TimeoutError, NatsError, OSError) as exc:
        reason = failures[-1] if failures else exc
        raise BrokerUnreachable(f"cannot reach NATS at {url}: {reason or reason.__class__.__name__}") from exc
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await first.close()
        raise
    if not reconnect:
        return first
    await first.close()
    return await nats.connect(
        servers=servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=connect_timeout,
        drain_timeout=10,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=throttled_errors(ERROR_LOG_EVERY_S),
    )


async def _disconnected() -> None:
    log.warning("nats.disconnected")


async def _reconnected() -> None:
    log.info("nats.reconnected")


def throttled_errors(every_s: float, clock: Callable[[], float] = time.monotonic) -> ErrorCallback:
    """nats-py's error callback: the first error logged, then at most one line per `every_s`, with a count."""
    last: float | None = None
    unlogged = 0

    async def on_error(exc: Exception) -> None:
        nonlocal last, unlogged
        now = clock()
        if last is not None and now - last < every_s:
            unlogged += 1
            return
        log.warning("nats.error", error=str(exc) or exc.__class__.__name__, errors_since_last_line=unlogged)
        last, unlogged = now, 0

    return on_error


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=name,
            subjects=list(patterns),
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
            max_age=365 * 24 * 3600.0,
        )
        for name, patterns in STREAMS.items()
    ]


#: how long a starting replica keeps trying to declare the streams (a cluster electing its leaders)
DECLARE_PATIENCE_S = 60.0


async def ensure_streams(
    js: JetStreamContext, replicas: int = 1, configs: Iterable[StreamConfig] | None = None
) -> None:
    """Create the platform's streams, or bring them to our configuration; safe to run from every replica.

    Several replicas may start at once on a new cluster, where creating an R3 stream can time out
    while its leader is elected: a timeout is tried again (up to DECLARE_PATIENCE_S), and a stream
    another replica created meanwhile is taken as it is.
    """
    for config in configs or stream_configs(replicas):
        delay, waited = 0.5, 0.0
        while True:
            try:
                await _ensure_stream(js, config, replicas)
                break
            except (NatsTimeoutError, ServiceUnavailableError, NoRespondersError) as exc:
                if waited >= DECLARE_PATIENCE_S:
                    raise
                log.warning("nats.stream_declare_retry", stream=config.name, error=repr(exc), after_s=delay)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 8.0)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig, replicas: int) -> None:
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("nats.stream_created", stream=config.name, replicas=replicas)
            return
        except BadRequestError:
            pass  # another replica created it between our two calls
    try:
        await js.update_stream(config)
    except BadRequestError as exc:
        # e.g. a replica count the cluster cannot change in place: keep running on what exists
        log.warning("nats.stream_not_updated", stream=config.name, error=str(exc))


class BrokerUnavailable(ConnectionError):
    """Not connected to NATS right now: an impatient publish gives up at once."""


#: how long an impatient publish waits for JetStream's ack (a normal one takes about a millisecond)
IMPATIENT_TIMEOUT_S = 1.0


class Publisher:
    """Publishes contract events; the msg id makes a retried publish harmless."""

    def __init__(
        self, js: JetStreamContext, timeout: float = 5.0, connected: Callable[[], bool] | None = None
    ) -> None:
        self._js = js
        self._timeout = timeout
        self._connected = connected

    async def publish(self, event: Event, msg_id: str) -> PubAck:
        return await self.publish_raw(event.subject, event.model_dump_json().encode(), msg_id)

    async def publish_raw(
        self, subject: str, data: bytes, msg_id: str, headers: dict[str, str] | None = None, *, patient: bool = True
    ) -> PubAck:
        """Publish and wait for JetStream's ack, retrying a timeout twice.

        `patient=False` is for a caller with somewhere else to leave the event (an outbox the
        relay empties later): one short try, none at all while the connection is down, so that
        an HTTP command answers at once during a broker outage.
        """
        with tracing.publishing(subject, msg_id, headers) as traced:
            return await self._publish(subject, data, {"Nats-Msg-Id": msg_id, **traced}, patient=patient)

    async def _publish(self, subject: str, data: bytes, all_headers: dict[str, str], *, patient: bool) -> PubAck:
        if not patient:
            if self._connected is not None and not self._connected():
                raise BrokerUnavailable("not connected to NATS")
            return await self._js.publish(subject, data, timeout=IMPATIENT_TIMEOUT_S, headers=all_headers)
        for attempt in range(3):
            try:
                return await self._js.publish(subject, data, timeout=self._timeout, headers=all_headers)
            except (NatsTimeoutError, ServiceUnavailableError, NoRespondersError):
                # the same msg id makes the retry safe if the first one did land
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
