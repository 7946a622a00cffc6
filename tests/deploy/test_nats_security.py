"""deploy/nats/nats.conf on a real nats-server: each user may publish exactly what it needs.

The four services run as real processes (`fengqiao serve NAME`, as in a container), each
connected as its own NATS user; other systems publish as `publisher`; the init job and the
dead-letter tool connect as `ops`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from common import bus
from common.contracts.subjects import ALERTS_ASSIGNED, CASES_SOLVED, DISPUTES_OPENED
from fengqiao.deployfiles import EXTERNAL_USER, INBOUND, OPS_USER, nats_users, topology
from fengqiao.up import http_json
from tests.deploy.support import ALERT, TOKEN, SecuredNats, Services, load_sample_grid, start_secured_nats, wait_ready
from tests.support import PUBLISH_TIMEOUT_S, Recorder

pytestmark = pytest.mark.integration


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredNats]:
    server = start_secured_nats(tmp_path / "nats")
    yield server
    server.stop()


async def _connect(server: SecuredNats, user: str, errors: list[str] | None = None):
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(server.url(user), error_cb=on_error, max_reconnect_attempts=0)


def test_the_external_users_subjects_are_the_inbound_subjects_of_spec_3() -> None:
    assert set(INBOUND) == {"alerts.received", "cases.accepted", "cases.solved", "ratings.requested"}
    external = next(u for u in nats_users(topology()) if u["user"] == EXTERNAL_USER)
    assert external["permissions"] == {"publish": list(INBOUND), "subscribe": ["_INBOX.>"]}


async def test_a_forbidden_publish_is_refused_and_an_allowed_one_lands(secured: SecuredNats) -> None:
    ops = await _connect(secured, OPS_USER)
    await bus.ensure_streams(ops.jetstream())
    errors: list[str] = []
    external = await _connect(secured, EXTERNAL_USER, errors)
    try:
        js = external.jetstream()
        with pytest.raises((NatsTimeoutError, NoRespondersError)):
            await js.publish(ALERTS_ASSIGNED, b'{"alert_id": "forged"}', timeout=1.0,
                             headers={"Nats-Msg-Id": "forged"})
        assert any("permissions violation" in e.lower() and ALERTS_ASSIGNED in e for e in errors), errors
        ack = await js.publish(CASES_SOLVED, b"{}", timeout=5.0, headers={"Nats-Msg-Id": "case-1"})
        assert ack.stream == "CASES"
        # nor may it read what the platform publishes
        await external.subscribe("alerts.>")
        await external.flush()
        await asyncio.sleep(0.2)
        assert any("subscription" in e.lower() and "alerts.>" in e for e in errors), errors
        alerts = await ops.jetstream().stream_info("ALERTS")
        assert alerts.state.messages == 0  # the forged alerts.assigned never reached the stream
    finally:
        await external.close()
        await ops.close()


def _fengqiao(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fengqiao", *args], capture_output=True, text=True, timeout=timeout)


async def test_every_service_works_with_its_own_user(
    secured: SecuredNats, store_server, db_name: str, tmp_path: Path
) -> None:
    init = await asyncio.to_thread(_fengqiao, "init", "--nats-url", secured.url(OPS_USER), "--mongo-url",
                                   store_server.url)
    assert init.returncode == 0, init.stderr
    # init runs with each service's defaults here: its databases are not this test's; it declared the consumers
    declared = [json.loads(line) for line in init.stdout.splitlines()]
    assert [d["service"] for d in declared] == ["dispatch", "mediation", "notify", "rating", "community", "console"]
    assert declared[0]["consumers"] == ["dispatch-alerts-received", "dispatch-weekly-satisfaction"]

    services = Services()
    services.start(tmp_path / "services", secured.url, store_server.url, db_name)
    ops = await _connect(secured, OPS_USER)
    external = await _connect(secured, EXTERNAL_USER)
    try:
        def crashed() -> str | None:
            dead = [n for n, s in services.running.items() if s.process.poll() is not None]
            return f"{dead} exited:\n{services.logs()}" if dead else None

        bases = {n: s.base for n, s in services.running.items()}
        await asyncio.to_thread(wait_ready, bases, 60, crashed)
        await asyncio.to_thread(load_sample_grid, bases["dispatch"])
        seen = await Recorder().start(ops, ">")

        # an alert from the 110 desk, published as the external user, is assigned by dispatch
        await external.jetstream().publish("alerts.received", json.dumps(ALERT, ensure_ascii=False).encode(),
                                           timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": ALERT["alert_id"]})
        await _until(lambda: seen.on(ALERTS_ASSIGNED, alert_id=ALERT["alert_id"]))

        # closed as referred to mediation: mediation (its own user) opens a dispute
        alert_url = f"{bases['dispatch']}/v1/alerts/{ALERT['alert_id']}"
        assert (await _http("POST", f"{alert_url}/ack", {"unit_id": "G1"}))[0] == 200
        close = {"unit_id": "G1", "officer_id": "P1001", "disposition": "referred_to_mediation",
                 "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"},
                             {"party_id": "p2", "name": "李某", "phone": "13800138002"}]}
        assert (await _http("POST", f"{alert_url}/close", close))[0] == 200
        await _until(lambda: seen.on(DISPUTES_OPENED))

        # a bad alert is dead-lettered by dispatch; the operator lists it and replays it corrected
        bad = {**ALERT, "alert_id": "110-DEPLOY-0002", "priority": 9}
        await external.jetstream().publish("alerts.received", json.dumps(bad, ensure_ascii=False).encode(),
                                           timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": bad["alert_id"]})
        await _until(lambda: seen.on("deadletter.alerts.received", msg_id=bad["alert_id"]))
        listed = await asyncio.to_thread(_fengqiao, "deadletters", "--nats-url", secured.url(OPS_USER), "list",
                                         "--subject", "alerts.received")
        assert listed.returncode == 0, listed.stderr
        letters = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(x["msg_id"], x["reason"], x["consumer"]) for x in letters] == [
            ("110-DEPLOY-0002", "invalid payload", "dispatch-alerts-received")]
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps({**bad, "priority": 2}, ensure_ascii=False), encoding="utf-8")
        replayed = await asyncio.to_thread(_fengqiao, "deadletters", "--nats-url", secured.url(OPS_USER), "replay",
                                           str(letters[0]["seq"]), "--body", str(fixed))
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout)["replayed"] is True
        await _until(lambda: seen.on(ALERTS_ASSIGNED, alert_id="110-DEPLOY-0002"))
        again = await asyncio.to_thread(_fengqiao, "deadletters", "--nats-url", secured.url(OPS_USER), "list")
        assert again.stdout == ""  # replayed letters are deleted

        for name, base in bases.items():
            assert (await _http("GET", f"{base}/readyz"))[0] == 200, name
    finally:
        await external.close()
        await ops.close()
        codes = await asyncio.to_thread(services.stop)
    logs = services.logs()
    assert "permissions violation" not in logs.lower(), logs
    assert codes == {name: 0 for name in services.running}, logs


async def _http(method: str, url: str, body: object | None = None) -> tuple[int, object]:
    return await asyncio.to_thread(http_json, method, url, body, TOKEN)


async def _until(probe, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "not seen in time"
        await asyncio.sleep(0.05)
