"""Running a service: connections, consumers, periodic sweeps, the HTTP server, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorDatabase
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from common import bus, heap, mongo
from common.clock import Clock, SystemClock
from common.consume import ConsumeLoop, Consumer
from common.logs import configure_logging
from common.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """What a service is wired with; `bootstrap` builds the service from it."""

    name: str
    settings: ServiceSettings
    nc: NATS
    js: JetStreamContext
    publisher: bus.Publisher
    db: AsyncIOMotorDatabase
    clock: Clock

    async def ping_store(self) -> None:
        await self.db.command("ping")

    async def ping_broker(self) -> None:
        if not self.nc.is_connected:
            raise ConnectionError("not connected to NATS")
        await self.js.account_info()

    def readiness(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"nats": self.ping_broker, "mongodb": self.ping_store}


@dataclass(frozen=True)
class Periodic:
    """A sweep run every `interval_s` seconds (timers due, outbox relay)."""

    name: str
    interval_s: float
    run: Callable[[], Awaitable[Any]]


@dataclass
class ServiceParts:
    app: FastAPI
    consumers: list[Consumer[Any]] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    #: the service's wired use-case context (tests and tools drive it directly)
    context: Any = None


Build = Callable[[Runtime], Awaitable[ServiceParts]]


@asynccontextmanager
async def connected(name: str, settings: ServiceSettings, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        nc = await bus.connect(settings.nats_url, name=f"fengqiao-{name}")
        stack.push_async_callback(_drain, nc)
        js = nc.jetstream()
        await bus.ensure_streams(js, replicas=settings.stream_replicas)
        client = mongo.client(settings.mongo_url, app_name=f"fengqiao-{name}")
        stack.callback(client.close)
        db = mongo.database(client, settings.mongo_db or f"fengqiao_{name}")
        publisher = bus.Publisher(js, connected=lambda: nc.is_connected)
        yield Runtime(name, settings, nc, js, publisher, db, clock or SystemClock())


async def _drain(nc: NATS) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service owns the signals: it stops consumers first, then HTTP


async def _every(periodic: Periodic, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await periodic.run()
        except Exception as exc:
            log.warning("periodic.failed", task=periodic.name, error=repr(exc))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), periodic.interval_s)


async def run_parts(runtime: Runtime, parts: ServiceParts, stop: asyncio.Event, *, http: bool = True) -> None:
    """Run until `stop` is set; then finish the messages in hand and close the HTTP server."""
    settings = runtime.settings
    for hook in parts.on_start:
        await hook()
    heap.settle()  # what setup built lives as long as the service: out of the collector's way
    tasks = [
        asyncio.create_task(
            ConsumeLoop(
                runtime.js, runtime.publisher, c, batch=settings.consumer_batch,
                concurrency=settings.consumer_concurrency, max_deliver=settings.max_deliver,
            ).run(stop),
            name=f"consumer:{c.durable}",
        )
        for c in parts.consumers
    ]
    tasks += [asyncio.create_task(_every(p, stop), name=f"periodic:{p.name}") for p in parts.periodic]
    server = None
    if http:
        config = uvicorn.Config(
            parts.app, host=settings.http_host, port=settings.http_port, log_config=None,
            access_log=False, lifespan="off",
        )
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="http"))
    log.info("service.started", service=runtime.name, port=settings.http_port if http else None)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in done if t is not stopper and t.exception() is not None]
    stop.set()
    if server is not None:
        server.should_exit = True
    _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_s)
    for t in pending:
        t.cancel()
    log.info("service.stopped", service=runtime.name)
    if crashed:
        raise crashed[0].exception()  # type: ignore[misc]


async def serve(name: str, settings: ServiceSettings, build: Build) -> None:
    """The process entry point of one service (a container runs exactly this)."""
    configure_logging(settings.log_level, settings.log_json, service=name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with connected(name, settings) as runtime:
        parts = await build(runtime)
        await run_parts(runtime, parts, stop)


def health_only(name: str) -> Build:
    """The build of a service whose issue has not landed yet: health, readiness and metrics only."""
    from common.http import create_app

    async def build(runtime: Runtime) -> ServiceParts:
        title = f"Fengqiao {name} (placeholder: health only)"
        return ServiceParts(app=create_app(title, runtime.settings, runtime.readiness()))

    return build
