"""notify (its SMS gateway feature under test) run as a service in this process, on the real nats-server
and nx-27017: `notify.bootstrap.build`'s parts run by `common.runtime.run_parts`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from common.runtime import Runtime, connected, run_parts
from common.settings import DEVELOPMENT_TOKEN
from notify.bootstrap import build
from notify.settings import NotifySettings
from notify.sms.handlers import Sms


@dataclass
class RunningSms:
    runtime: Runtime
    sms: Sms
    http: httpx.AsyncClient


@pytest.fixture
def run_sms(nats_server, store_server, db_name):
    """`async with run_sms(http_port=None, **settings) as svc:` — sweeps every 0.2 s, receipts after 0.2 s;
    `http_port` also serves HTTP on 127.0.0.1 (for Kannel to call)."""

    @contextlib.asynccontextmanager
    async def start(*, http_port: int | None = None, **overrides: Any) -> AsyncIterator[RunningSms]:
        defaults = {"nats_url": nats_server.url, "mongo_url": store_server.url, "mongo_db": f"{db_name}_notify",
                    "environment": "test", "sweep_interval_s": 0.2, "sms_embedded_receipt_delay_s": 0.2,
                    "http_host": "127.0.0.1", "http_port": http_port or 0}
        settings = NotifySettings(**{**defaults, **overrides})
        async with connected("notify", settings) as runtime:
            parts = await build(runtime)
            for hook in parts.on_start:
                await hook()
            app = parts.app
            sms = parts.context.sms
            stop = asyncio.Event()
            task = asyncio.create_task(run_parts(runtime, parts, stop))
            server = None
            if http_port is not None:  # Kannel calls back over real HTTP
                server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=http_port, log_config=None,
                                                       access_log=False, lifespan="off"))
                serving = asyncio.create_task(server.serve())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                         headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}) as http:
                try:
                    yield RunningSms(runtime, sms, http)
                finally:
                    stop.set()
                    await task
                    if server is not None:
                        server.should_exit = True
                        await serving
                    close = getattr(sms.gateway, "aclose", None)
                    if close is not None:
                        await close()

    return start
