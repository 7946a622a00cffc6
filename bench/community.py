"""Community benchmark: the monthly sheet (`GET /v1/scorecards`) with many facts stored.

    .venv/bin/python bench/community.py [--sizes 10000 1000000] [--repeats 15]

Starts its own nx-27017 on a free loopback port and, for each size N, stores N counted facts — the
keys kept on the officers' month sheets (100 grid units × 3 officers, 24 months; bulk-inserted as the
service stores them, each sheet with its counters' small copy, the local effect of its saves) — with the
grid copy, then times the use case behind the route, by officer and by
unit, the CSV rendering, and the whole `GET /v1/scorecards` through the app (JSON and CSV), next to a bare
`find_one` by id of one sheet. Prints medians
(ms) and ratios against that baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services")]

import httpx  # noqa: E402
from bench_store import store_client  # noqa: E402

from common import mongo  # noqa: E402
from common.clock import FakeClock  # noqa: E402
from common.fakes import FakePublisher  # noqa: E402
from common.http import create_app  # noqa: E402
from common.settings import DEVELOPMENT_TOKEN  # noqa: E402
from community import handlers  # noqa: E402
from community.adapters.store import INDEXES  # noqa: E402
from community.bootstrap import wire  # noqa: E402
from community.domain.scorecard import COUNTERS, MonthSheet, sheet_csv  # noqa: E402
from community.entrypoints.api import router  # noqa: E402
from community.settings import CommunitySettings  # noqa: E402

UNITS, PER_UNIT, MONTHS = 100, 3, 24
MONTH = "2026-11"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def grid() -> dict:
    features = []
    for u in range(UNITS):
        x, y = 118.9 + (u % 10) * 0.01, 25.2 + (u // 10) * 0.01
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"unit_id": f"G{u:03d}", "name": f"网格{u}",
                                        "officers": [f"P{u:03d}{k}" for k in range(PER_UNIT)]}})
    return {"type": "FeatureCollection", "features": features}


def months() -> list[str]:
    return [f"{2025 + (i // 12)}-{i % 12 + 1:02d}" for i in range(MONTHS)]


async def load(c, facts: int) -> None:
    officers = [f"P{u:03d}{k}" for u in range(UNITS) for k in range(PER_UNIT)]
    per_sheet = max(1, -(-facts // (len(officers) * MONTHS)))
    docs, totals = [], []
    for month in months():
        for officer in officers:
            keys = [f"rating:{month}:{officer}:{i}" for i in range(per_sheet)]
            counts = {name: (hash((officer, month, name)) % per_sheet) + 1 for name in COUNTERS}
            sheet = MonthSheet(officer, month, counts, keys)
            docs.append({"_id": sheet.sheet_id, **sheet.to_dict(), "version": 1, "outbox": {}})
            totals.append({"_id": sheet.sheet_id, "officer_id": officer, "month": month, "counts": counts,
                           "version": 1})
            if len(docs) == 2_000:
                await c.sheets.collection.insert_many(docs, ordered=False)
                await c.totals._totals.insert_many(totals, ordered=False)
                docs, totals = [], []
    if docs:
        await c.sheets.collection.insert_many(docs, ordered=False)
        await c.totals._totals.insert_many(totals, ordered=False)
    await c.grid.offer(1, grid())


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def bench(c, repeats: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {"baseline find_one": [], "officer json": [], "unit json": [],
                                       "officer csv": [], "GET officer json": [], "GET officer csv": []}
    app = create_app("community", c.settings, {}, context=c, routers=(router,))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                             headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"})
    ident = MonthSheet.ident("P0501", MONTH)
    for _ in range(repeats):
        started = time.perf_counter()
        await c.sheets.collection.find_one({"_id": ident})
        timings["baseline find_one"].append(time.perf_counter() - started)
        for by in ("officer", "unit"):
            started = time.perf_counter()
            rows = await handlers.scorecard(c, MONTH, by)
            timings[f"{by} json"].append(time.perf_counter() - started)
        started = time.perf_counter()
        sheet_csv(await handlers.scorecard(c, MONTH, "officer"), c.rules, by="officer")
        timings["officer csv"].append(time.perf_counter() - started)
        for fmt in ("json", "csv"):
            started = time.perf_counter()
            answer = await http.get(f"/v1/scorecards?month={MONTH}&by=officer&format={fmt}")
            timings[f"GET officer {fmt}"].append(time.perf_counter() - started)
            assert answer.status_code == 200
    await http.aclose()
    assert len(rows) == UNITS
    return {name: median_ms(values) for name, values in timings.items()}


async def main(sizes: list[int], repeats: int) -> None:
    async with store_client("community") as client:
        for size in sizes:
            db = mongo.database(client, f"bench_{size}")
            await mongo.ensure_indexes(db, INDEXES)
            settings = CommunitySettings(environment="test")
            runtime = SimpleNamespace(settings=settings, db=db, clock=FakeClock(NOW), publisher=FakePublisher())
            c = wire(runtime)  # type: ignore[arg-type]
            started = time.perf_counter()
            await load(c, size)
            stored = sum([len(d["applied"]) async for d in c.sheets.collection.find({}, {"applied": 1})])
            print(f"{stored:>9,} facts stored on {await c.sheets.collection.count_documents({}):,} sheets "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)
            figures = await bench(c, repeats)
            base = figures["baseline find_one"]
            for name, ms in figures.items():
                print(f"  {name:<18} {ms:8.2f} ms  ({ms / base:5.1f}x baseline)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.repeats))
