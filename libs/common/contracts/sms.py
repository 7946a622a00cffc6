"""SMS through notify's gateway: other services ask with `sms.send`; notify tells what came in and what was delivered.

notify owns the gateway (SPEC §2.3): every outbound SMS of the platform goes through it, and every
inbound SMS and delivery receipt comes out of it as an event.

Questions and answers: an `sms.send` that expects an answer carries its `question` (owner, kind,
subject, short code, expiry). The gateway keeps the open questions and matches each inbound SMS once
to one of them — the one whose code it carries, else the newest open question to that phone — and
tells only the owner (`sms.answered.<owner>`). A receipt goes to the requester only
(`sms.delivery.<requester>`). `sms.inbound` is published for other systems; no service reads it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.contracts import subjects
from common.contracts.base import Event, Identifier, Moment, Phone

Purpose = Literal["callback", "survey", "reprompt", "notice"]
#: the services that ask questions, and what about
Owner = Literal["notify", "rating"]
QuestionKind = Literal["callback", "survey"]
#: a short code as questions carry it: a letter, one or two of the code alphabet, a digit 2-9
CODE_PATTERN = r"^[A-Z][A-Z0-9]{1,2}[2-9]$"

#: the longest text one request may carry: 5 concatenated UCS-2 parts of 67 characters
MAX_SMS_TEXT = 335


class Question(BaseModel):
    """What an SMS asks, for the gateway to match the answer to (added in v1 as an optional field)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    question_id: Identifier = Field(description="The owner's id of the question (a callback id, a survey id).")
    owner: Owner
    kind: QuestionKind
    subject_id: Identifier = Field(description="What it asks about (the callback, the survey's subject).")
    code: str = Field(pattern=CODE_PATTERN, max_length=4,
                      description="The short code in the text; an answer carrying it goes to this question.")
    expires_at: Moment = Field(description="No answer is matched to it from then on.")


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
    not_before: Moment | None = Field(default=None, description="Not sent earlier (allowed hours).")
    requested_at: Moment
    question: Question | None = Field(
        default=None, description="The message asks a question: the gateway keeps it open for the answer. "
                                  "A later message with the same question_id (a re-prompt) asks it again.")


class SmsInbound(Event):
    """A message a citizen sent to the station's number (an MO message), as the gateway received it."""

    subject: ClassVar[str] = subjects.SMS_INBOUND
    key: ClassVar[str] = "inbound_id"

    inbound_id: Identifier
    phone: Phone = Field(description="Who sent it.")
    to: str | None = Field(default=None, max_length=32, description="The station number it was sent to.")
    text: str = Field(default="", max_length=2000, description="As received, cut to 2000 characters.")
    received_at: Moment
    gateway: str = Field(default="embedded", max_length=32)


class SmsAnswered(Event):
    """An inbound SMS the gateway matched to one open question; told to the question's owner only."""

    key: ClassVar[str] = "inbound_id"

    inbound_id: Identifier
    question_id: Identifier
    kind: QuestionKind
    subject_id: Identifier
    phone: Phone = Field(description="Who answered (the phone the question went to).")
    text: str = Field(default="", max_length=2000, description="As received, cut to 2000 characters.")
    received_at: Moment
    matched_by: Literal["code", "latest"] = Field(description="The code it carried, or the newest open question.")
    opt_out: bool = Field(default=False, description="The text is an opt-out word: the gateway sends this phone "
                                                     "nothing more; the owner stops asking.")


class SmsAnsweredNotify(SmsAnswered):
    """An answer to one of notify's questions (a callback SMS)."""

    subject: ClassVar[str] = subjects.SMS_ANSWERED_NOTIFY


class SmsAnsweredRating(SmsAnswered):
    """An answer to one of rating's questions (a survey SMS)."""

    subject: ClassVar[str] = subjects.SMS_ANSWERED_RATING


ANSWERED: dict[str, type[SmsAnswered]] = {"notify": SmsAnsweredNotify, "rating": SmsAnsweredRating}


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
    at: Moment
    detail: str = Field(default="", max_length=500)


class SmsDeliveryNotify(SmsDelivery):
    """A receipt of an SMS notify asked for (a callback SMS); told to notify only."""

    subject: ClassVar[str] = subjects.SMS_DELIVERY_NOTIFY


class SmsDeliveryRating(SmsDelivery):
    """A receipt of an SMS rating asked for (a survey, a re-prompt); told to rating only."""

    subject: ClassVar[str] = subjects.SMS_DELIVERY_RATING


#: the subject a receipt goes to, by requester: its own, or `sms.delivery` for a requester without one
DELIVERY: dict[str, type[SmsDelivery]] = {"notify": SmsDeliveryNotify, "rating": SmsDeliveryRating}
