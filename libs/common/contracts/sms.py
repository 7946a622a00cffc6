"""SMS through notify's gateway: other services ask with `sms.send`; notify tells what came in and what was delivered.

notify owns the gateway (SPEC §2.3): every outbound SMS of the platform goes through it, and every
inbound SMS and delivery receipt comes out of it as an event.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from common.contracts import subjects
from common.contracts.base import Event, Identifier, Phone

Purpose = Literal["callback", "survey", "reprompt", "notice"]

#: the longest text one request may carry: 5 concatenated UCS-2 parts of 67 characters
MAX_SMS_TEXT = 335


class SmsSendRequested(Event):
    """A command to notify: send this text to this phone. Idempotent by `sms_id` (also its Nats-Msg-Id)."""

    subject: ClassVar[str] = subjects.SMS_SEND
    key: ClassVar[str] = "sms_id"

    sms_id: Identifier = Field(description="The requester's id of this message; receipts name it.")
    phone: Phone
    text: str = Field(min_length=1, max_length=MAX_SMS_TEXT)
    purpose: Purpose
    requested_by: Literal["notify", "rating", "dispatch", "mediation"]
    ref: Identifier | None = Field(default=None, description="What the message is about (a survey id, a callback id).")
    not_before: AwareDatetime | None = Field(default=None, description="Not sent earlier (allowed hours).")
    requested_at: AwareDatetime


class SmsInbound(Event):
    """A message a citizen sent to the station's number (an MO message), as the gateway received it."""

    subject: ClassVar[str] = subjects.SMS_INBOUND
    key: ClassVar[str] = "inbound_id"

    inbound_id: Identifier
    phone: Phone = Field(description="Who sent it.")
    to: str | None = Field(default=None, max_length=32, description="The station number it was sent to.")
    text: str = Field(default="", max_length=2000, description="As received, cut to 2000 characters.")
    received_at: AwareDatetime
    gateway: str = Field(default="embedded", max_length=32)


class SmsDelivery(Event):
    """What became of a message notify sent: handed to the operator, delivered, or failed for good."""

    subject: ClassVar[str] = subjects.SMS_DELIVERY
    key: ClassVar[str] = "sms_id"

    sms_id: Identifier
    phone: Phone
    status: Literal["sent", "delivered", "failed"]
    purpose: Purpose
    requested_by: str = Field(max_length=32)
    ref: Identifier | None = None
    at: AwareDatetime
    detail: str = Field(default="", max_length=500)
