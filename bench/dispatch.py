"""Dispatch benchmark: alert -> alerts.assigned through the running service, next to a bare baseline.

    .venv/bin/python bench/dispatch.py [--rate 100] [--seconds 30] [--rounds 3] [--burst 1500] [--repeats 3]
                                      [--desk 10000] [--frees 10]

Starts its own nats-server and nx-27017 on free loopback ports, and beside each other
  baseline  a trivial JetStream consumer (same consume loop) that writes one document
            to the same store and publishes one event
  dispatch  `fengqiao serve dispatch` with a grid of generous capacity
each on its own input subject. Then, in one run, it measures the latency alert -> output
at a fixed rate (p50, p99) in `--rounds` windows that take turns between the two paths, so
a noisy minute of the machine falls on both, and the throughput flat out (`--repeats`
bursts each, taking turns too). Prints a table: medians over the windows, the spread of
p99, p99 of all windows pooled; ratios are against the baseline of this run.

The duty desk, in the same run: after the first windows, one more unit far from the town
(one place, taken) gets `--desk` alerts within its reach only, of every priority and age: they
wait at the duty desk. The fixed-rate windows are run again beside them (their p99 against the
empty desk's), then the bursts. Last, the far unit's alert is closed `--frees` times over HTTP:
the time from the close to the first alert of the queue (most urgent, then oldest) assigned there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import bus  # noqa: E402
from common.consume import ConsumeLoop, Consumer, Delivery  # noqa: E402
from common.contracts.alerts import AlertReceived  # noqa: E402
from common.contracts.subjects import ALERTS_ASSIGNED, ALERTS_RECEIVED, ALERTS_UNASSIGNED  # noqa: E402
from common.settings import DEVELOPMENT_TOKEN  # noqa: E402
from fengqiao.embedded import free_port, start_nats, start_store, wait_for_port  # noqa: E402

BASELINE_IN = "alerts.bench_received"  # in the ALERTS stream; dispatch does not read it
BASELINE_OUT = "alerts.bench_baseline"
BATCHED_IN, BATCHED_OUT = "alerts.bench_batched", "alerts.bench_batched_out"  # the bare batched loop (bench/bare.py)
WARM_UP = 200
LON0, LAT0 = 118.90, 25.17


def _alert(alert_id: str, lon: float, lat: float, priority: int = 2,
           received_at: str = "2026-11-23T08:15:00+08:00") -> bytes:
    return json.dumps({
        "alert_id": alert_id, "received_at": received_at, "category": "dispute", "priority": priority,
        "location": {"lon": lon, "lat": lat}, "caller_phone": "13800138000", "summary": "bench",
    }).encode()


class BaselineAlert(AlertReceived):
    """The same alert, fed to the baseline on its own subject."""

    subject: ClassVar[str] = BASELINE_IN


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
    baseline = Consumer("bench-baseline", BaselineAlert, handle)
    await ConsumeLoop(js, publisher, baseline).run(stop)
    await nc.drain()


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


#: an alert's body from its id and the probe's random points
Body = Callable[[str, random.Random], bytes]


class _Probe:
    """Publishes alerts and times each one until its output event is seen."""

    def __init__(self, nc, subject: str, prefix: str, body: Body | None = None) -> None:
        self._js = nc.jetstream()
        self._subject = subject
        self._prefix = prefix
        self._rng = random.Random(48)  # the same points for the baseline and for dispatch
        self._body = body or (lambda alert_id, rng: _alert(alert_id, *_point(rng)))
        self.sent: dict[str, float] = {}
        self.latencies: dict[str, float] = {}
        self._done = asyncio.Event()
        self._expected = 0

    async def on_out(self, msg) -> None:
        body = json.loads(msg.data)
        alert_id = body.get("alert_id") or body.get("id")
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
            body = self._body(alert_id, self._rng)
            await self._js.publish_async(self._subject, body, headers={"Nats-Msg-Id": alert_id})
        await self._js.publish_async_completed()
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:  # reported with what came out, not a crash of the whole run
            print(f"    {self._prefix}-{phase}: {len(self.latencies)} of {count} out after {timeout:.0f} s", flush=True)
        return max((self.sent[a] + self.latencies[a] for a in self.latencies), default=start + timeout) - start


@dataclass
class BenchPath:
    """One path through the bench: where its alerts go in, where its answers come out."""

    name: str
    subject_in: str
    subject_out: str
    prefix: str
    windows: list[list[float]] = field(default_factory=list)  # latencies (s) of each fixed-rate window
    rates: list[float] = field(default_factory=list)  # msg/s of each burst
    probe: _Probe | None = None
    pid: int = 0  # the process that handles this path's alerts
    cpu_ms: list[float] = field(default_factory=list)  # its CPU per alert in each burst, then the store's
    store_cpu_ms: list[float] = field(default_factory=list)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far: per alert, steadier than rates on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)]


async def _windows(paths: list[BenchPath], args: argparse.Namespace, phase: str) -> None:
    """`--rounds` fixed-rate windows of each path, taking turns."""
    for round_ in range(args.rounds):
        for path in paths:
            await path.probe.run(f"{phase}{round_}-", int(args.rate * args.seconds), args.rate, 60 + args.seconds)
            path.windows.append(list(path.probe.latencies.values()) or [60.0 + args.seconds])
            window = path.windows[-1]
            print(f"    window {phase}{round_} {path.name}: {len(window)} out, p50 {_p(window, 0.5) * 1000:.1f} ms, "
                  f"p99 {_p(window, 0.99) * 1000:.1f} ms", flush=True)
            if args.trace is not None:  # when each alert was sent (s from the first) and how long it took (ms)
                probe = path.probe
                start = min(probe.sent.values())
                with open(args.trace / f"{path.prefix}{phase}{round_}.csv", "w") as out:
                    out.writelines(f"{probe.sent[a] - start:.4f},{lat * 1000:.2f}\n"
                                   for a, lat in sorted(probe.latencies.items(), key=lambda kv: probe.sent[kv[0]]))


@dataclass
class DeskFigures:
    waiting: int = 0
    fill_s: float = 0.0
    freed_ms: list[float] = field(default_factory=list)  # a place freed -> the oldest urgent alert assigned there
    right: int = 0  # frees that went to the alert first in the queue


def _desk_body(queue: dict[str, tuple[int, int, str]]) -> Body:
    """Alerts near the remote unit, of every priority and age; `queue` keeps each one's rank."""

    def body(alert_id: str, rng: random.Random) -> bytes:
        priority, ms = rng.choice((1, 2, 2, 3)), rng.randrange(0, 3_600_000)
        queue[alert_id] = (priority, ms, alert_id)
        received = datetime(2026, 11, 23, 7, 0, tzinfo=UTC) + timedelta(milliseconds=ms)
        return _alert(alert_id, REMOTE[0] + rng.uniform(-CELL, CELL), REMOTE[1] + rng.uniform(-CELL, CELL),
                      priority, received.isoformat())

    return body


