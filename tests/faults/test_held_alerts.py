"""An alert in the hands of a dispatch replica that dies is placed by the other within a few seconds.

Two replicas take a burst of alerts; one is SIGKILLed while both have alerts in hand. JetStream
hands what the dead one held to the other once the consumer's ack wait (5 s for alerts, not 30 s)
has passed, and in-progress signals keep the live one's slow alerts from being handed over. The
checks: every alert placed, each told once in the stream; the last placement within ack wait + 3 s
of the kill; some alerts were indeed held by the dead replica (placed only after the ack wait) —
a run where it held none is run again, up to three times. About 30 s a run on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest

from common.contracts.subjects import ALERTS_ASSIGNED, ALERTS_RECEIVED, ALERTS_UNASSIGNED
from tests.faults.harness import AUTH, Harness, read_stream
from tests.support import STEP, alert_body, centre, row_grid

pytestmark = [pytest.mark.faults, pytest.mark.timeout(360)]  # up to three runs of about 30 s (more when loaded)

BURST = 240
CAPACITIES = (100, 100, 100, 100)
ACK_WAIT_S = 5.0  # dispatch's consumer of alerts.received (services/dispatch/entrypoints/consumers.py)
KILL_AFTER_S = 0.15  # into the burst: both replicas have alerts in hand
WITHIN_S = ACK_WAIT_S + 3.0


#: runs of the scenario at most: whether the killed replica has alerts in hand at the kill depends on how a
#: loaded machine schedules two processes (once in a full suite it had none, and the run proved nothing)
ATTEMPTS = 3


async def test_an_alert_held_by_a_killed_replica_is_placed_by_the_other_within_seconds(tmp_path) -> None:
    for attempt in range(ATTEMPTS):
        placed, told, last, held = await _burst_and_kill(tmp_path / f"attempt-{attempt}")
        ids = [f"H-{i:04d}" for i in range(BURST)]
        assert sorted(placed) == ids, f"not placed: {sorted(set(ids) - set(placed))}"
        assert {a: n for a, n in told.items() if n != 1} == {}, "an alert told twice"
        assert last <= WITHIN_S, f"the last alert placed {last:.1f} s after the kill"
        if held:
            return
    raise AssertionError(f"the killed replica held no alert in {ATTEMPTS} runs: the test did not test it")


async def _burst_and_kill(tmp_path) -> tuple[dict[str, float], Counter, float, list[str]]:
    """One run: a burst into two replicas, one killed into it. (placed alert -> when, told counts, the last
    placement after the kill in s, the alerts placed only after the ack wait: those the killed one held)."""
    tmp_path.mkdir()
    with Harness(tmp_path) as h:
        h.start_nats()
        h.start_store()
        replicas = h.start_service("dispatch", 2, ACK_TIMEOUT_S="3600", CONSUMER_CONCURRENCY="32")
        nc = await h.client("held-alerts")
        placed: dict[str, float] = {}

        async def on_placed(msg) -> None:
            placed.setdefault(json.loads(msg.data)["alert_id"], time.monotonic())

        try:
            async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
                put = await http.put(f"{replicas[0].base_url}/v1/grid", json=row_grid(CAPACITIES))
                assert put.status_code == 200, put.text
            for subject in (ALERTS_ASSIGNED, ALERTS_UNASSIGNED):
                await nc.subscribe(subject, cb=on_placed)
            await asyncio.sleep(2.5)  # the second replica reads the grid (its view refreshes)
            js = nc.jetstream()
            ids = [f"H-{i:04d}" for i in range(BURST)]
            for i, alert_id in enumerate(ids):
                lon, lat = centre(i % len(CAPACITIES))
                body = alert_body(alert_id, lon + (i % 7 - 3) * STEP / 10, lat)
                await js.publish_async(ALERTS_RECEIVED, json.dumps(body).encode(), headers={"Nats-Msg-Id": alert_id})
            await js.publish_async_completed()
            await asyncio.sleep(KILL_AFTER_S)
            h.kill("dispatch-1")
            killed_at = time.monotonic()
            before = len(placed)
            deadline = killed_at + 3 * WITHIN_S
            while len(placed) < BURST and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            last = max(placed.values(), default=killed_at) - killed_at
            held = sorted(a for a, t in placed.items() if t - killed_at >= ACK_WAIT_S * 0.8)
            print(f"{before} placed before the kill; {BURST - before} after it, the last {last:.2f} s after; "
                  f"{len(held)} held by the killed replica, placed {ACK_WAIT_S * 0.8:.0f}+ s after the kill",
                  flush=True)
            told = Counter(body["alert_id"] for _, subject, _, body in await read_stream(nc, "ALERTS")
                           if subject in (ALERTS_ASSIGNED, ALERTS_UNASSIGNED))
        finally:
            await nc.close()
            h.stop()
    return placed, told, last, held
