"""The port every outbound SMS of the platform goes through (notify owns the real adapters).

notify's adapters implement `SmsGateway`: the embedded gateway of `fengqiao up` and Kannel's HTTP
sendsms. Other services never call a gateway: they ask notify with the `sms.send` command event.
`InMemorySmsGateway` is the fake for use-case tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class OutboundSms:
    #: our id of the message: the gateway's delivery receipts name it, and a resend under it is one SMS
    sms_id: str
    phone: str
    text: str


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    #: a refusal that another try may not meet (gateway busy or away); False: the number or text is refused
    retryable: bool = False
    detail: str = ""


@dataclass(frozen=True)
class DeliveryReceipt:
    sms_id: str
    status: Literal["delivered", "failed"]
    at: datetime
    detail: str = ""


class SmsGateway(Protocol):
    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one message to the gateway; receipts come later (`DeliveryReceipt`)."""


@dataclass
class InMemorySmsGateway:
    """Records what was sent; numbers in `refuse` are refused for good, and `away` refuses all for now."""

    sent: list[OutboundSms] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    away: bool = False

    async def send(self, sms: OutboundSms) -> SendResult:
        if self.away:
            return SendResult(False, retryable=True, detail="gateway away")
        if sms.phone in self.refuse:
            return SendResult(False, retryable=False, detail="number refused")
        if all(s.sms_id != sms.sms_id for s in self.sent):
            self.sent.append(sms)
        return SendResult(True)

    def to(self, phone: str) -> list[str]:
        return [s.text for s in self.sent if s.phone == phone]
