"""Dispatch benchmark: alert -> alerts.assigned through the running service, next to a bare baseline.

    .venv/bin/python bench/dispatch.py [--rate 100] [--seconds 30] [--burst 1500] [--repeats 3]

Starts its own nats-server and nx-27017 on free loopback ports, then for each of
  baseline  a trivial JetStream consumer (same consume loop) that writes one document
            to the same store and publishes one event
  dispatch  `fengqiao serve dispatch` with a grid of generous capacity
measures, in one run: latency alert -> output at a fixed rate (p50, p99) and
throughput flat out. Prints a table; ratios are against the baseline of this run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import bus  # noqa: E402
from common.consume import ConsumeLoop, Consumer, Delivery  # noqa: E402
from common.contracts.alerts import AlertReceived  # noqa: E402
from common.contracts.subjects import ALERTS_ASSIGNED, ALERTS_RECEIVED  # noqa: E402
from common.embedded import free_port, start_nats, start_store, wait_for_port  # noqa: E402
from common.settings import DEVELOPMENT_TOKEN  # noqa: E402

BASELINE_OUT = "alerts.bench_baseline"
WARM_UP = 200
LON0, LAT0 = 118.90, 25.17


def _alert(alert_id: str, lon: float, lat: float) -> bytes:
    return json.dumps({
        "alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
        "location": {"lon": lon, "lat": lat}, "caller_phone": "13800138000", "summary": "bench",
    }).encode()


async def baseline_worker(nats_url: str, mongo_url: str) -> None:
    """The bare baseline: read, write one document, publish."""
    from common import mongo

    nc = await bus.connect(nats_url, "bench-baseline")
    js = nc.jetstream()
    db = mongo.database(mongo.client(mongo_url), "bench_baseline")
    publisher = bus.Publisher(js)

    async def handle(event: AlertReceived, delivery: Delivery) -> None:
        await db.alerts.insert_one({"_id": event.alert_id, "at": event.received_at})
        await publisher.publish_raw(BASELINE_OUT, json.dumps({"alert_id": event.alert_id}).encode(), event.alert_id)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await ConsumeLoop(js, publisher, Consumer("bench-baseline", ALERTS_RECEIVED, AlertReceived, handle)).run(stop)
    await nc.drain()


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


class _Probe:
    """Publishes alerts and times each one until its output event is seen."""

    def __init__(self, nc, prefix: str) -> None:
        self._js = nc.jetstream()
        self._prefix = prefix
        self._rng = random.Random(48)  # the same points for the baseline and for dispatch
        self.sent: dict[str, float] = {}
        self.latencies: dict[str, float] = {}
        self._done = asyncio.Event()
        self._expected = 0

    async def on_out(self, msg) -> None:
        alert_id = json.loads(msg.data)["alert_id"]
        if alert_id in self.sent and alert_id not in self.latencies:
            self.latencies[alert_id] = time.perf_counter() - self.sent[alert_id]
            if len(self.latencies) >= self._expected:
                self._done.set()

    async def run(self, phase: str, count: int, rate: float | None, timeout: float) -> float:
        """Send `count` alerts (at `rate` per second, or flat out); return the seconds until the last output."""
        self.sent.clear()
        self.latencies.clear()
        self._done.clear()
        self._expected = count
        start = time.perf_counter()
        for i in range(count):
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            alert_id = f"{self._prefix}-{phase}{i}"
            self.sent[alert_id] = time.perf_counter()
            lon, lat = _point(self._rng)
            await self._js.publish_async(ALERTS_RECEIVED, _alert(alert_id, lon, lat), headers={"Nats-Msg-Id": alert_id})
        await self._js.publish_async_completed()
        await asyncio.wait_for(self._done.wait(), timeout)
        return max(self.sent[a] + self.latencies[a] for a in self.latencies) - start


async def _measure(nc, out_subject: str, prefix: str, *, rate: float, seconds: float, burst: int,
                   repeats: int, trace: Path | None = None) -> dict:
    probe = _Probe(nc, prefix)
    sub = await nc.subscribe(out_subject, cb=probe.on_out)
    await probe.run("w", WARM_UP, 200, 60)  # connection pools, caches, the first grid read: not measured
    await probe.run("r", int(rate * seconds), rate, 60 + seconds)
    if trace is not None:  # when each alert was sent (s from the first) and how long it took (ms)
        start = min(probe.sent.values())
        trace.write_text("".join(f"{probe.sent[a] - start:.4f},{lat * 1000:.2f}\n"
                                 for a, lat in sorted(probe.latencies.items(), key=lambda kv: probe.sent[kv[0]])))
    fixed = sorted(probe.latencies.values())
    rates = [burst / await probe.run(f"b{k}-", burst, None, 300) for k in range(repeats)]
    await sub.unsubscribe()
    return {
        "p50_ms": statistics.median(fixed) * 1000,
        "p99_ms": fixed[int(len(fixed) * 0.99) - 1] * 1000,
        "max_ms": fixed[-1] * 1000,
        "throughput": statistics.median(rates),
    }


async def _purge(nc) -> None:
    js = nc.jetstream()
    for consumer in ("bench-baseline", "dispatch-alerts-received"):
        with contextlib.suppress(Exception):
            await js.delete_consumer("ALERTS", consumer)
    await js.purge_stream("ALERTS")


SIDE, CELL = 30, 0.004  # a 30 x 30 grid of ~400 m cells over the town: 900 units


def _bench_grid() -> dict:
    """900 units of capacity 12: enough room that the run measures placing, not the duty desk."""
    features = []
    for i in range(SIDE):
        for j in range(SIDE):
            x, y = LON0 + i * CELL, LAT0 + j * CELL
            ring = [[x, y], [x + CELL, y], [x + CELL, y + CELL], [x, y + CELL], [x, y]]
            features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": {"unit_id": f"U{i:02d}{j:02d}", "post": [x + CELL / 2, y + CELL / 2],
                                            "officers": [f"P{i:02d}{j:02d}{k}" for k in range(3)], "capacity": 12}})
    return {"type": "FeatureCollection", "features": features}


def _point(rng: random.Random) -> tuple[float, float]:
    return LON0 + rng.random() * SIDE * CELL, LAT0 + rng.random() * SIDE * CELL


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fq-bench-"))
    nats, store = start_nats(tmp), start_store(tmp)
    procs: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    try:
        nc = await bus.connect(nats.url, "bench")
        await bus.ensure_streams(nc.jetstream())

        base = _spawn([sys.executable, __file__, "_baseline", nats.url, store.url], {}, tmp / "baseline.log")
        procs.append(base)
        await asyncio.sleep(1.0)
        results["baseline (read, 1 write, publish)"] = await _measure(
            nc, BASELINE_OUT, "b", rate=args.rate, seconds=args.seconds, burst=args.burst,
            repeats=args.repeats, trace=args.trace and args.trace / "baseline.csv")
        base.terminate()
        base.wait(20)
        await _purge(nc)

        port = free_port()
        # Nobody acknowledges in the bench: with the default 60 s the warm-up alerts would time out
        # mid-run and a storm of reassignments (200 a second) would be measured, not the placing.
        env = {"FQ_DISPATCH_ACK_TIMEOUT_S": "3600", **dict(kv.split("=", 1) for kv in args.env),
               "FQ_DISPATCH_NATS_URL": nats.url, "FQ_DISPATCH_MONGO_URL": store.url, "FQ_DISPATCH_HTTP_PORT": str(port),
               "FQ_DISPATCH_MONGO_DB": "bench_dispatch", "FQ_DISPATCH_LOG_JSON": "true"}
        disp = _spawn([sys.executable, "-m", "fengqiao", "serve", "dispatch"], env, tmp / "dispatch.log")
        procs.append(disp)
        wait_for_port(port, 30, disp, "dispatch")
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}) as http:
            response = await http.put(f"http://127.0.0.1:{port}/v1/grid", json=_bench_grid())
            response.raise_for_status()
        results["dispatch (rank, claim, insert, publish)"] = await _measure(
            nc, ALERTS_ASSIGNED, "d", rate=args.rate, seconds=args.seconds, burst=args.burst,
            repeats=args.repeats, trace=args.trace and args.trace / "dispatch.csv")
        await nc.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)
        nats.stop()
        store.stop()

    baseline = next(iter(results.values()))
    print(f"\nalert -> output, {args.rate:.0f}/s for {args.seconds:.0f}s (latency); "
          f"{args.burst} flat out, median of {args.repeats} (throughput)")
    print(f"{'path':<42}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'msg/s':>9}{'vs base':>9}")
    for name, r in results.items():
        print(f"{name:<42}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}{r['throughput']:>9.0f}"
              f"{r['throughput'] / baseline['throughput']:>8.0%}")
    print("targets: dispatch p99 <= 20 ms at 100/s; throughput >= 50 % of the baseline")
    geo = ROOT / "bench" / "geo.py"
    if geo.exists():
        print()
        subprocess.run([sys.executable, str(geo)], check=False)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        asyncio.run(baseline_worker(sys.argv[2], sys.argv[3]))
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--rate", type=float, default=100.0)
        parser.add_argument("--seconds", type=float, default=30.0,
                            help="length of the fixed-rate run: 30 s takes in the periodic sweeps")
        parser.add_argument("--burst", type=int, default=1500)
        parser.add_argument("--repeats", type=int, default=3, help="flat-out runs; their median is reported")
        parser.add_argument("--trace", type=Path, metavar="DIR",
                            help="write each fixed-rate alert's send time and latency to DIR/<path>.csv")
        parser.add_argument("--env", action="append", default=[], metavar="FQ_DISPATCH_X=V",
                            help="a dispatch setting for this run (repeatable)")
        asyncio.run(main(parser.parse_args()))
