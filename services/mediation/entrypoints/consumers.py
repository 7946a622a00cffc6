"""What mediation consumes from JetStream."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.alerts import AlertClosed
from common.contracts.community import VisitRecorded
from mediation import handlers
from mediation.handlers import Mediation


def consumers(m: Mediation) -> list[Consumer[Any]]:
    return [
        Consumer("mediation-alerts-closed", AlertClosed, lambda event, _: handlers.open_from_alert(m, event)),
        Consumer("mediation-visits-recorded", VisitRecorded, lambda event, _: handlers.open_from_visit(m, event)),
    ]
