"""What mediation consumes from JetStream."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer, Delivery
from common.contracts.alerts import AlertClosed
from common.contracts.subjects import ALERTS_CLOSED
from mediation import handlers
from mediation.handlers import Mediation


def consumers(m: Mediation) -> list[Consumer[Any]]:
    async def on_alert_closed(event: AlertClosed, delivery: Delivery) -> None:
        await handlers.open_from_alert(m, event)

    return [Consumer("mediation-alerts-closed", ALERTS_CLOSED, AlertClosed, on_alert_closed)]
