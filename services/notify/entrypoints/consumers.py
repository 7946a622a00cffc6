"""What notify's callbacks consume from JetStream."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.cases import CaseAccepted, CaseSolved
from common.contracts.sms import SmsDelivery, SmsInbound
from notify import handlers
from notify.handlers import Notify


def consumers(n: Notify) -> list[Consumer[Any]]:
    return [
        Consumer("notify-cases-accepted", CaseAccepted, lambda event, _: handlers.case_accepted(n, event)),
        Consumer("notify-cases-solved", CaseSolved, lambda event, _: handlers.case_solved(n, event)),
        Consumer("notify-callbacks-sms-delivery", SmsDelivery, lambda event, _: handlers.sms_delivery(n, event)),
        Consumer("notify-callbacks-sms-inbound", SmsInbound, lambda event, _: handlers.sms_reply(n, event)),
    ]
