"""What dispatch consumes from JetStream."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer, Delivery
from common.contracts.alerts import AlertReceived
from dispatch import handlers
from dispatch.handlers import Dispatch


def consumers(d: Dispatch) -> list[Consumer[Any]]:
    async def on_alert_received(event: AlertReceived, delivery: Delivery) -> None:
        await handlers.receive_alert(d, event)

    # a few seconds: an alert held by a replica that died is placed by another at once (再快一秒)
    return [Consumer("dispatch-alerts-received", AlertReceived, on_alert_received, ack_wait_s=5.0)]
