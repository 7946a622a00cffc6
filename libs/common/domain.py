"""What every service's domain shares: a refusal with its reason, a history entry, aware times.

Pure: standard library only, so a `domain/` package may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

#: the one alphabet of every id handed out or accepted: letters, digits and `.` `_` `:` `-`, starting with a
#: letter or digit, at most 64 characters, so every id is one URL path segment as it is and a safe document key
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_ID = re.compile(ID_PATTERN)


def is_identifier(text: str) -> bool:
    return bool(_ID.match(text))


class Refusal(Exception):
    """A command the rules refuse in the aggregate's present state, with the reason a person reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to an aggregate: when, who, what, and the state it left."""

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str = ""


def require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None for moment in moments):
        raise ValueError("the rules need timezone-aware datetimes")


def as_utc(when: datetime | None) -> datetime | None:
    """A stored time as an aware one: a Mongo client hands datetimes back naive, in UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)
