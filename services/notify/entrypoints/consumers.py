"""What notify consumes from JetStream: the callbacks' consumers, then the SMS gateway's."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.cases import CaseAccepted, CaseSolved
from common.contracts.sms import SmsDelivery, SmsInbound
from notify import handlers
from notify.handlers import Notify
from notify.sms.entrypoints.consumers import consumers as sms_consumers


def consumers(n: Notify) -> list[Consumer[Any]]:
    return [
        Consumer("notify-cases-accepted", CaseAccepted, lambda event, _: handlers.case_accepted(n, event)),
        Consumer("notify-cases-solved", CaseSolved, lambda event, _: handlers.case_solved(n, event)),
        Consumer("notify-callbacks-sms-delivery", SmsDelivery, lambda event, _: handlers.sms_delivery(n, event)),
        Consumer("notify-callbacks-sms-inbound", SmsInbound, lambda event, _: handlers.sms_reply(n, event)),
        *sms_consumers(n.sms),
    ]
