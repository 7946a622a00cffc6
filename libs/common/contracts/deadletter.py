"""What a dead-lettered message looks like on `deadletter.<subject>`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from common.contracts.base import Event


class DeadLetter(Event):
    """A message a consumer could not process, with the reason; the original body is kept whole."""

    subject: ClassVar[str] = "deadletter.<original subject>"
    key: ClassVar[str] = "msg_id"

    original_subject: str
    stream: str | None = None
    stream_seq: int | None = None
    msg_id: str | None = None
    consumer: str
    reason: str
    errors: list[dict[str, Any]] = Field(default_factory=list, description="Validation errors: loc, msg, type.")
    deliveries: int = 1
    at: AwareDatetime
    data: str = Field(description="The original body as UTF-8 text, or base64 prefixed with 'base64:'.")
