"""Real servers for the integration tests: nx-27017 once per session, a fresh nats-server per test.

The suite runs on pytest-xdist workers (`-n`, in pyproject.toml). Each test file stays on one worker
(its module fixtures are started once); the tests that load the whole machine — the fault tests and
the podman ones — share one worker, so they run one after the other, and the `fengqiao up` ones
share another (see HEAVY and UP)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fengqiao.embedded import EmbeddedServer, start_nats, start_store

#: run one after the other on one worker: they kill processes under load, or build images with podman
HEAVY = ("tests/faults/", "tests/deploy/test_compose.py", "tests/deploy/test_container.py")
#: one after the other too: each brings the platform up on the ports a station knows (8100–8106) when free,
#: and two starting at once would both find a port free and race for it
UP = ("tests/e2e/",)


def _set_node_id(item: pytest.Item, wanted: str) -> None:
    if hasattr(item, "_id"):  # pytest >= 9: a structured id, read by `nodeid`
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(wanted)
    else:
        item._nodeid = wanted


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # xdist's loadgroup reads an item's group from a node id ending in `@group`, which xdist writes into
    # `_nodeid`; pytest 9 builds the node id from `_id`, so without the suffix written here every test
    # would be scheduled alone and the groups below would not hold
    suffixed = hasattr(pytest.Item, "id") and getattr(config.option, "loadgroup", False)  # set on xdist's workers
    for item in items:
        if "[" in item.name and not item.nodeid.endswith("]"):
            # schemathesis names each operation's case in `name` only (pytest 9): without its own id,
            # xdist would run one operation per test function
            _set_node_id(item, item.nodeid + item.name[item.name.index("["):])
        marked = item.get_closest_marker("xdist_group")
        if marked:
            group = str(marked.args[0] if marked.args else marked.kwargs.get("name", "default"))
        else:
            where = item.nodeid.split("::")[0]
            group = "heavy" if where.startswith(HEAVY) else "up" if where.startswith(UP) else where
            item.add_marker(pytest.mark.xdist_group(group))
        if suffixed and "@" not in item.nodeid:
            _set_node_id(item, f"{item.nodeid}@{group}")


@pytest.fixture(autouse=True)
def _root_logging_left_as_found() -> Iterator[None]:
    """A test that sets logging up as a service does (`configure_logging`) leaves the root logger as it
    found it: its handler writes to the stderr of the moment, which is the next tests' captured stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


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
