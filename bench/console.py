"""Console benchmark: the duty desk of a big day in a real browser, and the live fan-out's cost per event.

    .venv/bin/python bench/console.py [--units 200] [--alerts 1000] [--loads 5] [--live 20] [--events 2000]

Brings the platform up with `fengqiao up` (embedded servers, a data folder of its own) on a grid of
`--units` units (square cells, 3 officers each, room for every alert), publishes `--alerts` alerts
received today and waits until dispatch has placed them all. Then, with Debian's chromium (Playwright):

  first render   `--loads` loads of the duty desk (1366×768): until the page's script has drawn the
                 grid, the posts, the markers and the queue (its `desk-ready` mark); median and max
  live delay     `--live` alerts published while the desk is open: publish -> its marker drawn (the
                 page's `alert:<id>` mark); median and max, next to a bare NATS subscriber's delay for
                 the same messages in the same run (the baseline)
  fan-out        `--events` events published with 0, 1, 10 and 50 open event streams (plain HTTP
                 clients reading them): the console process's CPU time per event (from /proc),
                 median of three rounds each, and its ratio to 0 streams

Prints a table. Needs chromium and playwright for the first two (skipped, saying so, without them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import nats

# Run as a script, this folder leads sys.path: bench/console.py would shadow the console package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from fengqiao.up import Platform, http_json  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
CENTRE = (118.96, 25.23)
CELL = 0.01  # degrees: about 1 km


def grid(units: int, capacity: int) -> dict:
    side = math.ceil(math.sqrt(units))
    features = []
    for i in range(units):
        x0, y0 = CENTRE[0] + (i % side - side / 2) * CELL, CENTRE[1] + (i // side - side / 2) * CELL
        ring = [[x0, y0], [x0 + CELL, y0], [x0 + CELL, y0 + CELL], [x0, y0 + CELL], [x0, y0]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"unit_id": f"U{i:03d}", "name": f"第{i + 1}网格", "capacity": capacity,
                                        "post": [x0 + CELL / 2, y0 + CELL / 2],
                                        "officers": [f"P{i:03d}{k}" for k in range(3)]}})
    return {"type": "FeatureCollection", "features": features}


def alert(n: int, units: int, at: datetime) -> dict:
    side = math.ceil(math.sqrt(units))
    i = n % units
    return {"alert_id": f"110-BENCH-{n:05d}", "received_at": at.isoformat(), "category": "dispute",
            "priority": 1 + n % 3,
            "location": {"lon": CENTRE[0] + (i % side - side / 2 + 0.5) * CELL,
                         "lat": CENTRE[1] + (i // side - side / 2 + 0.5) * CELL, "address": f"第{i + 1}网格"},
            "caller_phone": "13800138000", "summary": f"测试警情{n}", "source": "110"}


async def publish_all(url: str, payloads: list[dict]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for p in payloads:
        await js.publish("alerts.received", json.dumps(p, ensure_ascii=False).encode(),
                         headers={"Nats-Msg-Id": p["alert_id"]})
    await nc.close()


def placed(base: str, token: str, since: datetime) -> int:
    """Alerts received since `since` that dispatch has placed (no longer `received`), read page by page."""
    total, params = 0, {"since": since.isoformat(), "limit": 500}
    with httpx.Client(timeout=30) as client:
        while True:
            response = client.get(f"{base}/v1/alerts", params=params, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                return total
            total += sum(1 for a in response.json() if a["state"] != "received")
            if "next" not in response.links:
                return total
            params = dict(httpx.URL(response.links["next"]["url"]).params)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fan_out(console: str, token: str, nats_url: str, pid: int, streams: int, events: int) -> float:
    """CPU seconds of the console per event with `streams` open event streams reading."""
    received = [0] * streams
    client = httpx.AsyncClient(timeout=None, cookies={"fq_session": token})

    async def read(i: int) -> None:
        async with client.stream("GET", f"{console}/events") as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    received[i] += 1

    readers = [asyncio.create_task(read(i)) for i in range(streams)]
    await asyncio.sleep(1.0)
    nc = await nats.connect(nats_url)
    body = json.dumps({"unit_id": "U000", "status": "available", "at": datetime.now(ZONE).isoformat()}).encode()
    before = cpu_seconds(pid)
    for _ in range(events):
        await nc.publish("units.bench", body)  # a family the console shows; no service consumes it
    await nc.flush()
    deadline = time.monotonic() + 30
    while any(r < events for r in received) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    spent = cpu_seconds(pid) - before
    await nc.close()
    for r in readers:
        r.cancel()
    await client.aclose()
    return spent / events


def browser_figures(console: str, token: str, nats_url: str, loads: int, live: int, units: int) -> dict:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed"}
    if not Path("/usr/bin/chromium").exists():
        return {"skipped": "chromium is not installed (apt-get install chromium)"}
    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        page.goto(console + "/login")
        page.fill("#token", token)
        page.click("#signin")
        page.wait_for_url(console + "/desk")
        renders = []
        for _ in range(loads):
            page.goto(console + "/desk")
            _wait_mark(page, "desk-ready")
            renders.append(page.evaluate("() => performance.getEntriesByName('desk-ready')[0].startTime") / 1000)
        out["markers"] = page.evaluate("() => document.querySelectorAll('path.alert-marker').length")
        out["queue_rows"] = page.evaluate("() => document.querySelectorAll('#queue-body tr').length")
        out["first_render_s"] = renders
        page.wait_for_selector("#live.on")
        delays, bare = [], []
        watcher = Bare(nats_url)
        for n in range(live):
            payload = alert(900_000 + n, units, datetime.now(ZONE))
            sent = watcher.publish(payload)
            mark = "alert:" + payload["alert_id"]
            _wait_mark(page, mark)
            drawn = page.evaluate("m => performance.getEntriesByName(m)[0].detail", mark)  # the page's Date.now()
            delays.append(drawn / 1000 - sent)
            bare.append(watcher.seen[payload["alert_id"]] - sent)
            page.wait_for_timeout(200)
        watcher.close()
        out["live_delay_s"], out["bare_delay_s"] = delays, bare
        browser.close()
    return out


def _wait_mark(page, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate("m => performance.getEntriesByName(m).length", name):
        if time.monotonic() > deadline:
            raise TimeoutError(name)
        page.wait_for_timeout(5)


class Bare:
    """A bare NATS subscriber to alerts.received on a loop of its own: when each alert reached it."""

    def __init__(self, nats_url: str) -> None:
        self.seen: dict[str, float] = {}
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self._call(self._start(nats_url))

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def _start(self, url: str) -> None:
        self.listener = await nats.connect(url)
        self.sender = await nats.connect(url)

        async def on(msg) -> None:
            self.seen[json.loads(msg.data)["alert_id"]] = time.time()

        await self.listener.subscribe("alerts.received", cb=on)
        await self.listener.flush()

    async def _publish(self, payload: dict) -> float:
        sent = time.time()
        await self.sender.jetstream().publish("alerts.received", json.dumps(payload, ensure_ascii=False).encode(),
                                              headers={"Nats-Msg-Id": payload["alert_id"]})
        return sent

    def publish(self, payload: dict) -> float:
        """Publish one alert; when it was sent (epoch seconds)."""
        return self._call(self._publish(payload))

    def close(self) -> None:
        self._call(self.listener.close())
        self._call(self.sender.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--live", type=int, default=20)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("FQ_DISPATCH_ACK_TIMEOUT_S", "86400")  # no reassignment churn while we measure
    with tempfile.TemporaryDirectory(prefix="fq-bench-console-") as folder:
        platform = Platform(Path(folder), sample_grid=False, log=lambda _line: None)
        endpoints = platform.start()
        try:
            token, dispatch = endpoints["token"], endpoints["dispatch_url"]
            console, nats_url = endpoints["console_url"], endpoints["nats_url"]
            capacity = math.ceil(args.alerts / args.units) + 2
            status, body = http_json("PUT", f"{dispatch}/v1/grid", grid(args.units, capacity), token=token)
            assert status == 200, body
            start = datetime.now(ZONE).replace(hour=0, minute=5, second=0, microsecond=0)
            day = (datetime.now(ZONE) - start).total_seconds()
            payloads = [alert(n, args.units, start + timedelta(seconds=day * n / args.alerts))
                        for n in range(args.alerts)]
            t0 = time.monotonic()
            asyncio.run(publish_all(nats_url, payloads))
            while placed(dispatch, token, start) < args.alerts and time.monotonic() - t0 < 300:
                time.sleep(0.5)
            print(f"grid of {args.units} units, {args.alerts} alerts published and placed in "
                  f"{time.monotonic() - t0:.1f} s")
            figures = browser_figures(console, token, nats_url, args.loads, args.live, args.units)
            pid = platform.services["console"].process.pid
            per_event: dict[int, list[float]] = {n: [] for n in (0, 1, 10, 50)}
            for _ in range(3):  # rounds take turns so a noisy moment falls on every count
                for n in per_event:
                    per_event[n].append(asyncio.run(fan_out(console, token, nats_url, pid, n, args.events)))
        finally:
            platform.stop()
    print()
    if "skipped" in figures:
        print(f"browser figures skipped: {figures['skipped']}")
    else:
        fr, ld, bd = figures["first_render_s"], figures["live_delay_s"], figures["bare_delay_s"]
        print(f"duty desk: {figures['markers']} markers, {figures['queue_rows']} queue rows")
        for name, values in (("first render (desk-ready)", fr), ("alerts.received -> marker", ld),
                             ("  bare NATS subscriber", bd)):
            print(f"{name:<28}median {statistics.median(values) * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms")
    base = statistics.median(per_event[0])
    print("console CPU per event (median of 3 rounds):")
    for n, values in per_event.items():
        m = statistics.median(values)
        ratio = f"x{m / base:5.2f}" if base else "   n/a"
        print(f"  {n:3d} open streams   {m * 1e6:8.1f} µs   {ratio} of 0 streams   "
              f"per stream {((m - base) / n * 1e6) if n else 0:6.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
