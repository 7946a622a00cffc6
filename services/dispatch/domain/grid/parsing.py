"""Parsing the uploaded GeoJSON grid into grid units (警务网格 / 责任区): every problem at once, refused whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import cos, isfinite, radians
from typing import Any, Literal

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from common.domain import is_identifier
from dispatch.domain.geo import METRES_PER_DEGREE

UnitStatus = Literal["available", "busy", "off_duty"]
STATUSES: tuple[UnitStatus, ...] = ("available", "busy", "off_duty")
DUTY_DESK = "duty_desk"  # the station duty desk holds overflow alerts; no grid unit may take this id
MIN_OFFICERS = 3  # 最小作战单元
#: bounds of a grid a station could upload (a county has hundreds of units, not tens of thousands)
MAX_UNITS, MAX_OFFICERS, MAX_NAME = 5000, 60, 60
OVERLAP_TOLERANCE_M2 = 1.0


@dataclass(frozen=True)
class GridUnit:
    unit_id: str
    name: str
    zone: Polygon | MultiPolygon = field(repr=False)
    post: tuple[float, float]  # (lon, lat) of the community police room 警务室
    officers: tuple[str, ...]
    capacity: int = 0  # 0: derived, one alert per minimal combat unit of 3 officers, at least 1
    status: UnitStatus = "available"

    def __post_init__(self) -> None:
        if self.capacity == 0:
            object.__setattr__(self, "capacity", max(1, len(self.officers) // MIN_OFFICERS))


# --- parsing and validation ------------------------------------------------------------------


@dataclass(frozen=True)
class GridProblem:
    loc: str  # e.g. "features[3].properties.officers"
    message: str


@dataclass
class GridParse:
    """All problems of a grid at once; the grid is refused as a whole when `errors` is not empty."""

    units: list[GridUnit]  # the features that parsed on their own, in order
    errors: list[GridProblem]
    warnings: list[GridProblem]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Draft:
    """What one feature yielded, kept for the checks across features even when the feature has errors."""

    loc: str
    unit_id: str | None = None
    name: str | None = None
    zone: Polygon | MultiPolygon | None = None
    post: tuple[float, float] | None = None
    officers: dict[str, int] | None = None  # officer id -> index in the feature's list
    capacity: int = 0
    status: UnitStatus = "available"
    failed: bool = False


class _Problems:
    def __init__(self) -> None:
        self.errors: list[GridProblem] = []
        self.warnings: list[GridProblem] = []

    def error(self, loc: str, message: str, draft: _Draft | None = None) -> None:
        self.errors.append(GridProblem(loc, message))
        if draft is not None:
            draft.failed = True

    def warn(self, loc: str, message: str) -> None:
        self.warnings.append(GridProblem(loc, message))


def parse_grid(feature_collection: Any) -> GridParse:
    problems = _Problems()
    drafts: list[_Draft] = []
    if not isinstance(feature_collection, dict):
        problems.error("", "must be a GeoJSON FeatureCollection object")
        return GridParse([], problems.errors, problems.warnings)
    if feature_collection.get("type") != "FeatureCollection":
        problems.error("type", f"must be 'FeatureCollection', got {feature_collection.get('type')!r}")
    features = feature_collection.get("features")
    if not isinstance(features, list):
        problems.error("features", "must be a list of Features, one per grid unit")
    elif not features:
        problems.error("features", "needs at least one Feature (grid unit)")
    elif len(features) > MAX_UNITS:
        problems.error("features", f"holds {len(features)} units; a grid has at most {MAX_UNITS}")
    else:
        drafts = [_parse_feature(f, f"features[{i}]", problems) for i, f in enumerate(features)]
        _check_unique_ids(drafts, problems)
        _check_officers_in_one_unit(drafts, problems)
        _check_zones(drafts, problems)
    units = [
        GridUnit(d.unit_id, d.name or d.unit_id, d.zone, d.post, tuple(d.officers), d.capacity, d.status)
        for d in drafts
        if not d.failed and d.unit_id and d.zone is not None and d.post is not None and d.officers is not None
    ]
    return GridParse(units, problems.errors, problems.warnings)


def _parse_feature(feature: Any, loc: str, problems: _Problems) -> _Draft:
    draft = _Draft(loc)
    if not isinstance(feature, dict):
        problems.error(loc, "must be a GeoJSON Feature object", draft)
        return draft
    if feature.get("type") != "Feature":
        problems.error(f"{loc}.type", f"must be 'Feature', got {feature.get('type')!r}", draft)
    draft.zone = _parse_zone(feature.get("geometry"), f"{loc}.geometry", problems, draft)
    props = feature.get("properties")
    if not isinstance(props, dict):
        problems.error(f"{loc}.properties", "must be an object with unit_id, name, post, officers", draft)
        return draft
    _parse_properties(props, f"{loc}.properties", problems, draft)
    return draft


def _parse_properties(props: dict[str, Any], loc: str, problems: _Problems, draft: _Draft) -> None:
    unit_id = props.get("unit_id")
    if not isinstance(unit_id, str) or not unit_id.strip():
        problems.error(f"{loc}.unit_id", "must be a non-empty string", draft)
    elif unit_id == DUTY_DESK:
        problems.error(f"{loc}.unit_id", f"{DUTY_DESK!r} is reserved for the station duty desk", draft)
    elif any(c.isspace() or not c.isprintable() for c in unit_id):
        problems.error(f"{loc}.unit_id", f"must not hold spaces or control characters: {unit_id[:MAX_NAME]!r}", draft)
    elif not is_identifier(unit_id):
        problems.error(f"{loc}.unit_id", "must be 1 to 64 of A-Z a-z 0-9 . _ : - (starting with a letter or digit), "
                                         f"so that /v1/units/<unit_id> reaches it: {unit_id[:MAX_NAME]!r}", draft)
    else:
        draft.unit_id = unit_id

    name = props.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.error(f"{loc}.name", "must be a non-empty string when given", draft)
    elif name is not None and len(name) > MAX_NAME:
        problems.error(f"{loc}.name", f"must be at most {MAX_NAME} characters, got {len(name)}", draft)
    else:
        draft.name = name

    post = props.get("post")
    if not isinstance(post, list | tuple) or len(post) != 2:
        problems.error(f"{loc}.post", "must be [lon, lat] of the police room", draft)
    else:
        message = _position_problem(post)
        if message:
            problems.error(f"{loc}.post", message, draft)
        else:
            draft.post = (float(post[0]), float(post[1]))

    draft.officers = _parse_officers(props.get("officers"), f"{loc}.officers", problems, draft)

    capacity = props.get("capacity")
    if capacity is not None:
        if type(capacity) is not int or capacity < 1:
            problems.error(f"{loc}.capacity", f"must be an integer of at least 1, got {capacity!r}", draft)
        else:
            draft.capacity = capacity

    status = props.get("status")
    if status is not None:
        if status not in STATUSES:
            problems.error(f"{loc}.status", f"must be one of {', '.join(STATUSES)}, got {status!r}", draft)
        else:
            draft.status = status


def _parse_officers(officers: Any, loc: str, problems: _Problems, draft: _Draft) -> dict[str, int] | None:
    if not isinstance(officers, list):
        problems.error(loc, f"must be a list of at least {MIN_OFFICERS} officer ids", draft)
        return None
    if len(officers) > MAX_OFFICERS:
        problems.error(loc, f"lists {len(officers)} officers; a unit has at most {MAX_OFFICERS}", draft)
        return None
    seen: dict[str, int] = {}
    for k, officer in enumerate(officers):
        if not isinstance(officer, str) or not officer.strip():
            problems.error(f"{loc}[{k}]", "must be a non-empty officer id", draft)
        elif len(officer) > 64:
            problems.error(f"{loc}[{k}]", f"an officer id is at most 64 characters, got {len(officer)}", draft)
        elif officer in seen:
            problems.error(f"{loc}[{k}]", f"officer {officer} is listed twice (also [{seen[officer]}])", draft)
        else:
            seen[officer] = k
    if len(seen) < MIN_OFFICERS:
        problems.error(loc, f"needs at least {MIN_OFFICERS} distinct officers (最小作战单元), got {len(seen)}", draft)
    return seen


def _position_problem(position: Sequence[Any]) -> str | None:
    lon, lat = position[0], position[1]
    for what, value, limit in (("longitude", lon, 180), ("latitude", lat, 90)):
        if type(value) not in (int, float) or not isfinite(value):
            return f"{what} must be a finite number, got {value!r}"
        if not -limit <= value <= limit:
            return f"{what} {value} is out of [-{limit}, {limit}]"
    return None


def _ring_position_problem(position: Any) -> str | None:
    if not isinstance(position, list | tuple) or len(position) not in (2, 3):
        return "must be a position [lon, lat]"
    return _position_problem(position)


def _parse_ring(ring: Any, loc: str, problems: _Problems, draft: _Draft) -> list[tuple[float, float]] | None:
    if not isinstance(ring, list) or len(ring) < 4:
        problems.error(loc, "a linear ring needs at least 4 positions [lon, lat]", draft)
        return None
    bad = [(k, message) for k, position in enumerate(ring) if (message := _ring_position_problem(position))]
    if bad:
        k, message = bad[0]
        more = f" (and {len(bad) - 1} more positions of this ring)" if len(bad) > 1 else ""
        problems.error(f"{loc}[{k}]", message + more, draft)
        return None
    points = [(float(p[0]), float(p[1])) for p in ring]
    if points[0] != points[-1]:
        problems.error(loc, "ring is not closed: the last position must repeat the first", draft)
        return None
    return points


def _parse_polygon(rings: Any, loc: str, problems: _Problems, draft: _Draft) -> Polygon | None:
    if not isinstance(rings, list) or not rings:
        problems.error(loc, "a polygon needs an exterior ring", draft)
        return None
    parsed = [_parse_ring(ring, f"{loc}[{k}]", problems, draft) for k, ring in enumerate(rings)]
    if any(ring is None for ring in parsed):
        return None
    return Polygon(parsed[0], parsed[1:])


def _parse_zone(geometry: Any, loc: str, problems: _Problems, draft: _Draft) -> Polygon | MultiPolygon | None:
    if not isinstance(geometry, dict):
        problems.error(loc, "must be a GeoJSON Polygon or MultiPolygon", draft)
        return None
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    zone: Polygon | MultiPolygon | None = None
    if kind == "Polygon":
        zone = _parse_polygon(coordinates, f"{loc}.coordinates", problems, draft)
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            problems.error(f"{loc}.coordinates", "a MultiPolygon needs at least one polygon", draft)
            return None
        parts = [_parse_polygon(p, f"{loc}.coordinates[{k}]", problems, draft) for k, p in enumerate(coordinates)]
        if all(part is not None for part in parts):
            zone = MultiPolygon(parts)
    else:
        problems.error(f"{loc}.type", f"must be 'Polygon' or 'MultiPolygon', got {kind!r}", draft)
    if zone is not None and not zone.is_valid:
        problems.error(loc, f"invalid zone: {explain_validity(zone)}", draft)
        return None
    return zone


def _check_unique_ids(drafts: list[_Draft], problems: _Problems) -> None:
    first: dict[str, _Draft] = {}
    for draft in drafts:
        if draft.unit_id is None:
            continue
        if draft.unit_id in first:
            problems.error(f"{draft.loc}.properties.unit_id",
                           f"duplicate unit_id {draft.unit_id!r} (also {first[draft.unit_id].loc})", draft)
        else:
            first[draft.unit_id] = draft


def _check_officers_in_one_unit(drafts: list[_Draft], problems: _Problems) -> None:
    home: dict[str, _Draft] = {}
    for draft in drafts:
        for officer, k in (draft.officers or {}).items():
            if officer in home:
                other = home[officer]
                problems.error(f"{draft.loc}.properties.officers[{k}]",
                               f"officer {officer} is already in unit {other.unit_id} ({other.loc})", draft)
            else:
                home[officer] = draft


def _check_zones(drafts: list[_Draft], problems: _Problems) -> None:
    """Zones must not overlap (an alert has one zone unit); a post should stand in its own zone."""
    placed = [d for d in drafts if d.zone is not None]
    if not placed:
        return
    zones = [d.zone for d in drafts if d.zone is not None]
    tree = shapely.STRtree(zones)
    pairs = [(i, j) for i, j in zip(*tree.query(zones, predicate="intersects").tolist(), strict=True) if i < j]
    touching = shapely.touches([zones[i] for i, _ in pairs], [zones[j] for _, j in pairs]).tolist()
    for (i, j), touches in zip(pairs, touching, strict=True):
        if touches:
            continue  # neighbours sharing an edge
        area = _area_m2(zones[i].intersection(zones[j]))
        if area > OVERLAP_TOLERANCE_M2:
            problems.error(f"{placed[j].loc}.geometry",
                           f"zone overlaps unit {placed[i].unit_id} ({placed[i].loc}) by about {area:.0f} m²",
                           placed[j])

    for draft in placed:
        if draft.post is None or shapely.intersects_xy(draft.zone, *draft.post):
            continue
        hosts = tree.query(shapely.Point(draft.post), predicate="intersects").tolist()
        if hosts:
            host = placed[min(hosts)]
            problems.warn(f"{draft.loc}.properties.post",
                          f"post lies in the zone of unit {host.unit_id} ({host.loc}), not in its own")
        else:
            problems.warn(f"{draft.loc}.properties.post", "post lies outside every zone")


def _area_m2(geometry: BaseGeometry) -> float:
    """Area in a local equirectangular approximation, good enough to tell a sliver from an overlap."""
    if geometry.is_empty:
        return 0.0
    lat = geometry.centroid.y
    return float(geometry.area) * METRES_PER_DEGREE**2 * cos(radians(lat))