async def _fill_desk(nc, args: argparse.Namespace, figures: DeskFigures, queue: dict) -> None:
    """The remote unit takes one alert; then `--desk` more within its reach wait at the duty desk."""
    first = _Probe(nc, ALERTS_RECEIVED, "remote", lambda alert_id, rng: _alert(alert_id, *REMOTE))
    sub = await nc.subscribe(ALERTS_ASSIGNED, cb=first.on_out)
    await first.run("held", 1, None, 60)
    await sub.unsubscribe()
    desk = _Probe(nc, ALERTS_RECEIVED, "q", _desk_body(queue))
    sub = await nc.subscribe(ALERTS_UNASSIGNED, cb=desk.on_out)
    figures.fill_s = await desk.run("", args.desk, None, 600)
    figures.waiting = len(desk.latencies)
    await sub.unsubscribe()


async def _free_places(nc, http, base: str, args: argparse.Namespace, figures: DeskFigures, queue: dict) -> None:
    """Close the remote unit's alert `--frees` times: how soon is the first alert of the queue placed there?"""
    assigned: asyncio.Queue = asyncio.Queue()

    async def on_assigned(msg) -> None:
        body = json.loads(msg.data)
        if body.get("unit_id") == REMOTE_UNIT:
            await assigned.put((time.perf_counter(), body["alert_id"]))

    sub = await nc.subscribe(ALERTS_ASSIGNED, cb=on_assigned)
    holder = "remote-held0"
    close = {"unit_id": REMOTE_UNIT, "officer_id": "R0", "disposition": "no_action"}
    for _ in range(args.frees):
        await asyncio.sleep(0.5)
        expected = min(queue.values())[2]
        start = time.perf_counter()
        (await http.post(f"{base}/v1/alerts/{holder}/close", json=close)).raise_for_status()
        at, holder = await asyncio.wait_for(assigned.get(), 30)
        figures.freed_ms.append((at - start) * 1000)
        figures.right += holder == expected
        queue.pop(holder, None)
    await sub.unsubscribe()


