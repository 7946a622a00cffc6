"""Running a service: connections, consumers, periodic sweeps, the HTTP server, graceful shutdown.

A service process answers HTTP from its first moment, whatever the state of NATS and MongoDB
(`serve`):

1. The HTTP server starts at once on a `_Gate`, an ASGI app that forwards to the *starting
   app* until the service is built: `/healthz` 200, `/readyz` 503 naming what is missing
   (`{"nats": "failed: NotConnectedYet", ..., "start": "failed: StillStarting"}`), `/metrics`,
   and 503 for anything else.
2. Meanwhile `connected(..., patient=True)` connects: NATS (and its streams), then MongoDB
   (a ping), each tried again after a delay that doubles from 0.5 s to 30 s, with one
   warning per failed try (so at most one a 30 s once the delay is at its cap).
3. Once both answer, the service is built (`build(runtime)` needs a connected runtime: its
   stores and publisher hold the connections), its start hooks run, the gate is opened on
   the service's own app (whose `/readyz` checks the live connections), and its consumers
   and periodic jobs run (`run_parts`) until `stop`.
4. SIGTERM or SIGINT sets `stop` in any state. Before the consumers run, the connecting or
   starting task is cancelled at once. Once they run, they stop fetching and finish what
   they hold; all of it within `shutdown_grace_s`, after which what is left is cancelled.
   Then HTTP stops and the connections close.

The tests run a service in their own process with `connected(...)` (impatient: a server
that is not there is an error at once) and `run_parts(...)`, driving the app over ASGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from motor.motor_asyncio import AsyncIOMotorDatabase
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from common import audit, bus, gauges, heap, mongo, tracing
from common.clock import Clock, SystemClock
from common.consume import ConsumeLoop, Consumer
from common.contracts.subjects import stream_for
from common.failures import dependency_down
from common.logs import configure_logging, register_secrets
from common.settings import ServiceSettings, reveal

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: the first wait before connecting again, doubled after each failure up to the cap
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0
#: the longest the HTTP server waits for requests in flight when it stops
HTTP_SHUTDOWN_S = 2.0
#: what a service needs before it can be built, as /readyz names them
DEPENDENCIES = ("nats", "mongodb")


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
    #: the service's own gauges (waiting alerts, overdue callbacks …), refreshed with the platform's
    gauges: list[gauges.Reading] = field(default_factory=list)


Build = Callable[[Runtime], Awaitable[ServiceParts]]


class NotConnectedYet(ConnectionError):
    """A dependency the service is still connecting to (named so on /readyz)."""


class StillStarting(RuntimeError):
    """Connected, and the service is being built and its start hooks run (named so on /readyz)."""


@asynccontextmanager
async def connected(
    name: str, settings: ServiceSettings, clock: Clock | None = None, *, patient: bool = False,
    waiting: dict[str, str] | None = None,
) -> AsyncIterator[Runtime]:
    """A runtime on live connections to NATS (streams declared) and MongoDB, closed on exit.

    Impatient (tests, tools): a server that does not answer is an error at once. Patient
    (`serve`): each is tried again with backoff until it answers; cancel the task to give up.
    `waiting` maps each dependency not connected yet to the last reason (for /readyz).
    """
    missing = waiting if waiting is not None else {}
    async with AsyncExitStack() as stack:

        async def open_nats() -> NATS:
            nc = await bus.connect(reveal(settings.nats_url), name=f"fengqiao-{name}")
            try:
                await bus.ensure_streams(nc.jetstream(), replicas=settings.stream_replicas)
            except BaseException:
                await _close(nc, 1.0)
                raise
            return nc

        nc = await _retrying("nats", open_nats, patient, missing)
        stack.push_async_callback(_close, nc, settings.shutdown_grace_s)
        db: Any = None  # a service that keeps no data (the console) has no MongoDB URL and no store
        if reveal(settings.mongo_url):
            client = mongo.client(reveal(settings.mongo_url), app_name=f"fengqiao-{name}")
            stack.callback(client.close)
            db = mongo.database(client, settings.mongo_db or f"fengqiao_{name}")
            await _retrying("mongodb", lambda: db.command("ping"), patient, missing)
        js = nc.jetstream()
        publisher = bus.Publisher(js, connected=lambda: nc.is_connected)
        yield Runtime(name, settings, nc, js, publisher, db, clock or SystemClock())


async def _retrying(what: str, attempt: Callable[[], Awaitable[T]], patient: bool, missing: dict[str, str]) -> T:
    delay = FIRST_RETRY_S
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if not patient:
                raise
            missing[what] = reason = str(exc) or exc.__class__.__name__
            log.warning("service.waiting", dependency=what, error=reason, retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)
            continue
        missing.pop(what, None)
        if delay > FIRST_RETRY_S:
            log.info("service.connected", dependency=what)
        return result


async def _close(nc: NATS, within_s: float) -> None:
    """Drain (deliver what is in flight), or close at once when NATS is not there to drain to."""
    try:
        await asyncio.wait_for(nc.drain(), within_s)
    except Exception:  # noqa: BLE001 - reconnecting, already closed, or too slow: close is what is left
        with contextlib.suppress(Exception):
            await nc.close()


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


async def run_parts(runtime: Runtime, parts: ServiceParts, stop: asyncio.Event) -> None:
    """Run the consumers and periodic jobs until `stop` is set; then finish the messages in hand.

    The start hooks have run (`serve` runs them before it opens the service's HTTP routes).
    """
    settings = runtime.settings
    heap.settle()  # what setup built lives as long as the service: out of the collector's way
    tasks = [
        asyncio.create_task(
            ConsumeLoop(
                runtime.js, runtime.publisher, c, batch=settings.consumer_batch,
                concurrency=settings.consumer_concurrency, max_deliver=settings.max_deliver,
                ack_wait_s=settings.ack_wait_s.get(c.durable),
            ).run(stop),
            name=f"consumer:{c.durable}",
        )
        for c in parts.consumers
    ]
    readings = [
        *gauges.readiness_readings(runtime.readiness()),
        *gauges.consumer_readings(runtime.js, [(stream_for(c.subject), c.durable) for c in parts.consumers]),
        *parts.gauges,
    ]
    refresh = Periodic("gauges", settings.gauges_interval_s, gauges.refresher(readings, runtime.name))
    tasks += [asyncio.create_task(_every(p, stop), name=f"periodic:{p.name}") for p in [*parts.periodic, refresh]]
    log.info("service.started", service=runtime.name)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in done if t is not stopper and t.exception() is not None]
    stop.set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_s)
        for t in pending:
            t.cancel()
    log.info("service.stopped", service=runtime.name)
    if crashed:
        raise crashed[0].exception()  # type: ignore[misc]


class _Gate:
    """The ASGI app the HTTP server runs: the starting app until the service's own app is opened."""

    def __init__(self, starting: FastAPI) -> None:
        self.app = starting

    def open(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _starting_app(name: str, settings: ServiceSettings, missing: dict[str, str]) -> FastAPI:
    from common.http import create_app

    def check(dependency: str) -> Callable[[], Awaitable[None]]:
        async def connected_yet() -> None:
            if dependency in missing:
                raise NotConnectedYet(missing[dependency])

        return connected_yet

    async def started() -> None:
        raise StillStarting  # this app answers only until the service's own one is opened

    checks = {**{d: check(d) for d in DEPENDENCIES}, "start": started}
    app = create_app(f"Fengqiao {name} (starting)", settings, checks)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def starting(path: str) -> JSONResponse:
        waiting = [d for d in DEPENDENCIES if d in missing] or ["its start-up"]
        return JSONResponse({"error": "starting", "detail": f"{name} is waiting for {', '.join(waiting)}"},
                            status_code=503, headers={"Retry-After": "2"})

    return app


#: how long a start-up hook (ensure_indexes…) keeps trying while the store or the broker is away
START_HOOK_PATIENCE_S = 60.0


async def _patiently(hook: Callable[[], Awaitable[Any]]) -> None:
    """Run a start-up hook, trying again while a dependency is away (the store restarting as the service
    starts must not stop the service)."""
    deadline = asyncio.get_running_loop().time() + START_HOOK_PATIENCE_S
    delay = 0.2
    while True:
        try:
            await hook()
            return
        except Exception as exc:
            if not dependency_down(exc) or asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning("service.start_hook_retried", error=repr(exc)[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def serve(name: str, settings: ServiceSettings, build: Build) -> None:
    """The process entry point of one service (a container runs exactly this); see the module's text."""
    register_secrets(*settings.secret_values())  # before the first line: none of them is ever written
    configure_logging(settings.log_level, settings.log_json, service=name)
    tracing.configure(name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    missing = {d: "not connected yet" for d in DEPENDENCIES if d != "mongodb" or reveal(settings.mongo_url)}
    gate = _Gate(_starting_app(name, settings, missing))
    server = _Server(uvicorn.Config(
        gate, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=HTTP_SHUTDOWN_S,
    ))
    http = asyncio.create_task(server.serve(), name="http")
    running = asyncio.Event()

    async def service() -> None:
        async with connected(name, settings, patient=True, waiting=missing) as runtime:
            parts = await build(runtime)
            hooks = list(parts.on_start)
            trail = parts.app.state.audit  # create_app's, in memory, unless the service has a store for it
            if runtime.db is not None:  # a service keeping no data (the console) has no store for a trail
                trail = audit.attach(parts.app, runtime.db, settings.audit_retention_days, name)
                hooks.append(trail.store.ensure_indexes)
            for hook in hooks:
                await _patiently(hook)
            gate.open(parts.app)
            running.set()
            try:
                await run_parts(runtime, parts, stop)
            finally:
                await trail.idle()  # what the last requests noted

    task = asyncio.create_task(service(), name="service")
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopper, http], return_when=asyncio.FIRST_COMPLETED)
    if not running.is_set():
        task.cancel()  # still connecting or starting: nothing in hand to finish
        log.info("service.stopped", service=name, before="running")
    stop.set()
    _, pending = await asyncio.wait([task], timeout=settings.shutdown_grace_s)
    for t in pending:
        t.cancel()
    server.should_exit = True
    await asyncio.wait([http], timeout=HTTP_SHUTDOWN_S + 1)
    stopper.cancel()
    tracing.shutdown()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    if http.done() and not http.cancelled() and http.exception() is not None:
        raise http.exception()  # type: ignore[misc]

