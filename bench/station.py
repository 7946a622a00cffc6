"""The whole station under a mixed load, through `fengqiao up`: each flow's latency, each process's memory.

    .venv/bin/python bench/station.py [--alone-minutes 2] [--minutes 10] [--every-s 30]

Starts `fengqiao up` on a temporary data folder (127.0.0.1 only, its own grid of 24 units), and drives it
from outside as the station's neighbours and officers would:
  alerts    `alerts.received` at 5/s in bursts (10 every 2 s); an officer acknowledges each assigned alert
            and closes it a moment later over HTTP (which surveys its caller and may open a dispute)
  cases     `cases.accepted` at 2/s, one party each (notify schedules its callback)
  surveys   `ratings.requested` at 2/s; each survey SMS rating sends through notify's gateway is answered,
            once notify has handed it to the operator, with a reply posted to notify's inbound (`1 <code>`)
First `--alone-minutes` of alerts alone, then `--minutes` of everything. Every `--every-s` it prints, per
flow, the count, p50 and p99 of the window (dispatch: alerts.received -> alerts.assigned/unassigned;
notify: cases.accepted -> callbacks.scheduled; rating: ratings.requested -> the survey's sms.send, and the
reply posted -> ratings.received), and per process its resident memory and CPU share of the window. At the
end: dispatch's p99 under the mixed load against alone (the median of the windows), and memory first/last.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats

ALL_DAY = {"FQ_RATING_SEND_FROM": "00:00", "FQ_RATING_SEND_UNTIL": "23:59:59",
           "FQ_NOTIFY_SMS_ALLOWED_FROM": "00:00:00", "FQ_NOTIFY_SMS_ALLOWED_UNTIL": "23:59:59.999999"}
LON0, LAT0, CELL, SIDE = 118.93, 25.20, 0.01, (6, 4)  # 24 units of ~1 km over the town
CODE = re.compile(r"评价码(\w+)")


def _grid() -> dict:
    features = []
    for i, j in itertools.product(range(SIDE[0]), range(SIDE[1])):
        x, y = LON0 + i * CELL, LAT0 + j * CELL
        unit = f"S{i}{j}"
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[x, y], [x + CELL, y], [x + CELL, y + CELL], [x, y + CELL], [x, y]]]},
            "properties": {"unit_id": unit, "post": [x + CELL / 2, y + CELL / 2],
                           "officers": [f"{unit}-{k}" for k in range(3)], "capacity": 6}})
    return {"type": "FeatureCollection", "features": features}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)] if ordered else float("nan")


class Flows:
    """Send times by key, and each flow's latencies (ms) in the current window."""

    NAMES = ("dispatch", "notify", "survey", "reply")

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, float]] = {name: {} for name in self.NAMES}
        self.window: dict[str, list[float]] = defaultdict(list)
        self.phase_p99: dict[str, list[float]] = defaultdict(list)  # dispatch's p99 of each window, by phase

    def start(self, flow: str, key: str) -> None:
        self.sent[flow][key] = time.perf_counter()

    def end(self, flow: str, key: str | None) -> bool:
        started = self.sent[flow].pop(key, None) if key else None
        if started is None:
            return False
        self.window[flow].append((time.perf_counter() - started) * 1000)
        return True


