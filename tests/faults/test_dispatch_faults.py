"""Two dispatch replicas under a steady load of alerts while a replica, the store and nats-server
are SIGKILLed and restarted; then the store and the ALERTS stream must agree.

A simulated unit learns its alerts from `alerts.assigned`, acknowledges and closes them through
either replica's API, lets a few acknowledgements time out, and goes off duty and back. The
checks: every alert stored once; none held twice; no unit over capacity (store snapshots during
the run); every stored acknowledgement, closing and release has its event in the stream, in the
order it happened; every `alerts.assigned` is an attempt the alert's history holds.

Two runs: one nats-server SIGKILLed for NATS_OUTAGE_S; a 3-node cluster (R3 streams) whose ALERTS
stream leader is SIGKILLed. Each prints its faults, the counts in one summary line, and how many
commands had to be retried (5xx or no answer). About 35-60 s each on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from common import bus
from common.contracts.subjects import ALERTS_ASSIGNED, ALERTS_RECEIVED
from tests.faults.harness import AUTH, Harness, capacity_snapshots, follow_assignments, read_stream
from tests.support import STEP, alert_body, centre, publish, row_grid

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

ALERTS = 1000
RATE_PER_S = 70.0
RESENT_SHARE = 0.10  # re-sent by the publisher under a new msg id
CAPACITIES = (25, 25, 25, 25)  # ~70 alerts held at a time at this rate: a few wait at the duty desk
CAPACITY = {f"G{i + 1}": c for i, c in enumerate(CAPACITIES)}
ACK_TIMEOUT_S = 5.0
WORKERS = 150  # alerts the unit has in hand at once: ~70 are on their way at this rate
IGNORED_SHARE = 0.03  # first assignments the unit lets time out
NATS_OUTAGE_S = 3.0
STORE_OUTAGE_S = 3.0
#: after the load: the killed replica's messages come back after the consumer's 30 s ack wait, and a loaded
#: machine drains the rest slower (a run here was still placing the last hundred at 75 s); the verdict is
#: given once quiet, so the longer bound costs nothing when it drains fast
QUIET_WITHIN_S = 120.0
DB = "fengqiao_dispatch"
RECEIVING = "dispatch-alerts-received"  # dispatch's durable consumer of alerts.received
RELEASES = ("ack_timeout", "unit_unavailable")


@dataclass
class Tally:
    sent: int = 0
    resent: int = 0
    acked: set[str] = field(default_factory=set)  # alerts the unit acknowledged (a 200), whatever the attempt
    closed: set[str] = field(default_factory=set)
    refused: int = 0  # 409: released or closed meanwhile
    retried: int = 0
    ignored: int = 0
    status_changes: int = 0
    failed_answers: Counter = field(default_factory=Counter)  # 5xx by status, and no answer at all
    snapshots: int = 0
    over_capacity: list[str] = field(default_factory=list)


async def test_no_fact_is_lost_or_doubled_when_parts_die(tmp_path) -> None:
    """One nats-server: SIGKILL a replica, the store, then nats-server itself, each restarted."""

    async def inject(h: Harness) -> None:
        await _kill_a_replica_then_the_store(h)
        h.kill("nats")  # long enough to cover acknowledgements followed by closings of the same alerts
        await asyncio.sleep(NATS_OUTAGE_S)
        await asyncio.to_thread(h.restart, "nats")

    await _run(tmp_path, nats_nodes=1, inject=inject)


async def test_no_fact_is_lost_or_doubled_when_the_stream_leader_dies(tmp_path) -> None:
    """A 3-node NATS cluster with R3 streams: SIGKILL a replica, the store, then the ALERTS stream's leader."""

    async def inject(h: Harness) -> None:
        await _kill_a_replica_then_the_store(h)
        await h.kill_stream_leader("ALERTS", NATS_OUTAGE_S)

    await _run(tmp_path, nats_nodes=3, inject=inject)


async def _kill_a_replica_then_the_store(h: Harness) -> None:
    await asyncio.sleep(2.5)
    h.kill("dispatch-1")
    await asyncio.sleep(1.0)
    await asyncio.to_thread(h.restart, "dispatch-1")
    await asyncio.sleep(2.0)
    h.kill("store")
    await asyncio.sleep(STORE_OUTAGE_S)
    await asyncio.to_thread(h.restart, "store")
    await asyncio.sleep(3.0)


