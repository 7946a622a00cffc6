"""Community's own copy of the grid (警务网格): zones and officers, as dispatch last published them.

A visit's household must lie inside a grid unit's zone; the monthly sheet groups officers by the
unit that lists them. The copy comes from `grid.replaced` (never from dispatch's store). Geometry
is shapely's, as in dispatch's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shapely.geometry import Point, shape
from shapely.prepared import PreparedGeometry, prep


@dataclass(frozen=True)
class GridUnit:
    unit_id: str
    name: str
    zone: Mapping[str, Any]  # a GeoJSON Polygon or MultiPolygon
    officers: tuple[str, ...]

    @cached_property
    def _prepared(self) -> PreparedGeometry:
        return prep(shape(self.zone))

    def holds(self, lon: float, lat: float) -> bool:
        """Inside the zone or on its border."""
        return self._prepared.intersects(Point(lon, lat))


@dataclass(frozen=True)
class Grid:
    version: int
    units: tuple[GridUnit, ...] = ()
    _by_officer: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            for officer in unit.officers:
                self._by_officer.setdefault(officer, unit.unit_id)

    @classmethod
    def from_geojson(cls, version: int, collection: Mapping[str, Any]) -> Grid:
        """The FeatureCollection dispatch accepted (properties unit_id, name, officers)."""
        units = []
        for feature in collection.get("features", ()):
            props = feature.get("properties") or {}
            units.append(GridUnit(str(props["unit_id"]), str(props.get("name", props["unit_id"])),
                                  feature["geometry"], tuple(str(o) for o in props.get("officers", ()))))
        return cls(version, tuple(units))

    def unit_at(self, lon: float, lat: float) -> GridUnit | None:
        """The unit whose zone holds the point (the first listed, where zones touch)."""
        return next((u for u in self.units if u.holds(lon, lat)), None)

    def unit(self, unit_id: str) -> GridUnit | None:
        return next((u for u in self.units if u.unit_id == unit_id), None)

    def unit_of(self, officer_id: str) -> str | None:
        """The unit that lists the officer (the first, if two do)."""
        return self._by_officer.get(officer_id)

    @property
    def officers(self) -> list[str]:
        return list(self._by_officer)