def _family(up_pid: int) -> dict[int, str]:
    """The processes `fengqiao up` started (pid -> a short name)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    found, todo = {}, list(children[up_pid])
    while todo:
        pid = todo.pop()
        todo += children[pid]
        try:
            cmd = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()).split()
        except OSError:
            continue
        name = cmd[-1] if "serve" in cmd else ("nats-server" if "nats-server" in " ".join(cmd[:1]) else
                                               "store" if "storeserver" in " ".join(cmd) else
                                               "checkpoint" if "walcheckpoint" in " ".join(cmd) else Path(cmd[0]).name)
        found[pid] = name
    return found


def _rss_cpu(pid: int) -> tuple[float, float]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan"), float("nan")
    return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Station:
    def __init__(self, args: argparse.Namespace, endpoints: dict, nc, http: httpx.AsyncClient) -> None:
        self.args, self.endpoints, self.nc, self.http = args, endpoints, nc, http
        self.js = nc.jetstream()
        self.flows = Flows()
        self.rng = random.Random(19)
        self.mixed = False
        self.ids = itertools.count()
        self.officer_tasks: set[asyncio.Task] = set()
        self.errors: dict[str, int] = defaultdict(int)
        #: the survey SMS seen requested, waiting to be handed to the operator: sms_id -> (phone, code)
        self.to_answer: dict[str, tuple[str, str]] = {}

    def url(self, service: str, path: str) -> str:
        return self.endpoints["services"][service]["base_url"] + path

    async def publish(self, subject: str, body: dict, msg_id: str) -> None:
        await self.js.publish(subject, json.dumps(body, ensure_ascii=False).encode(), headers={"Nats-Msg-Id": msg_id})

    # --- what comes back -----------------------------------------------------------------------

    async def on_placed(self, msg) -> None:
        body = json.loads(msg.data)
        if self.flows.end("dispatch", body["alert_id"]) and msg.subject == "alerts.assigned":
            task = asyncio.create_task(self.officer(body["alert_id"], body["unit_id"]))
            self.officer_tasks.add(task)
            task.add_done_callback(self.officer_tasks.discard)

    async def on_scheduled(self, msg) -> None:
        self.flows.end("notify", json.loads(msg.data).get("case_id"))

    async def on_sms(self, msg) -> None:
        body = json.loads(msg.data)
        if body.get("requested_by") != "rating" or not self.flows.end("survey", body["phone"]):
            return
        code = CODE.search(body["text"])
        if code is None:
            self.errors["survey without a code"] += 1
            return
        self.to_answer[body["sms_id"]] = (body["phone"], code.group(1))

    async def on_handed_over(self, msg) -> None:
        """The citizen answers once notify has handed the survey to the operator (not on rating's request:
        a reply then could reach notify before the question it answers is stored, which no citizen can)."""
        body = json.loads(msg.data)
        if body.get("status") != "sent" or body["sms_id"] not in self.to_answer:
            return
        phone, code = self.to_answer.pop(body["sms_id"])
        self.flows.start("reply", body.get("ref") or "")
        status = (await self.http.post(self.url("notify", "/v1/sms/inbound"),
                                       json={"from": phone, "text": f"1 {code}"})).status_code
        if status != 202:
            self.errors[f"reply {status}"] += 1

    async def on_rating(self, msg) -> None:
        self.flows.end("reply", json.loads(msg.data).get("survey_id"))

    async def officer(self, alert_id: str, unit_id: str) -> None:
        """Acknowledge at once, close a few seconds later (a place freed for the next alert)."""
        try:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            base = self.url("dispatch", f"/v1/alerts/{alert_id}")
            (await self.http.post(f"{base}/ack", json={"unit_id": unit_id})).raise_for_status()
            await asyncio.sleep(self.rng.uniform(2, 6))
            close = {"unit_id": unit_id, "officer_id": f"{unit_id}-0", "disposition": "resolved_on_scene",
                     "signatures": {"party": "王某", "officer": f"{unit_id}-0", "witness": "李某"}}
            (await self.http.post(f"{base}/close", json=close)).raise_for_status()
        except httpx.HTTPStatusError as exc:
            self.errors[f"officer {exc.request.url.path.rsplit('/', 1)[-1]} {exc.response.status_code}"] += 1
            if len(self.errors) < 4:
                print(f"officer: {exc.response.status_code} {exc.response.text[:300]}", flush=True)
        except httpx.HTTPError as exc:
            self.errors[f"officer {type(exc).__name__}"] += 1

    # --- what goes in --------------------------------------------------------------------------

    async def alerts(self, stop: asyncio.Event) -> None:
        burst = self.args.burst
        while not stop.is_set():
            started = time.perf_counter()
            for _ in range(burst):
                n = next(self.ids)
                alert_id = f"110-S{n:07d}"
                lon = LON0 + self.rng.random() * SIDE[0] * CELL
                lat = LAT0 + self.rng.random() * SIDE[1] * CELL
                body = {"alert_id": alert_id, "received_at": datetime.now(UTC).isoformat(), "category": "dispute",
                        "priority": self.rng.choice((1, 2, 2, 3)), "location": {"lon": lon, "lat": lat},
                        "caller_phone": f"137{n:08d}", "summary": "bench"}
                self.flows.start("dispatch", alert_id)
                await self.publish("alerts.received", body, alert_id)
            await asyncio.sleep(max(0.0, burst / self.args.alert_rate - (time.perf_counter() - started)))

    async def cases(self, stop: asyncio.Event) -> None:
        await self._steady(stop, self.args.case_rate, self._case)

    async def surveys(self, stop: asyncio.Event) -> None:
        await self._steady(stop, self.args.survey_rate, self._survey)

    async def _steady(self, stop: asyncio.Event, rate: float, send) -> None:
        start = time.perf_counter()
        for i in itertools.count():
            if stop.is_set():
                return
            if self.mixed:
                await send(next(self.ids))
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))

    async def _case(self, n: int) -> None:
        case_id = f"A2026-S{n:07d}"
        body = {"case_id": case_id, "kind": "administrative", "accepted_at": datetime.now(UTC).isoformat(),
                "officer_id": "S00-0", "unit_id": "S00",
                "parties": [{"party_id": "p1", "name": "王某", "phone": f"136{n:08d}", "role": "victim"}]}
        self.flows.start("notify", case_id)
        await self.publish("cases.accepted", body, case_id)

    async def _survey(self, n: int) -> None:
        phone = f"139{n:08d}"
        body = {"request_id": f"rq-{n:07d}", "subject_type": "service", "subject_id": f"svc-{n:07d}",
                "officer_id": "S00-1", "unit_id": "S00", "phone": phone, "requested_at": datetime.now(UTC).isoformat()}
        self.flows.start("survey", phone)
        await self.publish("ratings.requested", body, body["request_id"])

    # --- every window --------------------------------------------------------------------------

    def report(self, phase: str, elapsed: float, family: dict[int, str], cpu_before: dict[int, float],
               window_s: float) -> dict[int, float]:
        parts = []
        for flow in Flows.NAMES:
            values = self.flows.window.pop(flow, [])
            if values:
                parts.append(f"{flow} {len(values)} p50 {_pct(values, 0.5):.1f} p99 {_pct(values, 0.99):.1f}")
                if flow == "dispatch":
                    self.flows.phase_p99[phase].append(_pct(values, 0.99))
        cpu_now, procs = {}, []
        for pid, name in sorted(family.items(), key=lambda kv: kv[1]):
            rss, cpu = _rss_cpu(pid)
            cpu_now[pid] = cpu
            share = (cpu - cpu_before.get(pid, cpu)) / window_s * 100
            procs.append(f"{name} {rss:.0f}MB {share:.0f}%")
            self.memory[name].append(rss)
        waiting = {f: len(s) for f, s in self.flows.sent.items() if s}
        print(f"[{elapsed:5.0f}s {phase:<5}] " + " | ".join(parts) + " (ms)", flush=True)
        print(f"               memory, CPU: {', '.join(procs)}; unanswered {waiting}"
              + (f"; errors {dict(self.errors)}" if self.errors else ""), flush=True)
        return cpu_now

    memory: dict[str, list[float]] = defaultdict(list)


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="fq-station-"))
    env = {**os.environ, **ALL_DAY, "FQ_NOTIFY_LOG_LEVEL": "WARNING", "FQ_RATING_LOG_LEVEL": "WARNING",
           "FQ_DISPATCH_LOG_LEVEL": "WARNING", "FQ_MEDIATION_LOG_LEVEL": "WARNING"}
    with open(data / "up.out", "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "fengqiao", "up", "--data-dir", str(data), "--no-sample-grid"],
                              env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (data / "endpoints.json").exists():
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"fengqiao up did not start: see {data / 'up.out'}")
            await asyncio.sleep(0.2)
        endpoints = json.loads((data / "endpoints.json").read_text())
        headers = {"Authorization": f"Bearer {endpoints['token']}"}
        nc = await nats.connect(endpoints["nats_url"], name="bench-station")
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            station = Station(args, endpoints, nc, http)
            (await http.put(station.url("dispatch", "/v1/grid"), json=_grid())).raise_for_status()
            for subject, cb in (("alerts.assigned", station.on_placed), ("alerts.unassigned", station.on_placed),
                                ("callbacks.scheduled", station.on_scheduled), ("sms.send", station.on_sms),
                                ("sms.delivery.rating", station.on_handed_over),
                                ("ratings.received", station.on_rating)):
                await nc.subscribe(subject, cb=cb)
            await asyncio.sleep(2)
            family = _family(up.pid)
            print(f"fengqiao up in {data}: {', '.join(sorted(family.values()))}", flush=True)
            stop = asyncio.Event()
            load = [asyncio.create_task(f(stop)) for f in (station.alerts, station.cases, station.surveys)]
            start = time.perf_counter()
            cpu = {pid: _rss_cpu(pid)[1] for pid in family}
            phases = [("alone", args.alone_minutes * 60), ("mixed", args.minutes * 60)]
            for phase, seconds in phases:
                station.mixed = phase == "mixed"
                for _ in range(max(1, round(seconds / args.every_s))):
                    await asyncio.sleep(args.every_s)
                    cpu = station.report(phase, time.perf_counter() - start, family, cpu, args.every_s)
            stop.set()
            await asyncio.gather(*load)
            alone = statistics.median(station.flows.phase_p99["alone"] or [float("nan")])
            mixed = statistics.median(station.flows.phase_p99["mixed"] or [float("nan")])
            print(f"dispatch p99 (median of the windows): alone {alone:.1f} ms, mixed {mixed:.1f} ms: "
                  f"x{mixed / alone:.2f} (target <= x2)")
            print("memory (MB) first window -> last: " + ", ".join(
                f"{name} {v[0]:.0f}->{v[-1]:.0f}" for name, v in sorted(station.memory.items())))
            for task in list(station.officer_tasks):
                task.cancel()
        await nc.close()
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alone-minutes", type=float, default=2.0, help="alerts alone first")
    parser.add_argument("--minutes", type=float, default=10.0, help="then the mixed load")
    parser.add_argument("--every-s", type=float, default=30.0)
    parser.add_argument("--alert-rate", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--case-rate", type=float, default=2.0)
    parser.add_argument("--survey-rate", type=float, default=2.0)
    asyncio.run(main(parser.parse_args()))
