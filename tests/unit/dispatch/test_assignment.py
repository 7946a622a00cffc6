import json
from pathlib import Path

import pytest
from shapely.geometry import box

import dispatch
from dispatch.domain.assignment import Candidate, can_take, rank_candidates, within_reach
from dispatch.domain.geo import haversine_m
from dispatch.domain.grid import Grid, GridUnit, parse_grid

SAMPLE_GRID = Path(dispatch.__file__).parent / "sample_grid.geojson"
TOWN_CENTRE = (118.9651, 25.2284)  # in G1's zone


def sample_grid():
    return Grid(parse_grid(json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))).units)


def rank(grid, lon, lat, loads=None, statuses=None, radius_m=10_000, **kwargs):
    return rank_candidates(grid, lon, lat, loads=loads or {}, statuses=statuses or {}, radius_m=radius_m, **kwargs)


def ids(candidates):
    return [c.unit_id for c in candidates]


def test_the_zone_unit_comes_first_then_the_nearest():
    grid = sample_grid()

    ranked = rank(grid, *TOWN_CENTRE)

    assert ranked[0] == Candidate("G1", "zone", pytest.approx(haversine_m(*TOWN_CENTRE, *grid.get("G1").post)))
    assert ids(ranked) == ["G1", "G3", "G2", "G4"]
    assert [c.reason for c in ranked[1:]] == ["nearest"] * 3
    distances = [c.distance_m for c in ranked[1:]]
    assert distances == sorted(distances)


def test_a_busy_or_full_zone_unit_gives_way_to_the_nearest():
    grid = sample_grid()

    assert ids(rank(grid, *TOWN_CENTRE, statuses={"G1": "busy"})) == ["G3", "G2", "G4"]
    assert ids(rank(grid, *TOWN_CENTRE, statuses={"G1": "off_duty"})) == ["G3", "G2", "G4"]
    assert ids(rank(grid, *TOWN_CENTRE, loads={"G1": 1})) == ["G3", "G2", "G4"]  # capacity 1
    assert rank(grid, *TOWN_CENTRE, loads={"G1": 1})[0].reason == "nearest"


def test_live_status_overrides_the_grid_status():
    zone = box(0, 0, 0.01, 0.01)
    off = GridUnit("OFF", "OFF", zone, (0.005, 0.005), ("a", "b", "c"), status="off_duty")
    grid = Grid([off])

    assert rank(grid, 0.005, 0.005) == []
    assert ids(rank(grid, 0.005, 0.005, statuses={"OFF": "available"})) == ["OFF"]


def test_capacity_counts_alerts_held():
    zone = box(0, 0, 0.01, 0.01)
    six = GridUnit("SIX", "SIX", zone, (0.005, 0.005), tuple("abcdef"))  # capacity 2

    assert ids(rank(Grid([six]), 0.005, 0.005, loads={"SIX": 1})) == ["SIX"]
    assert rank(Grid([six]), 0.005, 0.005, loads={"SIX": 2}) == []


def test_can_take():
    u = GridUnit("G", "G", box(0, 0, 1, 1), (0.5, 0.5), ("a", "b", "c"))
    assert can_take(u, 0, "available")
    assert not can_take(u, 1, "available")
    assert not can_take(u, 0, "busy")
    assert not can_take(u, 0, "off_duty")


def posts_north(distances_m, capacity=1):
    """Units whose posts lie due north of (118.0, 25.0) at the given distances; no zone holds that point."""
    metres_per_degree = haversine_m(118.0, 0, 118.0, 1)
    return Grid([
        GridUnit(unit_id, unit_id, box(100 + k, 0, 100.5 + k, 0.5), (118.0, 25.0 + d / metres_per_degree),
                 ("a", "b", "c"), capacity=capacity)
        for k, (unit_id, d) in enumerate(distances_m.items())
    ])


def test_ties_within_a_metre_go_to_the_least_loaded_then_unit_id():
    grid = posts_north({"A": 100.0, "B": 100.4, "C": 100.9, "D": 101.5, "E": 300.0}, capacity=2)

    ranked = rank(grid, 118.0, 25.0, loads={"A": 1, "D": 1}, limit=10)

    # B and C are within 1 m of A; D is 1.5 m from A: a tie group of its own.
    assert ids(ranked) == ["B", "C", "A", "D", "E"]
    assert all(c.reason == "nearest" for c in ranked)
    assert [round(c.distance_m, 1) for c in ranked] == [100.4, 100.9, 100.0, 101.5, 300.0]


def test_the_limit_is_kept_and_a_tie_group_is_ranked_whole():
    grid = posts_north({"A": 100.0, "B": 100.5, "C": 100.8, "D": 400.0}, capacity=3)

    assert ids(rank(grid, 118.0, 25.0, limit=2)) == ["A", "B"]
    assert ids(rank(grid, 118.0, 25.0, loads={"A": 2, "B": 1}, limit=2)) == ["C", "B"]


def test_nobody_within_the_radius_means_overflow():
    grid = sample_grid()

    assert rank(grid, 119.2, 25.23, radius_m=5_000) == []  # 20 km east, at sea
    assert ids(rank(grid, 119.2, 25.23, radius_m=30_000)) == ["G4", "G1", "G2", "G3"]


def test_the_zone_unit_is_offered_even_beyond_the_radius():
    grid = sample_grid()

    ranked = rank(grid, 118.999, 25.201, radius_m=100)  # SE corner of G4, 1.7 km from its post

    assert ids(ranked) == ["G4"] and ranked[0].distance_m > 1000


def test_excluded_units_are_skipped():
    grid = sample_grid()

    assert ids(rank(grid, *TOWN_CENTRE, exclude=frozenset({"G1"}))) == ["G3", "G2", "G4"]
    assert ids(rank(grid, *TOWN_CENTRE, exclude=frozenset({"G1", "G3"}), limit=1)) == ["G2"]


def test_within_reach_is_any_zone_or_any_post_within_the_radius_whatever_the_units_status():
    grid = sample_grid()
    assert within_reach(grid, *TOWN_CENTRE, radius_m=1.0)  # in G1's zone
    outside = (TOWN_CENTRE[0] + 0.5, TOWN_CENTRE[1])  # ~50 km east, in no zone
    nearest_m = min(d for _, d in grid.nearest(*outside, 1e9))
    assert within_reach(grid, *outside, radius_m=nearest_m + 1)
    assert not within_reach(grid, *outside, radius_m=nearest_m - 1)
    assert not within_reach(None, *TOWN_CENTRE, radius_m=1e9)  # no grid yet