async def _run(tmp_path, *, nats_nodes: int, inject: Callable[[Harness], Awaitable[None]]) -> None:
    """Start everything, run the load with the faults `inject` makes, wait for quiet, check, stop everything."""
    started = time.monotonic()
    rng = random.Random(15)
    with Harness(tmp_path) as h:
        h.start_nats(cluster=nats_nodes)
        h.start_store()
        tally = Tally()
        mongo = AsyncIOMotorClient(h.store.url, tz_aware=True, serverSelectionTimeoutMS=2000)
        nc = await h.client("fault-test")
        try:
            if nats_nodes > 1:
                # declared once beforehand, as the deploy's one-shot job does: two replicas creating the R3
                # streams at once on a new cluster both time out (5 s) and one exits
                await bus.ensure_streams(nc.jetstream(), replicas=nats_nodes)
            replicas = h.start_service(
                "dispatch", 2, FQ_DISPATCH_MONGO_DB=DB, FQ_DISPATCH_SWEEP_INTERVAL_S="0.5",
                FQ_DISPATCH_ACK_TIMEOUT_S=str(ACK_TIMEOUT_S), FQ_DISPATCH_VIEW_REFRESH_S="2",
                FQ_DISPATCH_CONSUMER_BATCH="8", FQ_DISPATCH_CONSUMER_CONCURRENCY="8",
                FQ_DISPATCH_STREAM_REPLICAS=str(nats_nodes),
            )
            urls = [r.base_url for r in replicas]
            print(f"[+{h.clock.now():6.2f}s] {nats_nodes} nats node(s), the store and {len(replicas)} replicas ready",
                  flush=True)
            async with httpx.AsyncClient(headers=AUTH, timeout=5) as http:
                put = await http.put(f"{urls[0]}/v1/grid", json=row_grid(CAPACITIES))
                assert put.status_code == 200, put.text
                unit = SimulatedUnit(http, urls, nc, tally, rng)
                load_done = asyncio.Event()
                background = [
                    asyncio.create_task(unit.run()),
                    asyncio.create_task(unit.duty_changes(load_done)),
                    asyncio.create_task(capacity_snapshots(mongo[DB], CAPACITY, tally)),
                    asyncio.create_task(h.watch_replicas()),
                ]
                faults = asyncio.create_task(inject(h))
                ids = await _load(nc, tally, rng)
                await faults
                load_done.set()
                print(f"[+{h.clock.now():6.2f}s] load sent: {tally.sent} alerts (+{tally.resent} resent)", flush=True)
                quiet = await _quiescence(mongo[DB], nc, unit, len(ids), QUIET_WITHIN_S)
                print(f"[+{h.clock.now():6.2f}s] {'quiet' if quiet is None else quiet}", flush=True)
                await unit.stop()
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
            report = await _check(mongo[DB], nc, ids, tally)
        finally:
            await nc.close()
            mongo.close()
            codes = h.stop()
        deferred = sum(r.log_lines("outbox.deferred") for r in replicas)
        tracebacks = sum(r.log_lines("Exception in ASGI application") for r in replicas)
        report.problems += h.process_problems(codes)
        if quiet is not None:
            report.problems.insert(0, quiet)
        print(report.summary(tally, deferred, time.monotonic() - started), flush=True)
        print(f"commands answered 5xx or not at all (retried): {dict(tally.failed_answers)}; "
              f"'Exception in ASGI application' logged {tracebacks} times", flush=True)
        if report.untold_placements or report.late_placements:
            print(f"placements untold: {sorted(report.untold_placements)}; told late: {report.late_placements}",
                  flush=True)
        assert not report.problems, "\n".join(
            [*report.problems, f"(outbox.deferred logged {deferred} times; logs in {tmp_path / 'logs'})"])


# --- load ------------------------------------------------------------------------------------------


