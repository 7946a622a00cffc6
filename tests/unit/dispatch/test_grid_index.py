import json
import random
from itertools import islice, pairwise
from pathlib import Path

import pytest
from shapely.geometry import MultiPolygon, Polygon, box

import dispatch
from dispatch.domain.geo import haversine_m
from dispatch.domain.grid import Grid, GridUnit, parse_grid

SAMPLE_GRID = Path(dispatch.__file__).parent / "sample_grid.geojson"


def unit(unit_id, post, zone=None):
    return GridUnit(unit_id, unit_id, zone if zone is not None else box(0, 0, 0.001, 0.001), post, ("a", "b", "c"))


def brute_nearest(units, lon, lat, radius_m):
    found = [(haversine_m(lon, lat, *u.post), u.unit_id) for u in units]
    return sorted(d for d in found if d[0] <= radius_m)


def assert_same_as_brute_force(grid, units, lon, lat, radius_m):
    got = list(grid.nearest(lon, lat, radius_m))
    expected = brute_nearest(units, lon, lat, radius_m)
    by_id = {u.unit_id: u for u in units}
    assert len(got) == len(expected), (lon, lat, radius_m)
    assert [d for _, d in got] == pytest.approx([d for d, _ in expected], rel=1e-12, abs=1e-6)
    assert all(d == pytest.approx(haversine_m(lon, lat, *by_id[u].post), rel=1e-12, abs=1e-6) for u, d in got)
    assert all(a[1] <= b[1] for a, b in pairwise(got))


def test_haversine_known_distances():
    assert haversine_m(118.96, 25.22, 118.96, 25.22) == 0
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111195.08, abs=0.01)  # one degree of a great circle
    assert haversine_m(0, 0, 180, 0) == pytest.approx(20015114.4, abs=1)  # half the circumference
    beijing_shanghai = haversine_m(116.4074, 39.9042, 121.4737, 31.2304)
    assert beijing_shanghai == pytest.approx(1_067_000, rel=0.002)
    assert haversine_m(121.4737, 31.2304, 116.4074, 39.9042) == beijing_shanghai


def test_zone_lookup_on_the_sample_grid():
    grid = Grid(parse_grid(json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))).units)

    assert grid.zone_unit_at(118.9651, 25.2284) == "G1"  # the town centre
    assert grid.zone_unit_at(118.96, 25.255) == "G2"
    assert grid.zone_unit_at(118.935, 25.21) == "G3"
    assert grid.zone_unit_at(118.995, 25.205) == "G4"
    assert grid.zone_unit_at(119.1, 25.23) is None  # out of the jurisdiction
    for u in grid.units:
        assert grid.zone_unit_at(*u.post) == u.unit_id


def test_zone_lookup_respects_holes_parts_and_shared_edges():
    ring = Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    parts = MultiPolygon([box(1, 1, 2, 2), box(5, 5, 6, 6)])
    east = box(3, 0, 4, 3)
    grid = Grid([unit("RING", (0.5, 0.5), ring), unit("PARTS", (1.5, 1.5), parts), unit("EAST", (3.5, 0.5), east)])

    assert grid.zone_unit_at(0.5, 2.5) == "RING"
    assert grid.zone_unit_at(1.5, 1.2) == "PARTS"  # in the hole of RING
    assert grid.zone_unit_at(5.5, 5.5) == "PARTS"
    assert grid.zone_unit_at(3.0, 1.5) == "RING"  # on the shared edge: the unit listed first
    assert grid.zone_unit_at(3.5, 1.5) == "EAST"
    assert grid.zone_unit_at(4.5, 1.5) is None
    assert grid.zone_unit_at(-0.0001, 1.5) is None


def random_posts(rng, n, lon, lat, span_lon, span_lat):
    return [(lon + rng.random() * span_lon, lat + rng.random() * span_lat) for _ in range(n)]


