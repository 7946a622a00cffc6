"""Case events from the case-management system (执法办案)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from common.contracts import subjects
from common.contracts.alerts import Party
from common.contracts.base import Event, Identifier


class CaseAccepted(Event):
    """A criminal or administrative case was accepted or filed: the 7-day callback rule starts."""

    subject: ClassVar[str] = subjects.CASES_ACCEPTED
    key: ClassVar[str] = "case_id"

    case_id: Identifier
    kind: Literal["criminal", "administrative"]
    accepted_at: AwareDatetime
    officer_id: str
    unit_id: str | None = None
    parties: list[Party] = Field(min_length=1)


class CaseSolved(Event):
    """The case was solved or concluded: both parties are called back within 3 days."""

    subject: ClassVar[str] = subjects.CASES_SOLVED
    key: ClassVar[str] = "case_id"

    case_id: Identifier
    solved_at: AwareDatetime
    parties: list[Party] = Field(min_length=1)