async def _publish_until_done(nc, body: dict, msg_id: str, within_s: float = 30.0) -> None:
    """A publisher that retries with the same msg id until JetStream acknowledges (the broker may be away)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await publish(nc, ALERTS_RECEIVED, body, msg_id)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _load(nc, tally: Tally, rng: random.Random) -> list[str]:
    """ALERTS alerts at RATE_PER_S, a tenth of them re-sent a moment later under a new msg id."""
    ids = [f"F-{i:04d}" for i in range(ALERTS)]
    start = time.monotonic()
    resends = []
    for i, alert_id in enumerate(ids):
        lon, lat = centre(i % len(CAPACITIES))
        lon += rng.uniform(-0.4, 0.4) * STEP
        lat += rng.uniform(-0.4, 0.4) * STEP
        body = alert_body(alert_id, lon, lat, received_at=datetime.now(UTC).isoformat())
        await _publish_until_done(nc, body, alert_id)
        tally.sent += 1
        if rng.random() < RESENT_SHARE:
            resends.append((body, f"{alert_id}-again"))
        if len(resends) >= 5:  # a few alerts later: the first one may already be assigned
            for again, msg_id in resends:
                await _publish_until_done(nc, again, msg_id)
                tally.resent += 1
            resends.clear()
        pause = start + (i + 1) / RATE_PER_S - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
    for again, msg_id in resends:
        await _publish_until_done(nc, again, msg_id)
        tally.resent += 1
    return ids


# --- the unit --------------------------------------------------------------------------------------


class SimulatedUnit:
    """The officers of every unit: told by `alerts.assigned`, they acknowledge, then close, through the API."""

    def __init__(self, http: httpx.AsyncClient, urls: list[str], nc, tally: Tally, rng: random.Random) -> None:
        self._http, self._urls, self._nc, self._tally, self._rng = http, urls, nc, tally, rng
        self._work: asyncio.Queue = asyncio.Queue()
        self._busy = 0
        self._tasks: list[asyncio.Task] = []

    @property
    def idle(self) -> bool:
        return self._work.empty() and self._busy == 0

    async def run(self) -> None:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(WORKERS)]
        await follow_assignments(self._nc, "simulated-unit",
                                 lambda alert_id, unit_id, attempt: self._work.put_nowait((alert_id, unit_id, attempt)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            alert_id, unit_id, attempt = await self._work.get()
            self._busy += 1
            try:
                await self._handle(alert_id, unit_id, attempt)
            finally:
                self._busy -= 1

    async def _handle(self, alert_id: str, unit_id: str, attempt: int) -> None:
        if attempt == 1 and self._rng.random() < IGNORED_SHARE:
            self._tally.ignored += 1  # its acknowledgement times out; the next-best unit gets it
            return
        await asyncio.sleep(self._rng.uniform(0.2, 1.2))  # on the way
        if not await self._command(f"/v1/alerts/{alert_id}/ack", {"unit_id": unit_id}):
            return
        self._tally.acked.add(alert_id)
        await asyncio.sleep(self._rng.uniform(0.05, 0.3))  # settled on the scene: closed right after
        body = {"unit_id": unit_id, "officer_id": f"P{unit_id[1:]}00", "disposition": "no_action"}
        if await self._command(f"/v1/alerts/{alert_id}/close", body):
            self._tally.closed.add(alert_id)

    async def _command(self, path: str, body: dict, within_s: float = 40.0) -> bool:
        """POST to either replica until one answers: True on 200, False on 409 (the alert moved on)."""
        deadline = time.monotonic() + within_s
        n = self._rng.randrange(len(self._urls))
        while True:
            url = self._urls[n % len(self._urls)]
            try:
                response = await self._http.post(url + path, json=body)
                if response.status_code == 200:
                    return True
                if response.status_code == 409:
                    self._tally.refused += 1
                    return False
                if response.status_code < 500:
                    raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
                self._tally.failed_answers[response.status_code] += 1
            except httpx.TransportError:
                self._tally.failed_answers["none"] += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"POST {path} not answered within {within_s}s")
            self._tally.retried += 1
            n += 1
            await asyncio.sleep(0.2)

    async def duty_changes(self, load_done: asyncio.Event) -> None:
        """A unit goes off duty for a moment now and then (its unacknowledged alerts go elsewhere)."""
        while not load_done.is_set():
            await asyncio.sleep(4.0)
            unit_id = f"G{self._rng.randrange(len(CAPACITIES)) + 1}"
            for status in ("off_duty", "available"):
                with contextlib.suppress(AssertionError):  # the store was away all along: next time
                    await self._put_status(unit_id, status)
                await asyncio.sleep(1.5)

    async def _put_status(self, unit_id: str, status: str) -> None:
        deadline = time.monotonic() + 20
        for n in range(1000):
            try:
                response = await self._http.put(f"{self._urls[n % 2]}/v1/units/{unit_id}/status",
                                                 json={"status": status})
                if response.status_code == 200:
                    self._tally.status_changes += 1
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{unit_id} not set {status}")
            await asyncio.sleep(0.2)


# --- watching and checking -------------------------------------------------------------------------


async def _quiescence(db, nc, unit: SimulatedUnit, expected: int, within_s: float) -> str | None:
    """Until every alert is stored and closed (or with the duty desk), no outbox waits, the unit has
    nothing left to do, and the stream stands still for 2 s. None when reached, else what was not."""
    js = nc.jetstream()
    deadline = time.monotonic() + within_s
    last_seq, still_since = -1, time.monotonic()
    states: Counter = Counter()
    pending = in_hand = 0
    told = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if time.monotonic() - told >= 5:
            told = time.monotonic()
            print(f"  waiting for quiet: {dict(states)}, {pending} outboxes waiting, {in_hand} received in hand, "
                  f"stream at {last_seq}", flush=True)
        try:
            states = Counter([d["state"] async for d in db.alerts.find({}, {"state": 1})])
            pending = await db.alerts.count_documents({"outbox_ms": {"$exists": True}})
            seq = (await js.stream_info("ALERTS")).state.last_seq
            consumer = await js.consumer_info("ALERTS", RECEIVING)
        except Exception:
            continue
        in_hand = consumer.num_pending + consumer.num_ack_pending  # a killed replica's come back after ack_wait
        if seq != last_seq:
            last_seq, still_since = seq, time.monotonic()
        done = sum(states.values()) == expected and states["closed"] + states["unassigned"] == expected
        if done and pending == 0 and in_hand == 0 and unit.idle and time.monotonic() - still_since >= 2.0:
            return None
    return (f"not quiet within {within_s}s: states {dict(states)}, {pending} outboxes waiting, "
            f"{in_hand} alerts.received not yet handled, unit idle={unit.idle}")


@dataclass
class Report:
    stored: int = 0
    facts: Counter = field(default_factory=Counter)  # stored: acknowledged, closed, released
    events: Counter = field(default_factory=Counter)  # in the stream, per subject
    missing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    untold_placements: list[str] = field(default_factory=list)
    late_placements: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dead_letters: int = 0

    @property
    def lost(self) -> int:
        return sum(len(v) for v in self.missing.values())

    def summary(self, tally: Tally, deferred: int, seconds: float) -> str:
        per_subject = " ".join(f"{s}={n}" for s, n in sorted(self.events.items()))
        return (
            f"FAULTS SUMMARY: sent={tally.sent} resent={tally.resent} stored={self.stored} "
            f"acknowledged={self.facts['acknowledged']} closed={self.facts['closed']} "
            f"released={self.facts['released']} | stream: {per_subject} | lost={self.lost} "
            f"doubled={len(self.doubled)} placements_untold={len(self.untold_placements)} "
            f"placements_late={len(self.late_placements)} "
            f"dead_letters={self.dead_letters} over_capacity={len(tally.over_capacity)} "
            f"snapshots={tally.snapshots} | unit: acked={len(tally.acked)} closed={len(tally.closed)} "
            f"ignored={tally.ignored} refused={tally.refused} retried={tally.retried} "
            f"duty_changes={tally.status_changes} | outbox.deferred={deferred} | {seconds:.1f}s"
        )


#: A first placement is told on the receive path, outside the outbox: if a replica or nats-server dies
#: between the alert's write and that publish, and the alert moves on (an acknowledgement timeout)
#: before the message comes back, its `alerts.assigned` is never told; a publish held in the client
#: through a NATS outage lands after the release that followed it. Such placements are counted and
#: printed; set this to make them fail the test too (missing or out of order).
PLACEMENTS_REQUIRED = False


def _expected(doc: dict) -> list[tuple[str, str, bool]]:
    """The events an alert's stored history calls for, in the order they happened: (kind, msg id, required)."""
    alert_id = doc["_id"]
    wanted = []
    for n, attempt in enumerate(doc.get("assignments", []), start=1):
        kind = "assigned" if attempt.get("unit_id") else "unassigned"
        wanted.append((kind, f"{alert_id}/{kind}/{n}", PLACEMENTS_REQUIRED))
        if attempt.get("end") == "acknowledged":
            wanted.append(("acknowledged", f"{alert_id}/acknowledged", True))
        elif attempt.get("end") in RELEASES:
            wanted.append(("released", f"{alert_id}/released/{n}", True))
    if doc["state"] == "closed":
        wanted.append(("closed", f"{alert_id}/closed", True))
    return wanted