async def _measure(nc, http, base: str, paths: list[BenchPath], desk_path: BenchPath, args: argparse.Namespace,
                   figures: DeskFigures) -> None:
    subs = []
    for path in [*paths, desk_path]:
        path.probe = _Probe(nc, path.subject_in, path.prefix)
        subs.append(await nc.subscribe(path.subject_out, cb=path.probe.on_out))
    for path in paths:
        await path.probe.run("w", WARM_UP, 200, 60)  # connection pools, caches, the first grid read: not measured
    await _windows(paths, args, "r")
    queue: dict[str, tuple[int, int, str]] = {}
    if args.desk:
        await _fill_desk(nc, args, figures, queue)
        await _windows([paths[0], desk_path], args, "q")
    for k in range(args.repeats):
        for path in paths:
            own, store = _cpu_s(path.pid), _cpu_s(args.store_pid)
            path.rates.append(args.burst / await path.probe.run(f"b{k}-", args.burst, None, 300))
            path.cpu_ms.append((_cpu_s(path.pid) - own) * 1000 / args.burst)
            path.store_cpu_ms.append((_cpu_s(args.store_pid) - store) * 1000 / args.burst)
    if args.desk:
        await _free_places(nc, http, base, args, figures, queue)
    for sub in subs:
        await sub.unsubscribe()


SIDE, CELL = 30, 0.004  # a 30 x 30 grid of ~400 m cells over the town: 900 units
#: one more unit of one place ~100 km away: the alerts waiting at the duty desk in the bench are within its
#: reach only, so that each one could be placed as soon as the unit has room, and none before
REMOTE_UNIT, REMOTE = "R1", (LON0 + 1.0, LAT0)


def _bench_grid() -> dict:
    """900 units of capacity 40: nobody closes an alert in the bench, and ~14,000 alerts (~15 a unit on
    average) must all find room near their point, so that the run measures placing, not overflow."""
    features = []
    for i in range(SIDE):
        for j in range(SIDE):
            x, y = LON0 + i * CELL, LAT0 + j * CELL
            ring = [[x, y], [x + CELL, y], [x + CELL, y + CELL], [x, y + CELL], [x, y]]
            features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": {"unit_id": f"U{i:02d}{j:02d}", "post": [x + CELL / 2, y + CELL / 2],
                                            "officers": [f"P{i:02d}{j:02d}{k}" for k in range(3)], "capacity": 40}})
    x, y = REMOTE[0] - CELL / 2, REMOTE[1] - CELL / 2
    ring = [[x, y], [x + CELL, y], [x + CELL, y + CELL], [x, y + CELL], [x, y]]
    features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                     "properties": {"unit_id": REMOTE_UNIT, "post": list(REMOTE), "officers": ["R0", "R1", "R2"],
                                    "capacity": 1}})
    return {"type": "FeatureCollection", "features": features}


def _point(rng: random.Random) -> tuple[float, float]:
    return LON0 + rng.random() * SIDE * CELL, LAT0 + rng.random() * SIDE * CELL


async def _ready(http: httpx.AsyncClient, base: str, timeout_s: float = 60.0) -> None:
    """The service answers HTTP at once and is ready once its NATS and store are: wait for that."""
    deadline = time.monotonic() + timeout_s
    while (await http.get(f"{base}/readyz")).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"dispatch not ready within {timeout_s} s")
        await asyncio.sleep(0.2)


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fq-bench-"))
    nats, store = start_nats(tmp), start_store(tmp)
    procs: list[subprocess.Popen] = []
    paths = [BenchPath("baseline (read, 1 write, publish)", BASELINE_IN, BASELINE_OUT, "b"),
             BenchPath("bare batched (fetch, insert_many, ack, publish)", BATCHED_IN, BATCHED_OUT, "x"),
             BenchPath("dispatch (rank, insert in a place, publish)", ALERTS_RECEIVED, ALERTS_ASSIGNED, "d")]
    desk_path = BenchPath(f"dispatch, {args.desk:,} at the duty desk", ALERTS_RECEIVED, ALERTS_ASSIGNED, "e")
    figures = DeskFigures()
    try:
        nc = await bus.connect(nats.url, "bench")
        await bus.ensure_streams(nc.jetstream())
        procs.append(_spawn([sys.executable, __file__, "_baseline", nats.url, store.url], {}, tmp / "baseline.log"))
        procs.append(_spawn([sys.executable, str(ROOT / "bench" / "bare.py"), "batched", nats.url, store.url,
                             BATCHED_IN, BATCHED_OUT, "bench-bare-batched", "bench_bare"], {}, tmp / "bare.log"))

        port = free_port()
        # Nobody acknowledges in the bench: with the default 60 s the warm-up alerts would time out
        # mid-run and a storm of reassignments (200 a second) would be measured, not the placing.
        env = {"FQ_DISPATCH_ACK_TIMEOUT_S": "3600", **dict(kv.split("=", 1) for kv in args.env),
               "FQ_DISPATCH_NATS_URL": nats.url, "FQ_DISPATCH_MONGO_URL": store.url, "FQ_DISPATCH_HTTP_PORT": str(port),
               "FQ_DISPATCH_MONGO_DB": "bench_dispatch", "FQ_DISPATCH_LOG_JSON": "true"}
        disp = _spawn([sys.executable, "-m", "fengqiao", "serve", "dispatch"], env, tmp / "dispatch.log")
        procs.append(disp)
        for path, proc in zip(paths, procs, strict=True):
            path.pid = proc.pid
        args.store_pid = store.process.pid
        wait_for_port(port, 30, disp, "dispatch")
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}, timeout=30) as http:
            await _ready(http, base)
            (await http.put(f"{base}/v1/grid", json=_bench_grid())).raise_for_status()
            await _measure(nc, http, base, paths, desk_path, args, figures)
        await nc.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)
        nats.stop()
        store.stop()
    _report(paths, desk_path, figures, args)
    geo = ROOT / "bench" / "geo.py"
    if geo.exists():
        print()
        subprocess.run([sys.executable, str(geo)], check=False)


