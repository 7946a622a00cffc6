"""What the SMS gateway part adds to notify: routes, consumers, sweeps, start-up hooks (see bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from common.consume import Consumer
from common.runtime import Periodic, Runtime


@dataclass
class SmsParts:
    routers: list[APIRouter] = field(default_factory=list)
    consumers: list[Consumer[Any]] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    on_start: list[Any] = field(default_factory=list)
    #: the wired SMS context (tests and tools drive it directly)
    context: Any = None


async def build_sms(runtime: Runtime) -> SmsParts:
    """The gateway's parts (being written: until then notify has no gateway)."""
    return SmsParts()
