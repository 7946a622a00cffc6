"""A consumer that JetStream cannot set up yet (a new cluster electing leaders) is tried again; the service lives."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from common.consume import ConsumeLoop, Consumer
from common.contracts.alerts import AlertReceived


class _Sub:
    async def fetch(self, batch: int, timeout: float):
        await asyncio.sleep(0.01)
        raise NatsTimeoutError

    async def unsubscribe(self) -> None:
        return None


async def _nothing(event, delivery) -> None:
    return None


async def test_a_timeout_while_subscribing_is_tried_again_until_it_works(monkeypatch) -> None:
    loop = ConsumeLoop(js=None, publisher=None, consumer=Consumer("t", AlertReceived, _nothing))
    tries: list[int] = []

    async def subscribe():
        tries.append(1)
        if len(tries) < 3:
            raise NatsTimeoutError
        return _Sub()

    monkeypatch.setattr(loop, "subscribe", subscribe)
    monkeypatch.setattr(asyncio, "wait_for", _instant_wait_for)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    while len(tries) < 3:
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert len(tries) == 3


async def test_a_stop_while_waiting_to_subscribe_ends_the_loop_and_a_bug_is_not_retried(monkeypatch) -> None:
    loop = ConsumeLoop(js=None, publisher=None, consumer=Consumer("t", AlertReceived, _nothing))

    async def never():
        raise NatsTimeoutError

    monkeypatch.setattr(loop, "subscribe", never)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 2)

    async def bug():
        raise KeyError("bug")

    monkeypatch.setattr(loop, "subscribe", bug)
    with pytest.raises(KeyError):
        await loop.run(asyncio.Event())


async def _instant_wait_for(awaitable, timeout):
    awaitable.close()
    await asyncio.sleep(0)
    raise TimeoutError
