"""Helpers shared by the integration tests: a grid to reason about, polling, recording messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

# Four square zones of 0.01° (about 1 km) in a row along the same latitude: G1 | G2 | G3 | G4.
ORIGIN_LON, LAT = 118.90, 25.20
STEP = 0.01

#: how long a test waits for a JetStream publish's acknowledgement (nats-py waits 0.5 s by default: a
#: loaded machine misses that, and the test fails on its own input, not on what it checks)
PUBLISH_TIMEOUT_S = 10.0


def square(i: int) -> list[list[float]]:
    x0 = ORIGIN_LON + i * STEP
    return [[x0, LAT], [x0 + STEP, LAT], [x0 + STEP, LAT + STEP], [x0, LAT + STEP], [x0, LAT]]


def centre(i: int) -> tuple[float, float]:
    return ORIGIN_LON + (i + 0.5) * STEP, LAT + STEP / 2


def row_grid(capacities: tuple[int, ...] = (1, 1, 1, 1)) -> dict:
    features = []
    for i, capacity in enumerate(capacities):
        lon, lat = centre(i)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [square(i)]},
            "properties": {
                "unit_id": f"G{i + 1}", "name": f"第{i + 1}责任区", "post": [lon, lat],
                "officers": [f"P{i + 1}{k:02d}" for k in range(3)], "capacity": capacity,
            },
        })
    return {"type": "FeatureCollection", "features": features}


def alert_body(alert_id: str, lon: float, lat: float, **extra) -> dict:
    return {
        "alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
        "priority": 2, "location": {"lon": lon, "lat": lat, "address": "枫亭镇某村"},
        "caller_phone": "13800138000", "summary": "邻居因烧烤排烟争吵", "source": "110", **extra,
    }


async def publish(nc, subject: str, body: dict | bytes, msg_id: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    await nc.jetstream().publish(subject, data, timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})


async def eventually(probe: Callable, timeout: float = 30.0, interval: float = 0.05):
    """Poll `probe` (sync or async) until it returns something truthy. The timeout only tells a failure
    from a slow machine (the suite's workers share two cores with podman and the fault tests): a test
    that needs a time bound asserts it itself."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(interval)


class Recorder:
    """Every message on some subjects, seen through a core subscription."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict, str | None]] = []

    async def start(self, nc, subject: str = ">") -> Recorder:
        async def on(msg) -> None:
            try:
                body = json.loads(msg.data)
            except ValueError:
                body = {"raw": msg.data.decode("utf-8", "replace")}
            self.messages.append((msg.subject, body, (msg.headers or {}).get("Nats-Msg-Id")))

        await nc.subscribe(subject, cb=on)
        await nc.flush()
        return self

    def on(self, subject: str, **match) -> list[dict]:
        """The bodies on `subject` as a JetStream consumer gets them: a publish repeated with the same
        Nats-Msg-Id (an outbox sending again what it could not yet mark sent) once. A core subscription
        sees every repeat; `messages` keeps them all."""
        seen: set[str] = set()
        found = []
        for s, b, msg_id in self.messages:
            if s != subject or not all(b.get(k) == v for k, v in match.items()):
                continue
            if msg_id is not None:
                if msg_id in seen:
                    continue
                seen.add(msg_id)
            found.append(b)
        return found


async def handled(http, consumer: str, outcome: str) -> float:
    """How many messages a consumer of this process has handled with an outcome (acked, retried, …)."""
    return await metric(http, f'fengqiao_messages_total{{consumer="{consumer}",outcome="{outcome}"}}')


async def metric(http, line: str) -> float:
    """A counter's value as this process's /metrics shows it (name and labels as printed); 0 if absent."""
    metrics = (await http.get("/metrics")).text
    return next((float(row.split()[-1]) for row in metrics.splitlines() if row.startswith(line + " ")), 0.0)
