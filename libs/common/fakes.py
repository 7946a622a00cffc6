"""In-memory stand-ins for the broker side of a service, for use-case tests without servers.

The repository's is `common.repository.InMemoryRepository`, the clock's `common.clock.FakeClock`,
the SMS gateway's `notify.sms.adapters.port.InMemorySmsGateway`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from common.bus import BrokerUnavailable
from common.contracts.base import Event


@dataclass(frozen=True)
class Published:
    subject: str
    msg_id: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakePublisher:
    """Records what would reach JetStream, drops a repeated msg id as JetStream does; can be made away."""

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.away = False
        self._seen: set[str] = set()

    async def publish(self, event: Event, msg_id: str) -> None:
        await self.publish_raw(event.subject, event.model_dump_json().encode(), msg_id)

    async def publish_raw(
        self, subject: str, data: bytes, msg_id: str, headers: dict[str, str] | None = None, *, patient: bool = True
    ) -> None:
        if self.away:
            raise BrokerUnavailable("the fake broker is away")
        if msg_id in self._seen:
            return  # a duplicate within the de-duplication window
        self._seen.add(msg_id)
        self.published.append(Published(subject, msg_id, json.loads(data), dict(headers or {})))

    def on(self, subject: str) -> list[dict[str, Any]]:
        return [p.body for p in self.published if p.subject == subject]

    @property
    def msg_ids(self) -> list[str]:
        return [p.msg_id for p in self.published]
