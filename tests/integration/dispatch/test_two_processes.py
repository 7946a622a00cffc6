"""Two dispatch processes on one stream and one store: no unit over capacity, no alert held twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

import httpx
import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from common.contracts.subjects import ALERTS_RECEIVED
from common.settings import DEVELOPMENT_TOKEN
from fengqiao.embedded import free_port, wait_for_port
from tests.support import alert_body, centre, eventually, publish, row_grid

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}


def _start(nats_url: str, mongo_url: str, db: str, tmp_path, n: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "FQ_DISPATCH_NATS_URL": nats_url, "FQ_DISPATCH_MONGO_URL": mongo_url, "FQ_DISPATCH_MONGO_DB": db,
        "FQ_DISPATCH_HTTP_PORT": str(port), "FQ_DISPATCH_CONSUMER_BATCH": "2", "FQ_DISPATCH_CONSUMER_CONCURRENCY": "2",
        "FQ_DISPATCH_SWEEP_INTERVAL_S": "0.2", "FQ_DISPATCH_VIEW_REFRESH_S": "0.2", "FQ_DISPATCH_LOG_JSON": "true",
    }
    with open(tmp_path / f"dispatch-{n}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "fengqiao", "serve", "dispatch"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, f"dispatch {n}")
    return proc, port


def _acked(metrics: str) -> float:
    found = re.search(r'fengqiao_messages_total\{consumer="dispatch-alerts-received",outcome="acked"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


async def _check_invariants(db, alerts: list[dict]) -> None:
    """As stored: every held alert in one place of its unit, no unit over capacity, no place held twice."""
    capacity = {u["_id"]: u["capacity"] async for u in db.units.find({})}
    stored = {a["_id"]: a async for a in db.alerts.find({})}
    assert sorted(stored) == sorted(a["alert_id"] for a in alerts)
    held = [a for a in stored.values() if a["state"] in ("assigned", "acknowledged")]
    for alert in held:
        assert alert["slot"] == f"u:{alert['unit_id']} {alert['place']}", alert["_id"]
        assert 0 <= alert["place"] < capacity[alert["unit_id"]], f"{alert['_id']} outside its unit's places"
    assert len({a["slot"] for a in held}) == len(held), "a place held twice"
    per_unit = Counter(a["unit_id"] for a in held)
    assert all(n <= capacity[u] for u, n in per_unit.items()), f"over capacity: {per_unit}"
    assert all(a["slot"] == f"w:{a['_id']}" for a in stored.values() if a not in held)


async def test_two_processes_share_the_work_without_breaking_capacity(
    nats_server, store_server, db_name, nc, tmp_path
) -> None:
    procs = [_start(nats_server.url, store_server.url, db_name, tmp_path, n) for n in (1, 2)]
    mongo = AsyncIOMotorClient(store_server.url, tz_aware=True)
    try:
        urls = [f"http://127.0.0.1:{port}" for _, port in procs]
        async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
            await eventually(lambda: _ready(http, urls), timeout=30)
            assert (await http.put(f"{urls[0]}/v1/grid", json=row_grid((2, 1, 1, 2)))).status_code == 200
            ids = [f"two-{i:03d}" for i in range(40)]
            for i, alert_id in enumerate(ids):
                lon, lat = centre(i % 4)
                await publish(nc, ALERTS_RECEIVED, alert_body(alert_id, lon, lat), alert_id)
                if i % 5 == 0:  # a publisher's resend with a new msg id
                    await publish(nc, ALERTS_RECEIVED, alert_body(alert_id, lon, lat), f"{alert_id}-again")

            async def all_placed() -> list[dict] | None:
                listed = (await http.get(f"{urls[1]}/v1/alerts", params={"limit": 500})).json()
                return listed if len(listed) == 40 and all(a["state"] != "received" for a in listed) else None

            await eventually(all_placed, timeout=60)
            # A resend still in hand may hold a place it is about to give back, and an alert that found
            # every place taken meanwhile waits at the duty desk until a sweep offers it the freed one:
            # check once every message is handled and the waiting ones had their chance.
            sent = len(ids) + len(ids) // 5

            async def settled() -> list[dict] | None:
                handled = sum([_acked((await http.get(f"{u}/metrics")).text) for u in urls])
                listed = await all_placed()
                full = listed is not None and sum(1 for a in listed if a["state"] == "assigned") == 6
                return listed if handled >= sent and full else None  # 6: the total capacity

            alerts = await eventually(settled, timeout=60)
            db = mongo[f"{db_name}"]
            await _check_invariants(db, alerts)
            metrics = [(await http.get(f"{u}/metrics")).text for u in urls]
            assert all(_acked(m) > 0 for m in metrics), "both processes took messages"

            # free capacity by closing what the units hold: both processes' sweeps place the waiting ones
            for alert in [a for a in alerts if a["state"] == "assigned"]:
                body = {"unit_id": alert["unit_id"], "officer_id": "P000", "disposition": "no_action"}
                either = urls[len(alert["alert_id"]) % 2]
                closed = await http.post(f"{either}/v1/alerts/{alert['alert_id']}/close", json=body)
                assert closed.status_code == 200

            async def refilled() -> list[dict] | None:
                listed = (await http.get(f"{urls[0]}/v1/alerts", params={"limit": 500})).json()
                return listed if sum(1 for a in listed if a["state"] == "assigned") == 6 else None

            alerts = await eventually(refilled, timeout=60)
            await _check_invariants(db, alerts)
    finally:
        mongo.close()
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            assert proc.wait(20) == 0, "a dispatch process did not stop cleanly on SIGTERM"


async def _ready(http: httpx.AsyncClient, urls: list[str]) -> bool:
    try:
        return all([(await http.get(f"{u}/readyz")).status_code == 200 for u in urls])
    except httpx.HTTPError:
        return False