def _report(paths: list[BenchPath], desk_path: BenchPath, figures: DeskFigures, args: argparse.Namespace) -> None:
    base = statistics.median(paths[0].rates)
    batched = statistics.median(paths[1].rates)
    print(f"\nalert -> output at {args.rate:.0f}/s: {args.rounds} windows of {args.seconds:.0f} s each, taking turns "
          f"(p50, p99: median of the windows; p99 all: the windows pooled)\n"
          f"throughput: {args.burst} flat out, median of {args.repeats}"
          + (f" (with {figures.waiting:,} at the duty desk)" if args.desk else ""))
    print(f"{'path':<44}{'p50 ms':>8}{'p99 ms':>8}{'p99 each window':>22}{'p99 all':>9}{'max ms':>8}"
          f"{'msg/s':>7}{'vs base':>8}{'vs batched':>11}")
    for path in [*paths, *([desk_path] if desk_path.windows else [])]:
        each = [_p(w, 0.99) * 1000 for w in path.windows]
        pooled = [x for w in path.windows for x in w]
        median_rate = statistics.median(path.rates) if path.rates else None
        rate = (f"{median_rate:>7.0f}{median_rate / base:>8.0%}{median_rate / batched:>11.0%}"
                if median_rate else "")
        print(f"{path.name:<44}{statistics.median(statistics.median(w) for w in path.windows) * 1000:>8.2f}"
              f"{statistics.median(each):>8.2f}{' / '.join(f'{x:.1f}' for x in each):>22}"
              f"{_p(pooled, 0.99) * 1000:>9.2f}{max(pooled) * 1000:>8.1f}{rate}")
    print("targets: dispatch p99 <= 20 ms at 100/s; throughput >= 50 % of the bare batched loop")
    print("rates of each burst: " + "; ".join(f"{p.prefix} {[round(r) for r in p.rates]}" for p in paths))
    print("CPU ms per alert flat out (median of the bursts; the path's process, then the store): " + "; ".join(
        f"{p.prefix} {statistics.median(p.cpu_ms):.2f} + {statistics.median(p.store_cpu_ms):.2f}" for p in paths))
    if desk_path.windows:
        empty = statistics.median(_p(w, 0.99) for w in paths[-1].windows)
        full = statistics.median(_p(w, 0.99) for w in desk_path.windows)
        print(f"\nduty desk: {figures.waiting:,} waiting (placed there in {figures.fill_s:.1f} s); "
              f"p99 {full * 1000:.2f} ms against {empty * 1000:.2f} ms with the desk empty: x{full / empty:.2f} "
              f"(target <= x2)")
        if figures.freed_ms:
            print(f"a place freed (close over HTTP) -> the first alert of the queue assigned there: "
                  f"median {statistics.median(figures.freed_ms):.1f} ms, max {max(figures.freed_ms):.1f} ms "
                  f"over {len(figures.freed_ms)}; the first of the queue {figures.right}/{len(figures.freed_ms)} times")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        asyncio.run(baseline_worker(sys.argv[2], sys.argv[3]))
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--rate", type=float, default=100.0)
        parser.add_argument("--seconds", type=float, default=30.0,
                            help="length of one fixed-rate window: 30 s takes in the periodic sweeps")
        parser.add_argument("--rounds", type=int, default=3, help="fixed-rate windows of each path, taking turns")
        parser.add_argument("--burst", type=int, default=1500)
        parser.add_argument("--repeats", type=int, default=3, help="flat-out runs; their median is reported")
        parser.add_argument("--desk", type=int, default=10_000,
                            help="alerts left waiting at the duty desk before the second series of windows (0: none)")
        parser.add_argument("--frees", type=int, default=10,
                            help="places freed while alerts wait: the time until the first of the queue is placed")
        parser.add_argument("--trace", type=Path, metavar="DIR",
                            help="write each fixed-rate alert's send time and latency to DIR/<b|d><window>.csv")
        parser.add_argument("--env", action="append", default=[], metavar="FQ_DISPATCH_X=V",
                            help="a dispatch setting for this run (repeatable)")
        asyncio.run(main(parser.parse_args()))
