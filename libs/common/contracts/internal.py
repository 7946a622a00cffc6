"""INTERNAL messages: between replicas of one service, over core NATS (no stream), never for other systems.

They are contracts all the same (replicas of two versions run side by side during a rolling
upgrade), but not public ones: not in `registry.CONTRACTS`, no published JSON Schema, free to
change with the service as long as the replicas of one release and the next understand each other.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.contracts import subjects
from common.contracts.base import Event


class UnitPlaceChanged(Event):
    """dispatch: a replica took (+1) or gave back (-1) one of a unit's places (see docs/dispatch-placement.md).

    At most once: a replica that misses one heals by re-reading the unit's places from the store.
    """

    subject: ClassVar[str] = subjects.DISPATCH_UNIT_LOAD
    internal: ClassVar[bool] = True
    key: ClassVar[str] = "unit_id"

    unit_id: str = Field(min_length=1, max_length=64)
    place: int = Field(ge=0, description="Which of the unit's places, 0 to capacity - 1.")
    change: Literal[1, -1] = Field(description="+1 taken, -1 given back.")
    origin: str = Field(min_length=1, max_length=64, description="The announcing replica, which skips its own news.")
