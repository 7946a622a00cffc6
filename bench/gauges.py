"""Gauges benchmark: what one read of each state-following gauge costs with 40,000 records stored, before and after.

    .venv/bin/python bench/gauges.py [--records 40000] [--counted 400] [--reads 31]

Starts its own nx-27017 on a free loopback port and stores, through each service's codec and with its indexes,
`--records` alerts, callbacks and follow-ups, the newest `--counted` of each in the counted state (alerts at
the duty desk, of every priority and reach; callbacks half manual, half overdue; follow-ups half open, half
overdue), the rest closed or done. Then, taking turns, it times each gauge's read as it was (a `count` of a
`state` equality; the oldest waiting alert by a sort on `received_at` of those `unassigned`) and as it is (a
range of a key held only while the record is counted), prints the medians and checks both give the same figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services")]

from bench_store import store_client  # noqa: E402

from common import mongo  # noqa: E402
from common.gauges import _count  # noqa: E402
from dispatch.adapters import store as dispatch_store  # noqa: E402
from dispatch.domain.alerts import Alert  # noqa: E402
from dispatch.domain.assignment import Candidate  # noqa: E402
from notify.adapters import store as notify_store  # noqa: E402
from notify.domain import Callback  # noqa: E402
from notify.domain.schedule import SendPolicy  # noqa: E402
from rating.adapters import store as rating_store  # noqa: E402
from rating.domain.model import Followup, Rating  # noqa: E402

NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")


def _doc(codec, record) -> dict:
    return {**codec.to_document(record), "_id": codec.ident(record), "version": 1, "outbox": {}}


def alerts(records: int, counted: int) -> list[dict]:
    docs, codec = [], dispatch_store.AlertCodec()
    for i in range(records):
        at = NOW - timedelta(seconds=(records - i) * 20)  # the newest last
        alert = Alert.receive(alert_id=f"110-{i:08d}", received_at=at, category="theft", priority=1 + i % 3,
                              lon=118.9651, lat=25.2284, address="枫亭镇", caller_phone=None, summary="电动车被盗",
                              source="110")
        if i >= records - counted:
            alert.send_to_duty_desk(at, beyond_reach=i % 5 == 0)
        else:
            alert.assign(Candidate(f"G{i % 40}", "zone", 120.0), at, timedelta(seconds=60))
            alert.close(f"G{i % 40}", "P1001", "no_action", "误报", {}, at + timedelta(minutes=20))
        docs.append(_doc(codec, alert))
    return docs


def callbacks(records: int, counted: int) -> list[dict]:
    docs, codec = [], notify_store.CallbackCodec()
    for i in range(records):
        start = NOW - timedelta(minutes=(records - i))
        overdue = i % 2 == 0
        due = start + (timedelta(minutes=1) if overdue else timedelta(days=7))
        callback = Callback.schedule(now=start, case_id=f"A-{i:08d}", party_id="p1", rule="unsolved_7d",
                                     start_at=start, due_at=due, policy=SendPolicy())  # no phone: manual
        if i < records - counted:
            callback.complete(now=start, channel="phone", reached=True, completed_by="P1001", level="satisfied",
                              objection_within=timedelta(days=3))
        elif overdue:
            callback.check_deadlines(due)
        docs.append(_doc(codec, callback))
    return docs


def followups(records: int, counted: int) -> list[dict]:
    docs = []
    for i in range(records):
        at = NOW - timedelta(minutes=(records - i))
        rating = Rating.record(rating_id=f"r-{i:08d}", channel="on_site", level="dissatisfied", subject_type="service",
                               subject_id=f"W-{i}", officer_id="P1002", unit_id="G2", at=at, zone=ZONE,
                               entered_by="desk-1")
        followup = Followup.open(rating, now=at)
        if i < records - counted:
            followup.complete(now=at, actor="leader", findings="已核实", actions="已回访")
        elif i % 2 == 0:
            followup.check_deadline(followup.due_at + timedelta(seconds=1))
        docs.append(_doc(rating_store.FOLLOWUPS, followup))
    return docs


async def median_ms(read: Callable[[], Awaitable[object]], reads: int) -> tuple[float, object]:
    value = await read()  # warm
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        value = await read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), value


async def main(records: int, counted: int, reads: int) -> None:
    async with store_client("gauges") as client:
        db = client["bench_gauges"]
        await mongo.ensure_indexes(db, dispatch_store.INDEXES | notify_store.INDEXES | rating_store.INDEXES)
        for name, docs in (("alerts", alerts(records, counted)), ("callbacks", callbacks(records, counted)),
                           ("followups", followups(records, counted))):
            for start in range(0, len(docs), 2000):
                await db[name].insert_many(docs[start : start + 2000])
        alert_store = dispatch_store.AlertStore(db)

        async def oldest_by_state() -> datetime:
            doc = await db["alerts"].find_one({"state": "unassigned"}, {"received_at": 1},
                                              sort=[("received_at", 1)])
            return doc["received_at"].replace(tzinfo=UTC)

        def count(name: str, *queries: dict) -> Callable[[], Awaitable[int]]:
            async def read() -> int:
                return sum([await _count(db[name], q) for q in queries])
            return read

        rows = [
            ("fengqiao_alerts_waiting", count("alerts", {"state": "unassigned"}),
             count("alerts", dispatch_store.WAITING)),
            ("fengqiao_alerts_waiting_oldest_seconds", oldest_by_state, alert_store.oldest_waiting),
            ("fengqiao_callbacks_manual", count("callbacks", {"state": "manual"}),
             count("callbacks", notify_store.MANUAL)),
            ("fengqiao_callbacks_overdue", count("callbacks", {"state": "overdue"}),
             count("callbacks", notify_store.overdue(NOW))),
            ("fengqiao_followups_open", count("followups", {"state": "open"}, {"state": "overdue"}),
             count("followups", rating_store.FOLLOWUPS_UNDONE)),
        ]
        print(f"{records:,} records per collection, {counted:,} counted; medians of {reads} reads")
        print(f"{'gauge':42} {'before (state)':>16} {'after (key)':>13}  figure")
        for name, before, after in rows:
            (was_ms, was), (now_ms, now) = await median_ms(before, reads), await median_ms(after, reads)
            assert was == now, f"{name}: {was} by state, {now} by key"
            print(f"{name:42} {was_ms:13.2f} ms {now_ms:10.2f} ms  {now}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--counted", type=int, default=400)
    parser.add_argument("--reads", type=int, default=31)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.counted, args.reads))
