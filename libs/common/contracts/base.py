"""The base of every public event: versioned, tolerant of fields it does not know."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

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
