"""Rating requests: any system asks for a citizen's SMS survey (短信评警)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from common.contracts import subjects
from common.contracts.base import Event, Identifier, Phone


class RatingRequested(Event):
    subject: ClassVar[str] = subjects.RATINGS_REQUESTED
    key: ClassVar[str] = "request_id"

    request_id: Identifier
    subject_type: Literal["alert", "service", "callback"]
    subject_id: Identifier
    officer_id: str
    unit_id: str | None = None
    phone: Phone
    requested_at: AwareDatetime