LAYOUTS = {
    "town": lambda rng: random_posts(rng, 300, 118.93, 25.20, 0.07, 0.06),
    "clustered": lambda rng: [p for c in random_posts(rng, 5, 118.9, 25.2, 0.2, 0.2)
                              for p in random_posts(rng, 40, c[0], c[1], 0.002, 0.002)] + [(118.95, 25.21)] * 3,
    "line": lambda rng: random_posts(rng, 200, 118.0, 25.0, 1.0, 0.0),
    "arctic": lambda rng: random_posts(rng, 300, 10.0, 78.0, 20.0, 10.0),
    "province": lambda rng: random_posts(rng, 500, 115.8, 23.5, 4.0, 4.8),
    "dateline": lambda rng: (random_posts(rng, 50, 179.9, -17.0, 0.1, 0.2)
                             + random_posts(rng, 50, -180.0, -17.0, 0.1, 0.2)),
    "single": lambda rng: [(118.96, 25.22)],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_nearest_is_the_exact_great_circle_order(layout):
    rng = random.Random(f"nearest-{layout}")
    posts = LAYOUTS[layout](rng)
    units = [unit(f"U{k:04d}", p) for k, p in enumerate(posts)]
    grid = Grid(units)
    lons, lats = [p[0] for p in posts], [p[1] for p in posts]
    for _ in range(60):
        # Inside the posts' extent, around it, and anywhere on earth.
        lon = rng.uniform(min(lons) - 0.05, max(lons) + 0.05)
        lat = rng.uniform(max(min(lats) - 0.05, -90), min(max(lats) + 0.05, 90))
        for radius_m in (rng.uniform(0, 3000), rng.uniform(0, 30000), 1e9):
            assert_same_as_brute_force(grid, units, lon, lat, radius_m)
    for _ in range(10):
        assert_same_as_brute_force(grid, units, rng.uniform(-180, 180), rng.uniform(-90, 90), 1e9)


def test_nearest_is_lazy_and_can_stop_early():
    rng = random.Random(7)
    units = [unit(f"U{k}", p) for k, p in enumerate(random_posts(rng, 500, 118.93, 25.20, 0.07, 0.06))]
    grid = Grid(units)

    first_three = list(islice(grid.nearest(118.96, 25.23, 1e9), 3))

    assert [u for u, _ in first_three] == [u for _, u in brute_nearest(units, 118.96, 25.23, 1e9)[:3]]


def test_nearest_within_radius_only():
    grid = Grid([unit("NEAR", (118.96, 25.22)), unit("FAR", (118.99, 25.22))])

    assert [u for u, _ in grid.nearest(118.961, 25.22, 500)] == ["NEAR"]
    assert list(grid.nearest(118.90, 25.22, 500)) == []
    assert list(grid.nearest(118.96, 25.22, -1)) == []
    assert [u for u, _ in grid.nearest(118.96, 25.22, 0)] == ["NEAR"]


def test_an_empty_grid_answers_nothing():
    grid = Grid([])

    assert len(grid) == 0 and grid.zone_unit_at(118.96, 25.22) is None
    assert list(grid.nearest(118.96, 25.22, 1e9)) == []


def test_units_are_reachable_by_id_and_must_be_distinct():
    a, b = unit("A", (0, 0)), unit("B", (1, 1))
    grid = Grid([a, b])

    assert grid.units == (a, b) and len(grid) == 2
    assert grid.get("B") is b and grid.get("nope") is None
    with pytest.raises(ValueError):
        Grid([a, a])


def test_a_grid_of_ten_thousand_units_builds_and_answers_correctly():
    rng = random.Random(10_000)
    lon0, lat0, side = 118.8, 25.1, 0.003  # 100 x 100 squares of about 300 m
    units = [
        GridUnit(
            f"G{i:02d}{j:02d}", f"责任区{i}-{j}",
            box(lon0 + i * side, lat0 + j * side, lon0 + (i + 1) * side, lat0 + (j + 1) * side),
            (lon0 + (i + rng.random()) * side, lat0 + (j + rng.random()) * side),
            (f"P{i:02d}{j:02d}a", f"P{i:02d}{j:02d}b", f"P{i:02d}{j:02d}c"),
        )
        for i in range(100) for j in range(100)
    ]
    grid = Grid(units)

    assert len(grid) == 10_000
    for k in range(1000):
        i, j, fx, fy = rng.randrange(100), rng.randrange(100), rng.uniform(0.01, 0.99), rng.uniform(0.01, 0.99)
        lon, lat = lon0 + (i + fx) * side, lat0 + (j + fy) * side
        assert grid.zone_unit_at(lon, lat) == f"G{i:02d}{j:02d}"
        if k % 25 == 0:
            assert_same_as_brute_force(grid, units, lon, lat, rng.choice((400, 1500)))
    assert grid.zone_unit_at(lon0 - 0.001, lat0) is None
    assert next(grid.nearest(lon0 - 1, lat0, 1e9))[0] == brute_nearest(units, lon0 - 1, lat0, 1e9)[0][1]
