"""The shared consume loop against a real nats-server: ack, dead-letter, retry, give up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from pymongo.errors import AutoReconnect

from common.bus import Publisher
from common.consume import ConsumeLoop, Consumer, Delivery
from common.contracts.alerts import AlertReceived
from common.contracts.subjects import ALERTS_RECEIVED, deadletter_subject
from common.errors import Conflict, Invalid, NotFound, Refused
from tests.support import PUBLISH_TIMEOUT_S

pytestmark = pytest.mark.integration

GOOD = {
    "alert_id": "110-1",
    "received_at": "2026-11-23T08:15:00+08:00",
    "category": "dispute",
    "location": {"lon": 118.96, "lat": 25.23},
}


async def _collect(nc, subject: str, n: int, timeout: float = 10.0) -> list[dict]:
    js = nc.jetstream()
    sub = await js.pull_subscribe(subject, durable=None)
    got: list[dict] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < n and asyncio.get_running_loop().time() < deadline:
        try:
            for m in await sub.fetch(n - len(got), timeout=0.5):
                got.append(json.loads(m.data))
                await m.ack()
        except Exception:
            continue
    return got


async def _run_until(loop: ConsumeLoop, condition, timeout: float = 10.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_valid_is_handled_invalid_is_deadlettered_and_loop_goes_on(nc) -> None:
    js = nc.jetstream()
    seen: list[str] = []

    async def handler(event: AlertReceived, delivery: Delivery) -> None:
        seen.append(event.alert_id)

    loop = ConsumeLoop(js, Publisher(js), Consumer("t1", AlertReceived, handler))
    await js.publish(ALERTS_RECEIVED, b"{not json", timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "bad-1"})
    await js.publish(ALERTS_RECEIVED, json.dumps({**GOOD, "priority": 9}).encode(),
                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "bad-2"})
    await js.publish(ALERTS_RECEIVED, json.dumps(GOOD).encode(),
                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "good-1"})
    await _run_until(loop, lambda: seen == ["110-1"])

    letters = await _collect(nc, deadletter_subject(ALERTS_RECEIVED), 2)
    assert {x["msg_id"] for x in letters} == {"bad-1", "bad-2"}
    by_id = {x["msg_id"]: x for x in letters}
    assert by_id["bad-1"]["reason"] == "invalid payload"
    assert by_id["bad-1"]["data"] == "{not json"
    assert [e["loc"] for e in by_id["bad-2"]["errors"]] == ["priority"]
    assert by_id["bad-2"]["original_subject"] == ALERTS_RECEIVED


async def test_transient_failure_is_retried_then_succeeds(nc) -> None:
    js = nc.jetstream()
    attempts: list[int] = []

    async def flaky(event: AlertReceived, delivery: Delivery) -> None:
        attempts.append(delivery.num_delivered)
        if len(attempts) == 1:
            raise AutoReconnect("store down")
        if len(attempts) == 2:
            raise Conflict("changed by others meanwhile")

    loop = ConsumeLoop(js, Publisher(js), Consumer("t2", AlertReceived, flaky))
    await js.publish(ALERTS_RECEIVED, json.dumps(GOOD).encode(),
                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "g"})
    await _run_until(loop, lambda: len(attempts) == 3)
    assert attempts == [1, 2, 3]


async def test_rejected_and_always_failing_end_in_deadletter(nc) -> None:
    js = nc.jetstream()

    async def refuse(event: AlertReceived, delivery: Delivery) -> None:
        if event.alert_id == "refused":
            raise Refused("unknown unit")
        if event.alert_id == "unknown":
            raise NotFound("unit", "G9")
        if event.alert_id == "invalid":
            raise Invalid("location", "outside the station's area")
        raise RuntimeError("bug")

    loop = ConsumeLoop(js, Publisher(js), Consumer("t3", AlertReceived, refuse), max_deliver=2)
    for alert_id in ("refused", "unknown", "invalid", "buggy"):
        payload = json.dumps({**GOOD, "alert_id": alert_id}).encode()
        await js.publish(ALERTS_RECEIVED, payload, timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert_id})
    letters: list[dict] = []

    async def watch() -> None:
        letters.extend(await _collect(nc, deadletter_subject(ALERTS_RECEIVED), 4, timeout=15))

    watcher = asyncio.create_task(watch())
    await _run_until(loop, watcher.done, timeout=20)
    reasons = {json.loads(x["data"])["alert_id"]: x["reason"] for x in letters}
    assert reasons["refused"] == "rejected: unknown unit"
    assert reasons["unknown"] == "rejected: unit 'G9' not found"
    assert reasons["invalid"] == "rejected: location: outside the station's area"
    invalid = next(x for x in letters if json.loads(x["data"])["alert_id"] == "invalid")
    assert invalid["errors"] == [{"loc": "location", "msg": "outside the station's area", "type": "value_error"}]
    assert reasons["buggy"].startswith("failed 2 times, last: RuntimeError('bug')")
    assert datetime.fromisoformat(letters[0]["at"]).tzinfo is not None
    assert datetime.now(UTC) >= datetime.fromisoformat(letters[0]["at"])
