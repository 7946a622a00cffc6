"""The base of every public event: versioned, tolerant of fields it does not know."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from common.domain import ID_PATTERN

_PHONE = re.compile(r"^\+?\d{5,20}$")


def _normalize_phone(value: str) -> str:
    digits = re.sub(r"[\s\-()]", "", value)
    if not _PHONE.match(digits):
        raise ValueError("a phone number is 5 to 20 digits, optionally with a leading +")
    return digits


#: what a phone field accepts, as its schema says it: 5 to 20 digits, an optional leading +, spaces, dashes, brackets
PHONE_PATTERN = r"^\s*\+?[\s\-()]*(?:\d[\s\-()]*){5,20}$"
Phone = Annotated[str, Field(pattern=PHONE_PATTERN, max_length=40), AfterValidator(_normalize_phone)]
Identifier = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=ID_PATTERN,
          description="Letters, digits and . _ : - (starting with a letter or digit), at most 64 characters."),
]

#: every time an event carries lies in this range (a year 0001 or 9999 is a publisher's bug, refused at once)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
Moment = Annotated[
    AwareDatetime,
    Field(ge=EARLIEST, lt=LATEST, description="An ISO 8601 time with an offset, from 2000-01-01 to before 2100-01-01.",
          json_schema_extra={"formatMinimum": "2000-01-01T00:00:00Z",
                             "formatExclusiveMaximum": "2100-01-01T00:00:00Z"}),
]
#: an ISO week as the reports name it, ASCII digits only (2026-W49)
WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"
#: a free text an event carries (an opinion, a comment, a reason)
MAX_TEXT = 2000


class Event(BaseModel):
    """A message body. Unknown fields are ignored so that publishers may add optional ones."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    subject: ClassVar[str]
    version: ClassVar[int] = 1
    #: the field that names the business object, bound into every log line
    key: ClassVar[str | None] = None

    schema_version: int = Field(default=1, description="Version of this event's schema; absent means 1.")

    @property
    def business_id(self) -> str | None:
        return getattr(self, self.key) if self.key else None

    @field_validator("schema_version")
    @classmethod
    def _understood(cls, value: int) -> int:
        if not 1 <= value <= cls.version:
            raise ValueError(f"{cls.subject} version {value} is not understood here (1 to {cls.version})")
        return value
