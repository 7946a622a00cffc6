"""ack_wait per consumer: a slow message is kept by in-progress signals, a changed setting reaches the server."""

from __future__ import annotations

import asyncio
import json

import pytest

from common.bus import Publisher
from common.consume import ConsumeLoop, Consumer, Delivery
from common.contracts.alerts import AlertReceived
from common.contracts.subjects import ALERTS_RECEIVED
from tests.integration.test_consume_loop import _run_until as _run
from tests.support import PUBLISH_TIMEOUT_S

pytestmark = pytest.mark.integration

GOOD = {"alert_id": "110-1", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
        "location": {"lon": 118.96, "lat": 25.23}}


async def test_a_message_handled_longer_than_its_ack_wait_is_not_handed_to_another(nc) -> None:
    js = nc.jetstream()
    deliveries: list[int] = []
    done: list[str] = []

    async def slow(event: AlertReceived, delivery: Delivery) -> None:
        deliveries.append(delivery.num_delivered)
        await asyncio.sleep(3.5)  # more than three ack waits
        done.append(event.alert_id)

    consumer = Consumer("slow", AlertReceived, slow, ack_wait_s=1.0)
    other = ConsumeLoop(js, Publisher(js), consumer)  # a second replica fetching from the same consumer
    await js.publish(ALERTS_RECEIVED, json.dumps(GOOD).encode(),
                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "slow-1"})
    stop = asyncio.Event()
    second = asyncio.create_task(other.run(stop))
    try:
        await _run(ConsumeLoop(js, Publisher(js), consumer), lambda: bool(done))
        await asyncio.sleep(1.5)  # an ack wait more: a redelivery would have come by now
    finally:
        stop.set()
        await second
    assert deliveries == [1]
    info = await js.consumer_info("ALERTS", "slow")
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_a_changed_ack_wait_updates_the_durable_consumer(nc) -> None:
    js = nc.jetstream()
    seen: list[str] = []

    async def handler(event: AlertReceived, delivery: Delivery) -> None:
        seen.append(event.alert_id)

    consumer = Consumer("changing", AlertReceived, handler)
    await (await ConsumeLoop(js, Publisher(js), consumer).subscribe()).unsubscribe()
    assert (await js.consumer_info("ALERTS", "changing")).config.ack_wait == 30.0
    loop = ConsumeLoop(js, Publisher(js), consumer, ack_wait_s=4.0)  # the service's setting for this durable
    await js.publish(ALERTS_RECEIVED, json.dumps(GOOD).encode(),
                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": "c-1"})
    await _run(loop, lambda: seen == ["110-1"])
    assert (await js.consumer_info("ALERTS", "changing")).config.ack_wait == 4.0
