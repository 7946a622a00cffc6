"""The station's figures benchmark: GET /v1/trends and /v1/hotspots with many alerts stored, and what the
roll-ups add to storing an alert.

    .venv/bin/python bench/trends.py [--sizes 10000 1000000] [--repeats 15] [--writes 300]

Starts its own nx-27017 on a free loopback port and, in one run:
  trends    the use case behind `GET /v1/trends` (week, month, year; by category and by unit) with N
            alerts stored (bulk-inserted as dispatch stores them, over three years, with the roll-ups
            rebuilt from them), next to a bare `find_one` by id of one roll-up document; and
            `GET /v1/hotspots?weeks=8`
  write     one alert counted into the roll-ups (three trend documents, its hotspot cell and the
            week's summary of cells, each with its mark) next to a bare `insert_one` of the alert's document, taking
            turns; medians
Prints medians and ratios against the baselines of this run; the answer should not grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services")]

from bench_store import print_against_baseline, store_client  # noqa: E402

from common import mongo  # noqa: E402
from common.clock import FakeClock  # noqa: E402
from dispatch.adapters.figures import INDEXES, MongoFigures  # noqa: E402
from dispatch.adapters.store import AlertCodec  # noqa: E402
from dispatch.domain import hotspots, trends  # noqa: E402
from dispatch.domain.alerts import Alert  # noqa: E402
from dispatch.domain.trends import CATEGORIES  # noqa: E402
from dispatch.handlers import figures  # noqa: E402
from dispatch.settings import DispatchSettings  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 3 * 365
NOW = START + timedelta(days=DAYS - 10)
UNITS = 20
STATION = (118.9651, 25.2284)
ADDRESSES = [f"枫亭镇{name}村{k}号" for name in ("霞街", "东宅", "海安", "麟山", "和平") for k in range(20)]
QUESTIONS = [(p, by) for p in ("week", "month", "year") for by in ("category", "unit")]


def generated(n: int, seed: int = 21) -> Iterator[tuple[Alert, str]]:
    """Alerts over three years within ~10 km of the station, and the unit each was first given to."""
    rng = random.Random(seed)
    for i in range(n):
        at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        alert = Alert.receive(
            alert_id=f"110-bench-{i:08d}", received_at=at, category=rng.choice(CATEGORIES), priority=2,
            lon=STATION[0] + rng.uniform(-0.05, 0.05), lat=STATION[1] + rng.uniform(-0.045, 0.045),
            address=rng.choice(ADDRESSES), caller_phone=f"139{i:08d}", summary="邻里纠纷", source="110", parties=[],
        )
        yield alert, f"G{rng.randrange(UNITS) + 1:02d}"


async def load(db, book: MongoFigures, n: int, settings: DispatchSettings, batch: int = 10_000) -> float:
    """Bulk-insert the alerts as dispatch stores them, then their roll-ups; seconds taken."""
    started = time.perf_counter()
    codec, zone = AlertCodec(), settings.zone
    rows: list[tuple[datetime, str, str]] = []
    spots: list[tuple[datetime, float, float, str | None]] = []
    alerts = generated(n)
    while chunk := list(itertools.islice(alerts, batch)):
        docs = [{"_id": a.alert_id, **codec.to_document(a), "version": 1, "outbox": {}} for a, _ in chunk]
        await db["alerts"].insert_many(docs, ordered=False)
        rows += [(a.received_at, a.category, unit) for a, unit in chunk]
        spots += [(a.received_at, a.lon, a.lat, a.address) for a, _ in chunk]
    cells = hotspots.rebuild(spots, zone=zone, cell_m=settings.hotspot_cell_m)
    await book.replace_all([*trends.rebuild(rows, zone).values(), *hotspots.summaries(cells.values()).values()],
                           cells.values())
    return time.perf_counter() - started


async def bench_answers(d, repeats: int) -> dict[str, float]:
    at = NOW.astimezone(d.settings.zone).date()
    some = await d.figures.trends.find_one({}, {"_id": 1})
    times: dict[str, list[float]] = {"baseline": [], "hotspots weeks=8": []}
    for _ in range(repeats):
        started = time.perf_counter()
        await d.figures.trends.find_one({"_id": some["_id"]})
        times["baseline"].append(time.perf_counter() - started)
        for period, by in QUESTIONS:
            started = time.perf_counter()
            answer = await figures.trends(d, period=period, at=at, by=by)
            times.setdefault(f"trends {period:<5} by {by}", []).append(time.perf_counter() - started)
        started = time.perf_counter()
        found = await figures.hotspots(d, weeks=8, top=10, hours=3)
        times["hotspots weeks=8"].append(time.perf_counter() - started)
    print(f"    year {answer['label']}: {answer['total']['count']:,} alerts ({answer['total']['yoy_pct']} % 同比); "
          f"busiest place {found['hotspots'][0]['count']} alerts in 8 weeks")
    return {name: statistics.median(values) for name, values in times.items()}


async def bench_write(d, db, writes: int) -> tuple[float, float]:
    """Median seconds of a bare insert of an alert and of counting it into the roll-ups, taking turns."""
    bare, counted = [], []
    apply = figures.apply_counts(lambda: d.figures)  # what the unit of work calls with the insert's staged counts
    scratch, codec = db["bare_inserts"], AlertCodec()
    for i, (alert, _) in enumerate(generated(writes, seed=7)):
        alert.alert_id = f"110-write-{i:06d}"
        doc = {"_id": alert.alert_id, **codec.to_document(alert), "version": 1, "outbox": {}}
        started = time.perf_counter()
        await scratch.insert_one(doc)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        [(counts, msg_id)] = figures.counted(d, alert)
        await apply(msg_id, counts.data)
        counted.append(time.perf_counter() - started)
    return statistics.median(bare), statistics.median(counted)


def context(db, settings: DispatchSettings) -> SimpleNamespace:
    """What the figures' use cases read of dispatch's context."""
    return SimpleNamespace(settings=settings, clock=FakeClock(NOW), figures=MongoFigures(db))


async def main(sizes: list[int], repeats: int, writes: int) -> None:
    settings = DispatchSettings(environment="test")
    async with store_client("trends") as client:
        for size in sizes:
            db = mongo.database(client, f"bench_{size}")
            d = context(db, settings)
            await mongo.ensure_indexes(db, INDEXES)
            seconds = await load(db, d.figures, size, settings)
            docs = await db["trend_rollups"].count_documents({})
            cells = await db["hotspot_rollups"].count_documents({})
            print(f"{size:,} alerts stored over {DAYS} days (loaded in {seconds:.0f} s; {docs:,} trend roll-ups, "
                  f"{cells:,} hotspot cell-weeks):")
            print_against_baseline(await bench_answers(d, repeats), 32)
        db = mongo.database(client, "bench_writes")
        d = context(db, settings)
        await mongo.ensure_indexes(db, INDEXES)
        bare, counted = await bench_write(d, db, writes)
        print(f"counting one alert ({writes} each, taking turns):")
        print(f"    bare insert_one of the alert     {bare * 1000:7.2f} ms")
        print(f"    its roll-ups (5 documents)       {counted * 1000:7.2f} ms  "
              f"({counted / bare:5.1f}× bare insert)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.repeats, args.writes))
