"""Who read what of the key-person register, whole or masked, as structured log lines (`audit.read`).

The stored, queryable record of every such read is the platform's audit trail (`common.audit`): the
API notes each person read on the caller, masked reads included, since being on the register is itself
personal data. These lines add whether the read was whole, for the station's own log review."""

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
