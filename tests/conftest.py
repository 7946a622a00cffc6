"""Real servers for the integration tests: nx-27017 once per session, a fresh nats-server per test."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fengqiao.embedded import EmbeddedServer, start_nats, start_store


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_store(tmp_path_factory.mktemp("store"))
    yield server
    server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = start_nats(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
def db_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def nc(nats_server: EmbeddedServer) -> AsyncIterator:
    from common import bus

    client = await bus.connect(nats_server.url, name="test")
    await bus.ensure_streams(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
def run_service(nats_server: EmbeddedServer, store_server: EmbeddedServer, db_name: str):
    """Start a service in this process on the real servers; the test drives its timers itself.

    Usage: `async with run_service("dispatch", clock, ack_timeout_s=60) as svc:` — svc.runtime,
    svc.parts, svc.http (an httpx client on the app, with the development token).
    """
    import asyncio
    import contextlib
    import dataclasses

    import httpx

    from common.runtime import connected, run_parts
    from common.settings import DEVELOPMENT_TOKEN
    from fengqiao.services import SERVICES

    @contextlib.asynccontextmanager
    async def start(name: str, clock=None, *, db: str | None = None, periodic: bool = False, **overrides):
        spec = SERVICES[name]
        defaults = {"nats_url": nats_server.url, "mongo_url": store_server.url,
                    "mongo_db": f"{db or db_name}_{name}", "environment": "test"}
        settings = spec.settings_class()(**{**defaults, **overrides})
        async with connected(name, settings, clock) as runtime:
            parts = await spec.build()(runtime)
            for hook in parts.on_start:
                await hook()
            parts = dataclasses.replace(parts, on_start=[], periodic=parts.periodic if periodic else [])
            stop = asyncio.Event()
            task = asyncio.create_task(run_parts(runtime, parts, stop))
            transport = httpx.ASGITransport(app=parts.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}
            ) as http:
                try:
                    yield _Running(runtime, parts, http)
                finally:
                    stop.set()
                    await task

    return start


@dataclasses.dataclass
class _Running:
    runtime: object
    parts: object
    http: object
