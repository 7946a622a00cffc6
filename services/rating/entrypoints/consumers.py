"""What rating consumes from JetStream."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.alerts import AlertClosed
from common.contracts.callbacks import CallbackCompleted
from common.contracts.objections import ObjectionEscalated
from common.contracts.ratings import RatingRequested
from common.contracts.sms import SmsAnsweredRating, SmsDeliveryRating
from rating import handlers
from rating.handlers import Evaluation


def consumers(m: Evaluation) -> list[Consumer[Any]]:
    return [
        Consumer("rating-alerts-closed", AlertClosed, lambda event, _: handlers.survey_of_alert(m, event)),
        Consumer("rating-requested", RatingRequested, lambda event, _: handlers.survey_requested(m, event)),
        Consumer("rating-callbacks-completed", CallbackCompleted,
                 lambda event, _: handlers.callback_completed(m, event)),
        Consumer("rating-objections-escalated", ObjectionEscalated,
                 lambda event, _: handlers.objection_escalated(m, event)),
        Consumer("rating-sms-answered", SmsAnsweredRating, lambda event, _: handlers.answered(m, event)),
        Consumer("rating-sms-delivery", SmsDeliveryRating, lambda event, _: handlers.delivery(m, event)),
    ]
