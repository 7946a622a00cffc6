"""The embedded store a single-process bench measures against: nx-27017 on a free loopback port, in a
temporary folder, stopped and removed when the bench is done.

    async with store_client("rating") as client: ...

and prints a bench's read times beside the bare `find_one` by id it measured with them
(`print_against_baseline`).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from motor.motor_asyncio import AsyncIOMotorClient

from common import mongo
from fengqiao.embedded import start_store


@asynccontextmanager
async def store_client(name: str) -> AsyncIterator[AsyncIOMotorClient]:
    with tempfile.TemporaryDirectory(prefix=f"fq-bench-{name}-") as folder:
        store = start_store(Path(folder))
        client = mongo.client(store.url, app_name=f"bench-{name}")
        try:
            yield client
        finally:
            client.close()
            store.stop()


def print_against_baseline(medians: dict[str, float], width: int) -> None:
    """Print the baseline's median (`medians["baseline"]`, seconds), then each other one with its ratio."""
    base = medians["baseline"]
    print(f"    {'baseline find_one by id':<{width}} {base * 1000:7.2f} ms")
    for name, t in medians.items():
        if name != "baseline":
            print(f"    {name:<{width}} {t * 1000:7.2f} ms  ({t / base:5.1f}× baseline)")
