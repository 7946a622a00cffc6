"""What community consumes from JetStream: dispatch's grid, its own visits, and the facts the monthly sheet counts."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.alerts import AlertAcknowledged, AlertAssigned, GridReplaced
from common.contracts.callbacks import CallbackCompleted, CallbackOverdue
from common.contracts.community import HazardVerified, VisitRecorded
from common.contracts.disputes import DisputeResolved
from common.contracts.ratings import RatingReceived
from community import handlers
from community.handlers import Community


def consumers(c: Community) -> list[Consumer[Any]]:
    return [
        Consumer("community-grid-replaced", GridReplaced, lambda e, _: handlers.keep_grid(c, e)),
        Consumer("community-visits-findings", VisitRecorded, lambda e, _: handlers.follow_findings(c, e)),
        Consumer("community-visits-sheet", VisitRecorded, lambda e, _: handlers.count_visit(c, e)),
        Consumer("community-callbacks-completed", CallbackCompleted, lambda e, _: handlers.count_callback(c, e)),
        Consumer("community-callbacks-overdue", CallbackOverdue, lambda e, _: handlers.count_callback(c, e)),
        Consumer("community-ratings-received", RatingReceived, lambda e, _: handlers.count_rating(c, e)),
        Consumer("community-disputes-resolved", DisputeResolved, lambda e, _: handlers.count_settlement(c, e)),
        Consumer("community-alerts-assigned", AlertAssigned, lambda e, _: handlers.count_assignment(c, e)),
        Consumer("community-alerts-acknowledged", AlertAcknowledged,
                 lambda e, _: handlers.count_acknowledgement(c, e)),
        Consumer("community-hazards-verified", HazardVerified, lambda e, _: handlers.count_rectification(c, e)),
    ]
