"""Real servers for the integration tests: nx-27017 once per session, a fresh nats-server per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.embedded import EmbeddedServer, start_nats, start_store


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
