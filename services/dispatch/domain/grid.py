"""Grid units (警务网格 / 责任区): parsing the GeoJSON grid, and the spatial index dispatch asks
"whose zone is this?" and "whose post is nearest?"."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from heapq import heapify, heappop
from math import cos, floor, inf, isfinite, pi, radians, sin, sqrt
from typing import Any, Literal

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from common.domain import is_identifier
from dispatch.domain.geo import METRES_PER_DEGREE, chord2_from_m, m_from_chord2, unit_vector

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


# --- the grid and its spatial index ---------------------------------------------------------------


class Grid:
    """The grid units of the station, indexed for zone and nearest-post lookups."""

    def __init__(self, units: Iterable[GridUnit]) -> None:
        self._units = tuple(units)
        self._by_id = {unit.unit_id: unit for unit in self._units}
        if len(self._by_id) != len(self._units):
            raise ValueError("grid units must have distinct unit_id")
        self._posts = _PostIndex([(u.unit_id, *u.post) for u in self._units])
        self._zones = _ZoneIndex([u.zone for u in self._units])

    @property
    def units(self) -> tuple[GridUnit, ...]:
        return self._units

    def __len__(self) -> int:
        return len(self._units)

    def get(self, unit_id: str) -> GridUnit | None:
        return self._by_id.get(unit_id)

    def zone_unit_at(self, lon: float, lat: float) -> str | None:
        """The unit whose zone holds the point (a point on a shared edge goes to the unit listed first)."""
        k = self._zones.find(lon, lat)
        return None if k is None else self._units[k].unit_id

    def nearest(self, lon: float, lat: float, radius_m: float) -> Iterator[tuple[str, float]]:
        """(unit_id, great-circle metres from its post) within radius_m, nearest first, lazily."""
        return self._posts.nearest(lon, lat, radius_m)


POSTS_PER_CELL = 0.5
EDGE_SLACK_DEG = 1e-9  # ~0.1 mm: keeps the bound below float noise at cell edges
RADIANS = pi / 180


class _PostIndex:
    """Posts hashed into cells of equal degrees, searched in square rings around the query.

    A post is yielded only when no unsearched cell can hold a nearer one: the bound uses
    d >= R*|dlat| and hav(d) >= cos(lat1)*cos(lat2)*hav(dlon), so the order is the exact
    great-circle order whatever the latitude; candidates compare by unit-sphere chord.
    """

    def __init__(self, posts: Sequence[tuple[str, float, float]]) -> None:
        self._cells: list[list[tuple[float, float, float, str]] | None] = []
        if not posts:
            return
        lons = [lon for _, lon, _ in posts]
        lats = [lat for _, _, lat in posts]
        self._lon_min, self._lon_max = min(lons), max(lons)
        lat_min, lat_max = min(lats), max(lats)
        x_m_per_deg = METRES_PER_DEGREE * max(cos(radians((lat_min + lat_max) / 2)), 0.01)
        width_m = (self._lon_max - self._lon_min) * x_m_per_deg
        height_m = (lat_max - lat_min) * METRES_PER_DEGREE
        n = len(posts)
        # Sized from density; the second term keeps posts strung along a line from making a huge empty hash.
        side_m = max(sqrt(width_m * height_m * POSTS_PER_CELL / n), (width_m + height_m) * POSTS_PER_CELL / n, 1.0)
        self._dlon, self._dlat = side_m / x_m_per_deg, side_m / METRES_PER_DEGREE
        self._lon0, self._lat0 = self._lon_min, lat_min
        self._ncols = int((self._lon_max - self._lon_min) / self._dlon) + 1
        self._nrows = int((lat_max - lat_min) / self._dlat) + 1
        self._cells = [None] * (self._ncols * self._nrows)
        for unit_id, lon, lat in posts:
            i = min(int((lon - self._lon0) / self._dlon), self._ncols - 1)
            j = min(int((lat - self._lat0) / self._dlat), self._nrows - 1)
            cell = self._cells[j * self._ncols + i]
            entry = (*unit_vector(lon, lat), unit_id)
            if cell is None:
                self._cells[j * self._ncols + i] = [entry]
            else:
                cell.append(entry)
        self._cos_min = min(cos(radians(lat)) for lat in lats)  # the most poleward post weakens the longitude bound
        # Most lookups end after the 3x3 cells around the query: keep them as one list per cell.
        self._blocks = [self._ring(i, j, 0) + self._ring(i, j, 1)
                        for j in range(self._nrows) for i in range(self._ncols)]

    def nearest(self, lon: float, lat: float, radius_m: float) -> Iterator[tuple[str, float]]:
        # Runs for every alert and is measured by bench/geo.py: written for the interpreter
        # (plain comparisons instead of min/max, no heapify of a single candidate).
        if not self._cells or radius_m < 0:
            return
        limit = chord2_from_m(radius_m)
        phi, lam = lat * RADIANS, lon * RADIANS
        cos_phi = cos(phi)
        qx, qy, qz = cos_phi * cos(lam), cos_phi * sin(lam), sin(phi)
        lon_factor = 4 * cos_phi * self._cos_min
        ncols, nrows = self._ncols, self._nrows
        lon0, lat0, dlon, dlat = self._lon0, self._lat0, self._dlon, self._dlat
        ci, cj = floor((lon - lon0) / dlon), floor((lat - lat0) / dlat)
        if 0 <= ci < ncols and 0 <= cj < nrows:
            r, ring = 1, self._blocks[cj * ncols + ci]
        else:
            r = max(-ci, ci - ncols + 1, -cj, cj - nrows + 1)  # first ring that reaches an occupied cell
            ring = self._ring(ci, cj, r)
        heap: list[tuple[float, str]] = []
        while True:
            for x, y, z, unit_id in ring:
                dx, dy, dz = x - qx, y - qy, z - qz
                if (c2 := dx * dx + dy * dy + dz * dz) <= limit:
                    heap.append((c2, unit_id))
            if len(heap) > 1:
                heapify(heap)
            # Lower bound (chord²) for every post outside the searched square.
            south = lat - (lat0 + (cj - r) * dlat) if cj - r > 0 else inf
            north = lat0 + (cj + r + 1) * dlat - lat if cj + r < nrows - 1 else inf
            bound = inf
            if (gap := south if south < north else north) < inf:
                gap -= EDGE_SLACK_DEG
                half = sin((gap if gap > 0.0 else 0.0) * RADIANS / 2) if gap < 180.0 else 1.0
                bound = 4 * half * half
            west = lon - (lon0 + (ci - r) * dlon) if ci - r > 0 else inf
            east = lon0 + (ci + r + 1) * dlon - lon if ci + r < ncols - 1 else inf
            if (gap := west if west < east else east) < inf:
                # going round the other way, no longitude gap exceeds this
                wrap = 360 - max(abs(lon - self._lon_min), abs(lon - self._lon_max))
                gap = (gap if gap < wrap else wrap) - EDGE_SLACK_DEG
                half = sin((0.0 if gap < 0.0 else 180.0 if gap > 180.0 else gap) * RADIANS / 2)
                if (across := lon_factor * half * half) < bound:
                    bound = across
            while heap and heap[0][0] <= bound:
                c2, unit_id = heappop(heap)
                yield unit_id, m_from_chord2(c2)
            if bound > limit or bound == inf:
                return
            r += 1
            ring = self._ring(ci, cj, r)

    def _ring(self, ci: int, cj: int, r: int) -> list[tuple[float, float, float, str]]:
        """Posts in the cells at Chebyshev distance r from cell (ci, cj)."""
        entries: list[tuple[float, float, float, str]] = []
        ncols = self._ncols
        i_lo, i_hi = max(ci - r, 0), min(ci + r, ncols - 1)
        for j in range(max(cj - r, 0), min(cj + r, self._nrows - 1) + 1):
            for i in range(i_lo, i_hi + 1) if j in (cj - r, cj + r) else (ci - r, ci + r):
                if 0 <= i < ncols and (cell := self._cells[j * ncols + i]):
                    entries += cell
        return entries


ZONE_CELLS_PER_ZONE = 16
MAX_ZONE_CELLS_PER_ZONE = 64


class _ZoneIndex:
    """Cells of equal degrees over the zones.

    A cell that meets exactly one zone and lies inside it answers without geometry;
    any other cell keeps the few zones that meet it, tested with prepared geometries.
    """

    def __init__(self, zones: Sequence[Polygon | MultiPolygon]) -> None:
        self._zones = list(zones)
        self._cells: list[int | tuple[int, ...] | None] = []
        if not zones:
            return
        # pure-Python tests per point: shapely releases the GIL on each call, and under motor's
        # I/O threads winning it back costs far more than the test itself
        self._rings = [_polygons(zone) for zone in self._zones]
        x0, y0, x1, y1 = shapely.total_bounds(self._zones).tolist()
        boxes = shapely.bounds(self._zones)
        mean_box_area = float(((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).mean())
        side = sqrt(mean_box_area / ZONE_CELLS_PER_ZONE)
        # Scattered zones in a wide extent: cap the number of cells.
        side = max(side, sqrt((x1 - x0) * (y1 - y0) / (MAX_ZONE_CELLS_PER_ZONE * len(zones))), 1e-7)
        # Half a cell off the zones' bounds: on a regular grid, cell edges then never run along shared
        # zone edges, where every cell would need a geometry test.
        x0, y0 = x0 - side / 2, y0 - side / 2
        self._x0, self._y0, self._side = x0, y0, side
        self._ncols, self._nrows = int((x1 - x0) / side) + 1, int((y1 - y0) / side) + 1
        cols = [i % self._ncols for i in range(self._ncols * self._nrows)]
        rows = [i // self._ncols for i in range(self._ncols * self._nrows)]
        cell_boxes = shapely.box([x0 + i * side for i in cols], [y0 + j * side for j in rows],
                                 [x0 + (i + 1) * side for i in cols], [y0 + (j + 1) * side for j in rows])
        cell_of, zone_of = shapely.STRtree(self._zones).query(cell_boxes, predicate="intersects").tolist()
        meets: list[list[int]] = [[] for _ in cols]
        for c, z in zip(cell_of, zone_of, strict=True):
            meets[c].append(z)
        single = [c for c, zs in enumerate(meets) if len(zs) == 1]
        covered = shapely.covers([self._zones[meets[c][0]] for c in single], cell_boxes[single]).tolist()
        self._cells = [tuple(sorted(zs)) if zs else None for zs in meets]
        for c, inside in zip(single, covered, strict=True):
            if inside:
                self._cells[c] = meets[c][0]

    def find(self, lon: float, lat: float) -> int | None:
        if not self._cells:
            return None
        i, j = floor((lon - self._x0) / self._side), floor((lat - self._y0) / self._side)
        if not (0 <= i < self._ncols and 0 <= j < self._nrows):
            return None
        found = self._cells[j * self._ncols + i]
        if found is None or isinstance(found, int):
            return found
        return next((k for k in found if _covers(self._rings[k], lon, lat)), None)


Ring = list[tuple[float, float]]


def _polygons(zone: Polygon | MultiPolygon) -> list[tuple[Ring, list[Ring]]]:
    parts = zone.geoms if isinstance(zone, MultiPolygon) else [zone]
    return [(list(p.exterior.coords), [list(r.coords) for r in p.interiors]) for p in parts]


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    """Even-odd ray casting (a point exactly on an edge may fall either way: _on_ring decides those)."""
    inside = False
    x1, y1 = ring[-1]
    for x2, y2 in ring:
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
        x1, y1 = x2, y2
    return inside


def _on_ring(ring: Ring, x: float, y: float) -> bool:
    x1, y1 = ring[-1]
    for x2, y2 in ring:
        if (min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)
                and (x2 - x1) * (y - y1) == (y2 - y1) * (x - x1)):
            return True
        x1, y1 = x2, y2
    return False


def _covers(polygons: list[tuple[Ring, list[Ring]]], x: float, y: float) -> bool:
    """Inside or on the boundary (so a point on a shared edge goes to the unit listed first)."""
    for shell, holes in polygons:
        if _in_ring(shell, x, y) and not any(_in_ring(h, x, y) for h in holes):
            return True
        if _on_ring(shell, x, y) or any(_on_ring(h, x, y) for h in holes):
            return True
    return False
