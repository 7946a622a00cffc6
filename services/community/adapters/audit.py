"""Who read what of the key-person register. A port with one adapter for now: the trail as structured log
lines (`audit.read`), until the platform's audit trail lands in `common` and this adapter gives way to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

log = structlog.get_logger("audit")


@dataclass(frozen=True)
class Read:
    who: str  # a token's hint or a user's id, never the token
    roles: tuple[str, ...]
    route: str
    ids: tuple[str, ...]
    at: datetime
    whole: bool  # personal data shown whole (else masked)


class AuditTrail(Protocol):
    async def read(self, entry: Read) -> None: ...


class LoggedAuditTrail:
    async def read(self, entry: Read) -> None:
        log.info("audit.read", who=entry.who, roles=list(entry.roles), route=entry.route, ids=list(entry.ids),
                 at=entry.at.isoformat(), whole=entry.whole)


@dataclass
class InMemoryAuditTrail:
    reads: list[Read] = field(default_factory=list)

    async def read(self, entry: Read) -> None:
        self.reads.append(entry)

    def ids_read(self) -> Sequence[str]:
        return [i for r in self.reads for i in r.ids]
