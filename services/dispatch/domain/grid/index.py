"""The grid's spatial index: "whose zone holds this point?" and "whose post is nearest?"."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from heapq import heapify, heappop
from math import cos, floor, inf, pi, radians, sin, sqrt

import shapely
from shapely.geometry import MultiPolygon, Polygon

from dispatch.domain.geo import METRES_PER_DEGREE, chord2_from_m, m_from_chord2, unit_vector
from dispatch.domain.grid.parsing import GridUnit


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
