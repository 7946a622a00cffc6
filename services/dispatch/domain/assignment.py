"""Which units should take an alert, in order of preference (就近处警)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dispatch.domain.geo import haversine_m
from dispatch.domain.grid import Grid, GridUnit

TIE_M = 1.0  # posts this close in distance are equally near: the least-loaded unit goes first


@dataclass(frozen=True)
class Candidate:
    unit_id: str
    reason: Literal["zone", "nearest"]
    distance_m: float


def can_take(unit: GridUnit, load: int, status: str) -> bool:
    return status == "available" and load < unit.capacity


def rank_candidates(
    grid: Grid,
    lon: float,
    lat: float,
    *,
    loads: Mapping[str, int],
    statuses: Mapping[str, str],
    radius_m: float,
    exclude: frozenset[str] = frozenset(),
    limit: int = 5,
) -> list[Candidate]:
    """Units to try, best first: the zone unit if it can take the alert, then the nearest that can.

    `statuses` is the live state and overrides `GridUnit.status`. An empty list means no unit
    within `radius_m` can take it: the alert goes to the duty desk (overflow).
    """

    def takes(unit: GridUnit | None) -> bool:
        return (unit is not None and unit.unit_id not in exclude
                and can_take(unit, loads.get(unit.unit_id, 0), statuses.get(unit.unit_id, unit.status)))

    ranked: list[Candidate] = []
    zone_unit_id = grid.zone_unit_at(lon, lat)
    zone_unit = grid.get(zone_unit_id) if zone_unit_id is not None else None
    if zone_unit is not None and takes(zone_unit):
        ranked.append(Candidate(zone_unit.unit_id, "zone", haversine_m(lon, lat, *zone_unit.post)))

    def tie_order(c: Candidate) -> tuple[int, str]:
        return loads.get(c.unit_id, 0), c.unit_id

    tied: list[Candidate] = []  # candidates within TIE_M of the first of them
    for unit_id, distance_m in grid.nearest(lon, lat, radius_m):
        if unit_id == zone_unit_id or not takes(grid.get(unit_id)):
            continue
        if tied and distance_m - tied[0].distance_m > TIE_M:
            ranked += sorted(tied, key=tie_order)
            tied = []
            if len(ranked) >= limit:
                break
        tied.append(Candidate(unit_id, "nearest", distance_m))
    ranked += sorted(tied, key=tie_order)
    return ranked[:limit]


def within_reach(grid: Grid | None, lon: float, lat: float, radius_m: float) -> bool:
    """Whether any unit of the grid could ever take an alert at this point, whatever its status and load:
    the point is in a unit's zone, or a post is within `radius_m`. An alert beyond every unit's reach
    waits for the duty desk (or a new grid), not for a place to free."""
    if grid is None:
        return False
    return grid.zone_unit_at(lon, lat) is not None or next(iter(grid.nearest(lon, lat, radius_m)), None) is not None


def candidate_for(grid: Grid, unit_id: str, lon: float, lat: float) -> Candidate:
    """The candidate a given unit is for a point: its zone unit or merely near (the distance is to its post)."""
    unit = grid.get(unit_id)
    if unit is None:
        raise KeyError(unit_id)
    reason: Literal["zone", "nearest"] = "zone" if grid.zone_unit_at(lon, lat) == unit_id else "nearest"
    return Candidate(unit_id, reason, haversine_m(lon, lat, *unit.post))
