"""Helpers of every service's integration tests: what reached JetStream."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from common.contracts.subjects import stream_for


@dataclass(frozen=True)
class Published:
    subject: str
    msg_id: str | None
    data: dict[str, Any]


@pytest.fixture
def published(nc) -> Callable[[str], Awaitable[list[Published]]]:
    """Every message stored so far on a subject (wildcards allowed), oldest first."""

    async def read(subject: str) -> list[Published]:
        sub = await nc.jetstream().pull_subscribe(subject, durable=None, stream=stream_for(subject))
        found: list[Published] = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(100, timeout=0.3)
                except TimeoutError:  # nats raises its own or asyncio's: both mean no more messages
                    return found
                for msg in msgs:
                    found.append(Published(msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), json.loads(msg.data)))
                    await msg.ack()
        finally:
            await sub.unsubscribe()

    return read
