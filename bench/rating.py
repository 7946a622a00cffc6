"""Rating benchmark: the reply parser, the weekly report over many stored ratings, and what a roll-up costs.

    .venv/bin/python bench/rating.py [--sizes 100000 1000000] [--repeats 15] [--writes 300] [--batches 30]
                                     [--batch 32]

Starts its own nx-27017 on a free loopback port and, in one run:
  parser   replies/s of `parse_reply` over a mix of real-looking replies (short, long, invalid UTF-8)
  write    storing one rating through the service's unit of work (the document with its roll-up
           entry staged, then three cells updated with their marks, then the entry unstaged) next
           to a bare `insert_one` of the same document into a collection with the same indexes,
           taking turns; medians per rating
  batches  a batch of `--batch` ratings stored at once (the consume loop hands a fetched batch over),
           next to the bare sequential loop's `insert_one` each and one `insert_many`, taking turns
  report   `GET /v1/reports/weekly`'s use case (by officer, unit, station) with N ratings stored
           (bulk-inserted with their roll-ups), next to a bare `find_one` by id of one roll-up cell
Prints medians and ratios against the baselines of this run.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services")]

from bench_store import print_against_baseline, store_client  # noqa: E402

from common import mongo  # noqa: E402
from common.clock import FakeClock  # noqa: E402
from common.fakes import FakePublisher  # noqa: E402
from rating import handlers  # noqa: E402
from rating.adapters.store import INDEXES  # noqa: E402
from rating.bootstrap import wire  # noqa: E402
from rating.domain import Rating, merge, parse_reply, rebuild  # noqa: E402
from rating.settings import RatingSettings  # noqa: E402

REPLIES = [
    "1", "１", " 2 ", "3", "满意", "基本满意", "不满意", "非常满意", "很不满意", "满意，谢谢民警", "3 态度差",
    "一般", "还行", "👍", "ok", "", "不太满意", "回复1", "2基本满意 A7K3", "TD", "退订", "没有不满意",
    "满意" * 300, "民警来得很快，处理得很好，非常满意！" * 20, b"\xff\xfe1\x00\x80", "1 3", "13", "2个小时才到",
]
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 2026-W02, 10:00 in the station
OFFICERS, UNITS, WEEKS = 200, 20, 52


def bench_parser(rounds: int = 5, per_round: int = 40_000) -> float:
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(per_round):
            parse_reply(REPLIES[i % len(REPLIES)])
        rates.append(per_round / (time.perf_counter() - started))
    return statistics.median(rates)


def generated(n: int, seed: int = 48) -> Iterator[Rating]:
    rng = random.Random(seed)
    zone = RatingSettings().zone
    for i in range(n):
        officer = rng.randrange(OFFICERS)
        at = START + timedelta(days=rng.randrange(WEEKS * 7), minutes=rng.randrange(600))
        channel = rng.choice(("sms", "sms", "phone", "on_site"))
        yield Rating.record(
            rating_id=f"rt-bench-{i:08d}", channel=channel, level=rng.choice(("satisfied",) * 6 + ("basically",) * 3
                                                                           + ("dissatisfied",)),
            subject_type="alert", subject_id=f"110-{i:08d}", officer_id=f"P{officer:04d}",
            unit_id=f"G{officer % UNITS:02d}", at=at, zone=zone,
            entered_by=None if channel == "sms" else "desk", survey_id=f"sv-{i:08d}" if channel == "sms" else None,
            phone=f"139{i:08d}",
        )


async def load(m, ratings: Iterator[Rating], batch: int = 10_000) -> float:
    """Bulk-insert the ratings as the service stores them, and their roll-ups; seconds taken."""
    started = time.perf_counter()
    codec = m.ratings.codec
    parts = []
    while chunk := list(itertools.islice(ratings, batch)):
        for r in chunk:
            r.events.clear()  # stored as they are: the roll-ups below are built in one go
        docs = [{"_id": r.rating_id, **codec.to_document(r), "version": 1, "outbox": {}} for r in chunk]
        await m.ratings.collection.insert_many(docs, ordered=False)
        parts.append(rebuild(ratings=chunk, surveys=[], followups=[], station=m.settings.station_id))
    await m.rollups.replace_all([r for r in merge(*parts).values() if any(r.counts.values())])
    return time.perf_counter() - started


async def bench_report(m, repeats: int) -> dict[str, float]:
    week = "2026-W20"
    cell = await m.rollups.collection.find_one({"week_scope": f"{week}|station"}, {"_id": 1})
    times: dict[str, list[float]] = {"baseline": [], "officer": [], "unit": [], "station": []}
    rows: dict[str, int] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        await m.rollups.collection.find_one({"_id": cell["_id"]})
        times["baseline"].append(time.perf_counter() - started)
        for by in ("officer", "unit", "station"):
            started = time.perf_counter()
            found = await handlers.weekly_report(m, week, by)
            times[by].append(time.perf_counter() - started)
            rows[by] = len(found)
    print(f"    rows in {week}: " + ", ".join(f"{by} {n}" for by, n in rows.items()))
    return {name: statistics.median(values) for name, values in times.items()}


async def bench_write(m, writes: int) -> tuple[float, float]:
    """Median seconds of a bare insert and of a rating stored with its roll-up, taking turns."""
    bare, kept = [], []
    scratch = m.ratings.collection.database["bare_inserts"]
    await scratch.create_indexes(INDEXES["ratings"])  # the same indexes: the difference is the roll-up
    for i, rating in enumerate(generated(writes, seed=7)):
        rating.rating_id = f"rt-write-{i:06d}"
        doc = {"_id": rating.rating_id, **m.ratings.codec.to_document(rating), "version": 1, "outbox": {}}
        started = time.perf_counter()
        await scratch.insert_one(doc)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        await m.rating_uow.add(rating)
        kept.append(time.perf_counter() - started)
    return statistics.median(bare), statistics.median(kept)


async def bench_batches(m, batches: int, size: int) -> tuple[float, float, float]:
    """Median seconds per rating when a batch's ratings are stored at once (as the consume loop hands a
    fetched batch over), next to the bare sequential loop's one `insert_one` each and one `insert_many`
    of the batch, taking turns: (bare insert_one, bare insert_many, service) per rating."""
    one, many, kept = [], [], []
    scratch = m.ratings.collection.database["bare_batches"]
    await scratch.create_indexes(INDEXES["ratings"])
    ratings = generated(batches * size, seed=11)
    for b in range(batches):
        batch = list(itertools.islice(ratings, size))
        for i, rating in enumerate(batch):
            rating.rating_id = f"rt-batch-{b:04d}-{i:03d}"
        docs = [{"_id": r.rating_id, **m.ratings.codec.to_document(r), "version": 1, "outbox": {}} for r in batch]
        started = time.perf_counter()
        for doc in docs:
            await scratch.insert_one({**doc, "_id": f"one-{doc['_id']}"})
        one.append((time.perf_counter() - started) / size)
        started = time.perf_counter()
        await scratch.insert_many([{**doc, "_id": f"many-{doc['_id']}"} for doc in docs], ordered=False)
        many.append((time.perf_counter() - started) / size)
        started = time.perf_counter()
        await asyncio.gather(*(m.rating_uow.add(r) for r in batch))
        kept.append((time.perf_counter() - started) / size)
    return statistics.median(one), statistics.median(many), statistics.median(kept)


async def main(sizes: list[int], repeats: int, writes: int, batches: int, batch: int) -> None:
    print(f"parser: {bench_parser():,.0f} replies/s (mix of {len(REPLIES)} replies, up to 600 characters)")
    async with store_client("rating") as client:
        for size in sizes:
            db = mongo.database(client, f"bench_{size}")
            m = wire(RatingSettings(environment="test"), db, FakeClock(START), FakePublisher())
            await mongo.ensure_indexes(db, {"rollups": INDEXES["rollups"]})
            seconds = await load(m, generated(size))
            cells = await db["rollups"].count_documents({})
            print(f"report with {size:,} ratings stored (loaded in {seconds:.0f} s, {cells:,} roll-up cells):")
            medians = await bench_report(m, repeats)
            print_against_baseline({k if k == "baseline" else f"weekly report by {k}": t for k, t in medians.items()},
                                   25)
        db = mongo.database(client, "bench_writes")
        m = wire(RatingSettings(environment="test"), db, FakeClock(START), FakePublisher())
        await mongo.ensure_indexes(db, INDEXES)
        bare, kept = await bench_write(m, writes)
        print(f"storing one rating ({writes} each, taking turns, all indexes of the service):")
        print(f"    bare insert_one            {bare * 1000:7.2f} ms")
        print(f"    with its roll-up           {kept * 1000:7.2f} ms  ({kept / bare:5.1f}× bare insert; "
              f"+{(kept - bare) * 1000:.2f} ms)")
        one, many, kept = await bench_batches(m, batches, batch)
        print(f"storing a batch of {batch} ratings at once ({batches} batches, taking turns; per rating):")
        print(f"    bare insert_one each       {one * 1000:7.2f} ms")
        print(f"    bare insert_many           {many * 1000:7.2f} ms")
        print(f"    with their roll-ups        {kept * 1000:7.2f} ms  ({kept / one:5.1f}× bare insert_one; "
              f"{kept / many:5.1f}× insert_many)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32, help="ratings stored at once (the consume loop's in hand)")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.repeats, args.writes, args.batches, args.batch))
