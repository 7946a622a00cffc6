"""notify benchmark: case events through the service, pending callbacks at scale, a minute of 10,000 sends.

    .venv/bin/python bench/notify.py [--events 2000] [--rounds 3] [--pending 1000000] [--due 10000]

Starts its own nats-server and nx-27017 on free loopback ports and `python -m notify` beside them
(real clock; SMS allowed at any hour so the figures do not depend on when it runs), and prints:

1. scheduling: `cases.accepted` (one party) events/s through notify, next to a bare baseline in the same
   run — a consume loop that inserts one document per event and acks — in `--rounds` bursts taking turns;
   a burst ends when the durable consumer has nothing pending or unacknowledged;
2. pending callbacks: the service's resident memory and one sweep tick (nothing due; then `--sample-due`
   due among them), at 10,000 and at `--pending` stored callbacks (bulk-inserted);
3. 10,000 callbacks falling due in the same minute: how late the last `sms.send` is published after its
   send time, next to the time the bare store takes for 10,000 single-document updates (sequential, and
   with the sweep's concurrency) on the same collection, in `--due-rounds` rounds taking turns.
Medians over rounds; ratios against the baselines of this run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# this file is named like the service's package: import the package, not this file
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from common import bus, mongo  # noqa: E402
from common.clock import SystemClock  # noqa: E402
from common.consume import ConsumeLoop, Consumer, Delivery  # noqa: E402
from common.contracts.cases import CaseAccepted  # noqa: E402
from common.fakes import FakePublisher  # noqa: E402
from fengqiao.embedded import free_port, start_nats, start_store, wait_for_port  # noqa: E402
from notify import handlers  # noqa: E402
from notify.adapters.store import CallbackCodec, CallbackQuery, MongoCallbacks, mongo_cases  # noqa: E402
from notify.domain import Callback, SendPolicy  # noqa: E402
from notify.handlers import Notify  # noqa: E402
from notify.settings import NotifySettings  # noqa: E402

BASELINE_SUBJECT = "cases.bench_accepted"  # in the CASES stream; notify does not read it
BASELINE_DURABLE = "bench-baseline"
SEQUENTIAL_SUBJECT, SEQUENTIAL_DURABLE = "cases.bench_sequential", "bench-bare-sequential"  # bench/bare.py
SERVICE_DURABLE = "notify-cases-accepted"
SERVICE_DB = "bench_notify"
ANY_HOUR = {"FQ_NOTIFY_SMS_ALLOWED_FROM": "00:00:00", "FQ_NOTIFY_SMS_ALLOWED_UNTIL": "23:59:59.999999"}
INSERT_BATCH = 5_000


def _case(case_id: str) -> bytes:
    return json.dumps({
        "case_id": case_id, "kind": "criminal", "accepted_at": datetime.now(UTC).isoformat(),
        "officer_id": "P1001", "unit_id": "G1",
        "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001", "role": "victim"}],
    }).encode()


async def baseline_worker(nats_url: str, mongo_url: str) -> None:
    """The bare baseline: consume, insert one document, ack."""
    nc = await bus.connect(nats_url, "bench-baseline")
    js = nc.jetstream()
    db = mongo.database(mongo.client(mongo_url), "bench_baseline")

    async def handle(event: CaseAccepted, _: Delivery) -> None:
        await db.cases.insert_one({"_id": event.case_id, "accepted_at": event.accepted_at})

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = Consumer(BASELINE_DURABLE, CaseAccepted, handle, subject_override=BASELINE_SUBJECT)
    await ConsumeLoop(js, bus.Publisher(js), consumer).run(stop)
    await nc.drain()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drained(js, durable: str, stream: str = "CASES") -> bool:
    info = await js.consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def _burst(js, subject: str, durable: str, prefix: str, count: int) -> float:
    """Publish `count` case events flat out; events/s until the consumer has acked them all."""
    start = time.perf_counter()
    for i in range(count):
        case_id = f"{prefix}-{i}"
        await js.publish_async(subject, _case(case_id), headers={"Nats-Msg-Id": case_id})
    await js.publish_async_completed()
    while not await _drained(js, durable):
        await asyncio.sleep(0.02)
    return count / (time.perf_counter() - start)


def _template(now: datetime) -> dict:
    """A stored scheduled callback (as the service writes it) to copy with other ids and times."""
    callback = Callback.schedule(
        now=now, case_id="B-0", party_id="p1", rule="unsolved_7d", start_at=now, due_at=now + timedelta(days=7),
        policy=SendPolicy(), party_name="王某", phone="13800138001", officer_id="P1001", unit_id="G1")
    return {**CallbackCodec().to_document(callback), "version": 1, "outbox": {}}


def _copy(template: dict, i: int, prefix: str, send_at: datetime) -> dict:
    ident = f"cb-{prefix}{i:020d}"
    ms = int(send_at.timestamp() * 1000)
    return {**template, "_id": ident, "callback_id": ident, "case_id": f"{prefix}-{i}",
            "send_at": send_at, "next_due_at": send_at, "next_due_ms": ms}


async def _fill(collection, template: dict, prefix: str, start: int, stop: int, send_at: datetime) -> None:
    for first in range(start, stop, INSERT_BATCH):
        docs = [_copy(template, i, prefix, send_at) for i in range(first, min(first + INSERT_BATCH, stop))]
        await collection.insert_many(docs, ordered=False)


async def _sweep_ms(n: Notify, ticks: int = 15) -> float:
    times = []
    for _ in range(ticks):
        started = time.perf_counter()
        await handlers.sweep(n)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class _Sends:
    """The sms.send commands seen on a core subscription: when each arrived."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    async def on(self, msg) -> None:
        self.seen.setdefault(json.loads(msg.data)["sms_id"], time.time())


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    nats = start_nats(tmp / "nats")
    store = start_store(tmp / "store")
    procs: list[subprocess.Popen] = []
    logs = [(tmp / "notify.log").open("wb"), (tmp / "baseline.log").open("wb")]
    client = mongo.client(store.url)
    try:
        nc = await bus.connect(nats.url, "bench")
        js = nc.jetstream()
        await bus.ensure_streams(js)
        port = free_port()
        env = {**os.environ, **ANY_HOUR, "FQ_NOTIFY_NATS_URL": nats.url, "FQ_NOTIFY_MONGO_URL": store.url,
               "FQ_NOTIFY_MONGO_DB": SERVICE_DB, "FQ_NOTIFY_HTTP_PORT": str(port), "FQ_NOTIFY_LOG_LEVEL": "WARNING",
               "FQ_NOTIFY_LOG_JSON": "true", "FQ_NOTIFY_SMS_DELAY_S": str(3 * 86400),  # scheduling only
               **{k: v for k, v in os.environ.items() if k.startswith("FQ_NOTIFY_")}}
        service = subprocess.Popen([sys.executable, "-m", "notify"], env=env, stdout=logs[0], stderr=subprocess.STDOUT)
        procs.append(service)
        baseline = subprocess.Popen([sys.executable, __file__, "--baseline-worker", nats.url, store.url],
                                    stdout=logs[1], stderr=subprocess.STDOUT)
        procs.append(baseline)
        logs.append((tmp / "bare.log").open("wb"))
        sequential = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare.py"), "sequential", nats.url,
                                       store.url, SEQUENTIAL_SUBJECT, "cases.bench_sequential_out",
                                       SEQUENTIAL_DURABLE, "bench_bare"], stdout=logs[-1], stderr=subprocess.STDOUT)
        procs.append(sequential)
        wait_for_port(port, 60, service, "notify")
        async with httpx.AsyncClient(timeout=10) as http:
            while (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
        for durable in (BASELINE_DURABLE, SEQUENTIAL_DURABLE):
            while True:
                try:
                    await js.consumer_info("CASES", durable)
                    break
                except Exception:
                    await asyncio.sleep(0.1)

        # 1. scheduling throughput
        await _burst(js, BASELINE_SUBJECT, BASELINE_DURABLE, "warm-b", 200)
        await _burst(js, SEQUENTIAL_SUBJECT, SEQUENTIAL_DURABLE, "warm-q", 200)
        await _burst(js, "cases.accepted", SERVICE_DURABLE, "warm-s", 200)
        rates: dict[str, list[float]] = {"baseline": [], "sequential": [], "notify": []}
        cpu = {"baseline": 0.0, "sequential": 0.0, "notify": 0.0, "store (notify)": 0.0, "store (baseline)": 0.0,
               "store (sequential)": 0.0}
        for r in range(args.rounds):
            for name, subject, durable, proc in (("baseline", BASELINE_SUBJECT, BASELINE_DURABLE, baseline),
                                                 ("sequential", SEQUENTIAL_SUBJECT, SEQUENTIAL_DURABLE, sequential),
                                                 ("notify", "cases.accepted", SERVICE_DURABLE, service)):
                before, store_before = _cpu_s(proc.pid), _cpu_s(store.process.pid)
                rates[name].append(await _burst(js, subject, durable, f"{name}{r}", args.events))
                cpu[name] += _cpu_s(proc.pid) - before
                cpu[f"store ({name})"] += _cpu_s(store.process.pid) - store_before
        base, svc = statistics.median(rates["baseline"]), statistics.median(rates["notify"])
        seq = statistics.median(rates["sequential"])
        print(f"scheduling  cases.accepted (1 party), {args.events} events x {args.rounds} rounds")
        rounds = {k: [round(x) for x in v] for k, v in rates.items()}
        print(f"  baseline (consume loop, 1 insert, ack)    {base:8.0f} events/s   rounds {rounds['baseline']}")
        print(f"  bare sequential (insert, ack, publish)    {seq:8.0f} events/s   rounds {rounds['sequential']}")
        print(f"  notify  (record + callback + event)       {svc:8.0f} events/s   rounds {rounds['notify']}"
              f"   {svc / base:.0%} of the baseline, {svc / seq:.2f}x the bare sequential loop (target >= 0.9x)")
        per = 1000 / (args.events * args.rounds)
        print("  CPU ms per event: " + ", ".join(f"{k} {v * per:.2f}" for k, v in cpu.items()))
        baseline.terminate()
        sequential.terminate()
        if args.scheduling_only:
            await nc.close()
            return

        # 2. pending callbacks: memory and one sweep tick
        db = mongo.database(client, SERVICE_DB)
        callbacks = db["callbacks"]
        await callbacks.delete_many({})
        now = datetime.now(UTC)
        template = _template(now)
        later = now + timedelta(days=2)  # pending: not due during the bench
        settings = NotifySettings(**{k.removeprefix("FQ_NOTIFY_").lower(): v for k, v in ANY_HOUR.items()})
        n = Notify(settings, SystemClock(), FakePublisher(), MongoCallbacks(db), mongo_cases(db))
        print(f"pending callbacks (service sweeping every {settings.sweep_interval_s:.0f} s)")
        filled = 0
        for size in sorted({10_000, args.pending}):
            started = time.perf_counter()
            await _fill(callbacks, template, "p", filled, size, later)
            took, inserted, filled = time.perf_counter() - started, size - filled, size
            await asyncio.sleep(3)  # a few of the service's own sweeps
            idle = await _sweep_ms(n)
            await _fill(callbacks, template, f"s{size}-", 0, args.sample_due, now - timedelta(seconds=1))
            due_started = time.perf_counter()
            fired = await handlers.sweep(n)
            due_ms = (time.perf_counter() - due_started) * 1000
            print(f"  {size:>9,} stored (+{inserted:,} inserted in {took:.0f} s)"
                  f"   service RSS {_rss_mb(service.pid):6.1f} MB   sweep tick, nothing due {idle:6.1f} ms"
                  f"   {fired} due: {due_ms:6.0f} ms")
            reads = {
                "first page of GET /v1/callbacks": lambda: handlers.find(n, CallbackQuery(), limit=100, offset=0),
                "a case's callbacks": lambda: handlers.find(n, CallbackQuery(case_id="p-5"), limit=100, offset=0),
                "an officer's day": lambda: handlers.officers_day(n, "P9999"),
            }
            timed = []
            for name, read in reads.items():
                started = time.perf_counter()
                await read()
                timed.append(f"{name} {(time.perf_counter() - started) * 1000:.0f} ms")
            print("             " + ", ".join(timed))
        # the service may have fired some of the sample too: leave it to finish
        await asyncio.sleep(2)

        # 3. 10,000 due in the same minute, in rounds taking turns with the bare store's updates
        sends = _Sends()
        await nc.subscribe("sms.send", cb=sends.on)
        gate = asyncio.Semaphore(settings.sweep_concurrency)
        targets = [f"cb-p{i:020d}" for i in range(args.due)]

        async def update(ident: str, value: int) -> None:
            async with gate:
                await callbacks.update_one({"_id": ident}, {"$set": {"attempts": value}})

        late, sequential, concurrent = [], [], []
        for r in range(args.due_rounds):
            started = time.perf_counter()
            for ident in targets:
                await callbacks.update_one({"_id": ident}, {"$set": {"attempts": 1}})
            sequential.append(time.perf_counter() - started)
            started = time.perf_counter()
            await asyncio.gather(*(update(ident, 2) for ident in targets))
            concurrent.append(time.perf_counter() - started)
            send_at = datetime.now(UTC) + timedelta(seconds=args.lead_s)
            await _fill(callbacks, template, f"m{r}-", 0, args.due, send_at)
            ids = {f"cb-m{r}-{i:020d}" for i in range(args.due)}
            deadline = time.time() + args.lead_s + 600
            while time.time() < deadline and not ids <= {k.rsplit(".", 1)[0] for k in sends.seen}:
                await asyncio.sleep(0.1)
            arrived = [t for k, t in sends.seen.items() if k.rsplit(".", 1)[0] in ids]
            late.append(max(arrived) - send_at.timestamp() if len(arrived) == args.due else float("nan"))
        stored = filled + 2 * args.sample_due
        last, seq, conc = statistics.median(late), statistics.median(sequential), statistics.median(concurrent)
        print(f"{args.due:,} callbacks due in the same minute, on {stored:,}+ stored, {args.due_rounds} rounds")
        print(f"  last sms.send published {last:6.1f} s after its send time   rounds {[round(x, 1) for x in late]}")
        print(f"  bare store, {args.due:,} single-document updates: sequential {seq:6.1f} s ({last / seq:.2f}x)"
              f"   rounds {[round(x, 1) for x in sequential]}")
        print(f"  {settings.sweep_concurrency} at once {conc:6.1f} s ({last / conc:.2f}x)"
              f"   rounds {[round(x, 1) for x in concurrent]}")
        await nc.close()
    finally:
        client.close()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        for log in logs:
            log.close()
        nats.stop()
        store.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline-worker":
        asyncio.run(baseline_worker(sys.argv[2], sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--sample-due", type=int, default=200)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--due-rounds", type=int, default=3)
    parser.add_argument("--scheduling-only", action="store_true", help="part 1 only")
    parser.add_argument("--lead-s", type=float, default=20.0, help="how far ahead the 10,000 are inserted")
    asyncio.run(main(parser.parse_args()))
