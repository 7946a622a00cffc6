"""A grid unit's live state (status, capacity, officers) and the grid as uploaded: aggregates saved whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc
from dispatch.domain.events import GridReplaced, UnitStatus, UnitStatusChanged

STATUSES: tuple[UnitStatus, ...] = ("available", "busy", "off_duty")
#: the one grid record's id
GRID_ID = "current"


class UnitRefused(Refusal):
    """The unit's rules refuse the change."""


@dataclass
class Unit(Aggregate):
    """One grid unit as the duty desk runs it. Its places are held in the alerts (see the `slot` index)."""

    refusal: ClassVar[type[Refusal]] = UnitRefused

    unit_id: str
    name: str
    officers: list[str]
    capacity: int
    status: UnitStatus
    retired: bool = False  # gone from the grid: off duty, never ranked
    grid_version: int = 0

    @property
    def ident(self) -> str:
        return self.unit_id

    def set_status(self, status: UnitStatus, now: datetime) -> None:
        """The duty desk says the unit is available, busy or off duty; the same status again changes nothing."""
        if status not in STATUSES:
            raise UnitRefused(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if self.retired:
            raise UnitRefused(f"unit {self.unit_id} has left the grid")
        if status == self.status:
            return
        self.status = status
        self.events.append(UnitStatusChanged(self.unit_id, status, now))

    def regrid(self, *, name: str, officers: list[str], capacity: int, status: UnitStatus, grid_version: int) -> None:
        """A new grid names the unit again: it takes the grid's description, and the status the grid gives."""
        self.name, self.officers, self.capacity, self.status = name, list(officers), capacity, status
        self.retired, self.grid_version = False, grid_version

    def retire(self, grid_version: int) -> None:
        """A new grid no longer has the unit: off duty for good, until a grid names it again."""
        self.retired, self.status, self.grid_version = True, "off_duty", grid_version

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        data["history"] = [asdict(entry) for entry in self.history]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unit:
        names = {f.name for f in fields(cls)} - {"events", "history"}
        values = {k: v for k, v in data.items() if k in names}
        values["officers"] = list(values.get("officers", ()))
        return cls(**values, history=_history(data))


@dataclass
class GridRecord(Aggregate):
    """The grid as last uploaded (GeoJSON, kept as text) and its warnings; its version (owned by the
    repository: 1 for the first grid, +1 for each replacement) is the grid's."""

    geojson: str
    warnings: list[dict[str, str]]
    uploaded_at: datetime

    @property
    def ident(self) -> str:
        return GRID_ID

    @classmethod
    def upload(cls, geojson: str, warnings: list[dict[str, str]], units: int, now: datetime) -> GridRecord:
        record = cls(geojson, list(warnings), now)
        record.events.append(GridReplaced(units, now))
        return record

    def replace(self, geojson: str, warnings: list[dict[str, str]], units: int, now: datetime) -> None:
        self.geojson, self.warnings, self.uploaded_at = geojson, list(warnings), now
        self.events.append(GridReplaced(units, now))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("events")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GridRecord:
        uploaded = as_utc(data["uploaded_at"])
        return cls(data["geojson"], [dict(w) for w in data.get("warnings", [])], uploaded,
                   version=data.get("version", 0), history=_history(data))


def _history(data: Mapping[str, Any]) -> list[HistoryEntry]:
    return [HistoryEntry(**{**entry, "at": as_utc(entry["at"])}) for entry in data.get("history", [])]


@dataclass(frozen=True)
class UnitState:
    """What ranking reads of a unit, as last read from the store (a read model, not the aggregate)."""

    unit_id: str
    status: str
    capacity: int
    officers: tuple[str, ...]
    retired: bool
