"""Case events from the case-management system (执法办案)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.contracts import subjects
from common.contracts.alerts import Party
from common.contracts.base import Event, Identifier, Moment

#: the most parties one case event names (a case with more is split by the publisher)
MAX_PARTIES = 50


class CaseAccepted(Event):
    """A criminal or administrative case was accepted or filed: the 7-day callback rule starts."""

    subject: ClassVar[str] = subjects.CASES_ACCEPTED
    key: ClassVar[str] = "case_id"

    case_id: Identifier
    kind: Literal["criminal", "administrative"]
    accepted_at: Moment
    officer_id: Identifier = Field(description="The responsible officer (承办民警).")
    unit_id: Identifier | None = None
    parties: list[Party] = Field(min_length=1, max_length=MAX_PARTIES)


class CaseSolved(Event):
    """The case was solved or concluded: both parties are called back within 3 days."""

    subject: ClassVar[str] = subjects.CASES_SOLVED
    key: ClassVar[str] = "case_id"

    case_id: Identifier
    solved_at: Moment
    parties: list[Party] = Field(min_length=1, max_length=MAX_PARTIES)
