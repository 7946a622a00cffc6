"""notify as real processes (`python -m notify`) on the real servers and the real clock: a callback
scheduled before a SIGKILL fires once after the restart; two replicas handle each message once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from common.settings import DEVELOPMENT_TOKEN
from fengqiao.embedded import free_port, wait_for_port
from notify.domain import callback_id_for
from tests.support import eventually, publish

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}
SEND_DELAY_S = 3


def _start(nats_url: str, mongo_url: str, db: str, tmp_path, name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "FQ_NOTIFY_NATS_URL": nats_url, "FQ_NOTIFY_MONGO_URL": mongo_url, "FQ_NOTIFY_MONGO_DB": db,
        "FQ_NOTIFY_HTTP_PORT": str(port), "FQ_NOTIFY_LOG_JSON": "true", "FQ_NOTIFY_SWEEP_INTERVAL_S": "0.2",
        "FQ_NOTIFY_SMS_GATEWAY": "embedded",
        "FQ_NOTIFY_CONSUMER_BATCH": "2", "FQ_NOTIFY_CONSUMER_CONCURRENCY": "2",
        # any hour of the day, so the test does not depend on when it runs
        "FQ_NOTIFY_SMS_ALLOWED_FROM": "00:00:00", "FQ_NOTIFY_SMS_ALLOWED_UNTIL": "23:59:59.999999",
        "FQ_NOTIFY_SMS_DELAY_S": str(SEND_DELAY_S),
        "FQ_NOTIFY_SMS_DAILY_LIMIT": "100",  # the same parties in many cases: not what the daily limit is about
    }
    with open(tmp_path / f"notify-{name}.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "notify"], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, f"notify {name}")
    return proc, f"http://127.0.0.1:{port}"


def _case(case_id: str, parties: int) -> dict:
    return {"case_id": case_id, "kind": "administrative", "accepted_at": datetime.now(UTC).isoformat(),
            "officer_id": "P1001", "unit_id": "G1",
            "parties": [{"party_id": f"p{i}", "name": "王某", "phone": f"1380013{i:04d}"} for i in range(parties)]}


def _acked(metrics: str) -> float:
    found = re.search(r'fengqiao_messages_total\{consumer="notify-cases-accepted",outcome="acked"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        assert proc.wait(20) == 0, "notify did not stop cleanly on SIGTERM"


async def test_a_callback_scheduled_before_a_sigkill_fires_once_after_the_restart(
    nats_server, store_server, db_name, nc, published, tmp_path
) -> None:
    mongo = AsyncIOMotorClient(store_server.url, tz_aware=True)
    proc, url = _start(nats_server.url, store_server.url, db_name, tmp_path, "first")
    try:
        async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
            await eventually(lambda: _ready(http, url), timeout=30)
            await publish(nc, "cases.accepted", _case("K-1", 1), "K-1")
            await eventually(lambda: published("callbacks.scheduled"), timeout=15, interval=0.02)
            proc.send_signal(signal.SIGKILL)  # between scheduling and firing: the send is 3 s away
            proc.wait(10)
            assert await published("sms.send") == []
            await asyncio.sleep(SEND_DELAY_S)  # the send time passes while nothing runs
            proc, url = _start(nats_server.url, store_server.url, db_name, tmp_path, "second")
            sends = await eventually(lambda: published("sms.send"), timeout=30)
            await asyncio.sleep(1.0)  # several sweeps later: still one
        ident = callback_id_for("K-1", "p0", "unsolved_7d")
        assert [s.msg_id for s in await published("sms.send")] == [f"{ident}.1"] == [s.msg_id for s in sends]
        doc = await mongo[db_name].callbacks.find_one({"_id": ident})
        assert (doc["state"], doc["attempts"]) == ("sent", 1)
        assert [h["action"] for h in doc["history"]] == ["schedule", "sent"]
        assert doc["outbox"] == {}
    finally:
        mongo.close()
        _stop(proc)


async def test_two_replicas_schedule_and_send_each_callback_once(
    nats_server, store_server, db_name, nc, published, tmp_path
) -> None:
    mongo = AsyncIOMotorClient(store_server.url, tz_aware=True)
    procs = [_start(nats_server.url, store_server.url, db_name, tmp_path, name) for name in ("a", "b")]
    try:
        async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
            for _, url in procs:
                await eventually(lambda url=url: _ready(http, url), timeout=30)
            cases = [f"R-{i:02d}" for i in range(20)]
            for case_id in cases:
                await publish(nc, "cases.accepted", _case(case_id, 2), case_id)
                await publish(nc, "cases.accepted", _case(case_id, 2), f"{case_id}-resent")
            await eventually(lambda: _at_least(published, "sms.send", 40), timeout=60)
            await asyncio.sleep(1.0)
        # a new connection: the pooled one has been idle longer than the server keeps it (uvicorn's 5 s)
        async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
            acked = [_acked((await http.get(f"{url}/metrics")).text) for _, url in procs]
        assert sum(acked) == 40 and all(a > 0 for a in acked), f"both replicas took messages: {acked}"
        sends = await published("sms.send")
        assert len(sends) == 40 and {s.msg_id.rsplit(".", 1)[1] for s in sends} == {"1"}
        docs = [d async for d in mongo[db_name].callbacks.find({})]
        assert len(docs) == 40
        actions = Counter(h["action"] for d in docs for h in d["history"])
        # the embedded gateway's receipts may have come back for some already: each once
        assert (actions["schedule"], actions["sent"]) == (40, 40) and actions["delivered"] <= 40
        assert set(actions) <= {"schedule", "sent", "delivered"}
        assert {d["attempts"] for d in docs} == {1}
    finally:
        mongo.close()
        for proc, _ in procs:
            _stop(proc)


async def _at_least(published, subject: str, n: int):
    found = await published(subject)
    return found if len(found) >= n else None
