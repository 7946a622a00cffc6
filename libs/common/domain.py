"""What every service's domain shares: the aggregate and domain event bases, a refusal with its reason,
a history entry, aware times.

Pure: standard library only, so a `domain/` package may import it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

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
    #: the gate the aggregate stood at afterwards, for an aggregate that climbs gates (a dispute)
    level: str | None = None


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to an aggregate, in the domain's words. Aggregates record these in
    `events`; the service's one table (`common.events.EventTable`) turns each into a public contract."""


@dataclass(eq=False)
class Aggregate(ABC):
    """What every aggregate has: its history, the domain events recorded since it was loaded, its stored
    version, and the one "allowed when" refusal.

    A command either changes the aggregate, appends one history entry (`_record`) and appends its
    events to `events`, or raises `refusal` with the reason and changes nothing. `events` is not
    persisted: the unit of work stages them in the outbox and clears the list. `version` belongs to
    the repository (0: never saved); commands leave it.

    A subclass is a dataclass: these fields are keyword-only, after its own.
    """

    #: the refusal the rules raise (a `Refusal` of the service's own)
    refusal: ClassVar[type[Refusal]] = Refusal
    #: every state, in the order a refusal lists the allowed ones
    all_states: ClassVar[tuple[str, ...]] = ()

    if TYPE_CHECKING:  # each subclass declares its own state field, where it belongs in its order
        state: str

    history: list[HistoryEntry] = field(default_factory=list, kw_only=True)
    version: int = field(default=0, kw_only=True)
    events: list[DomainEvent] = field(default_factory=list, repr=False, kw_only=True)

    @property
    @abstractmethod
    def ident(self) -> str:
        """The aggregate's own id (the document's `_id`; refusals name it)."""

    @property
    def kind(self) -> str:
        """What a refusal calls it ("dispute", "survey")."""
        return type(self).__name__.lower()

    def _allow(self, command: str, now: datetime, states: Iterable[str]) -> None:
        """Refuse `command` unless the aggregate is in one of `states`; `now` must be aware."""
        require_aware(now)
        allowed = [state for state in self.all_states if state in states]
        if self.state not in allowed:
            raise self.refusal(
                f"cannot {command} {self.kind} {self.ident}: it is {self.state} (allowed when {', '.join(allowed)})"
            )

    def _record(self, *, now: datetime, actor: str, action: str, from_state: str | None, note: str = "") -> None:
        """One history entry: the state (and level) the command left."""
        self.history.append(HistoryEntry(now, actor, action, from_state, self.state, note, self._level()))

    def _level(self) -> str | None:
        """The gate a history entry notes, for an aggregate that climbs gates; None for the others."""
        return None


def require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None for moment in moments):
        raise ValueError("the rules need timezone-aware datetimes")


def as_utc(when: datetime | None) -> datetime | None:
    """A stored time as an aware one: a Mongo client hands datetimes back naive, in UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)