async def _check(db, nc, ids: list[str], tally: Tally) -> Report:
    report = Report()
    docs = [d async for d in db.alerts.find({})]
    report.stored = len(docs)
    by_id = {d["_id"]: d for d in docs}
    stored_ids = Counter(d["_id"] for d in docs)
    never = sorted(set(ids) - set(stored_ids))
    if never:
        report.missing["stored alert"] += never
    report.doubled += [f"{a} stored {n} times" for a, n in stored_ids.items() if n > 1]
    report.doubled += [f"{a} stored but never sent" for a in set(stored_ids) - set(ids)]

    # none held twice, no unit over capacity, as stored now
    capacity = {u["_id"]: u["capacity"] async for u in db.units.find({})}
    held = [d for d in docs if d["state"] in ("assigned", "acknowledged")]
    report.doubled += [f"place {s} held by {n} alerts" for s, n in Counter(d["slot"] for d in held).items() if n > 1]
    per_unit = Counter(d["unit_id"] for d in held)
    report.problems += [f"unit {u} holds {n} > capacity {capacity[u]}" for u, n in per_unit.items() if n > capacity[u]]
    report.problems += [f"over capacity in a snapshot: {s}" for s in tally.over_capacity[:10]]
    for d in docs:
        open_attempts = [a for a in d.get("assignments", []) if a.get("end") is None]
        if len(open_attempts) > 1 or (open_attempts and d["assignments"][-1].get("end") is not None):
            report.doubled.append(f"{d['_id']} has {len(open_attempts)} open attempts")

    # the stream: every stored fact told, in order; nothing told twice; every assignment explained
    messages = await read_stream(nc, "ALERTS")
    seq_of: dict[str, int] = {}
    for seq, subject, msg_id, body in messages:
        report.events[subject] += 1
        if subject == ALERTS_RECEIVED:
            continue
        if msg_id in seq_of:
            report.doubled.append(f"{msg_id} in the stream twice")
        seq_of.setdefault(msg_id, seq)
        if subject == ALERTS_ASSIGNED:
            doc = by_id.get(body["alert_id"])
            attempts = doc.get("assignments", []) if doc else []
            n = body["attempt"]
            if not (1 <= n <= len(attempts) and attempts[n - 1].get("unit_id") == body["unit_id"]):
                report.doubled.append(f"{msg_id}: {body['unit_id']} attempt {n} is not in the alert's history")
    report.dead_letters = (await nc.jetstream().stream_info("DEADLETTER")).state.messages
    out_of_order = []
    for d in docs:
        wanted = _expected(d)
        for kind, msg_id, required in wanted:
            if kind in ("acknowledged", "closed", "released"):
                report.facts[kind] += 1
            if msg_id not in seq_of:
                if required:
                    report.missing[f"alerts.{kind}"].append(msg_id)
                else:
                    report.untold_placements.append(msg_id)
        told = [(seq_of[m], m, required) for _, m, required in wanted if m in seq_of]  # in the order they happened
        if told != sorted(told):
            as_told = f"{d['_id']}: {' < '.join(m for _, m, _ in sorted(told))}"
            strict = [seq for seq, _, required in told if required]
            (out_of_order if strict != sorted(strict) else report.late_placements).append(as_told)

    for what, which in sorted(report.missing.items()):
        report.problems.append(f"LOST {len(which)} {what}: {', '.join(sorted(which)[:12])}"
                               f"{' …' if len(which) > 12 else ''}")
    if out_of_order:
        report.problems.append(f"{len(out_of_order)} alerts' events out of order in the stream: {out_of_order[:5]}")
    if report.problems and (report.untold_placements or report.late_placements):
        report.problems.append(f"(and placements untold: {sorted(report.untold_placements)[:12]}, "
                               f"told late: {report.late_placements[:5]})")
    if report.doubled:
        report.problems.append(f"DOUBLED {len(report.doubled)}: {report.doubled[:10]}")
    return report
