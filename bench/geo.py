"""Lookups per second of the dispatch grid with 10,000 units: `python bench/geo.py`."""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, this folder leads sys.path and bench/dispatch.py would shadow the dispatch package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from shapely.geometry import box  # noqa: E402

from dispatch.domain.assignment import rank_candidates  # noqa: E402
from dispatch.domain.grid import Grid, GridUnit  # noqa: E402

SIDE = 100  # 100 x 100 square zones of about 300 m, around Fengting
LON0, LAT0, STEP = 118.80, 25.10, 0.003
QUERIES = 20_000
RUNS = 15  # runs of ~0.2 s each: the median outlasts a neighbour's burst on the shared cores


def synthetic_grid(rng: random.Random) -> Grid:
    return Grid(
        GridUnit(
            f"G{i:02d}{j:02d}", f"责任区{i}-{j}",
            box(LON0 + i * STEP, LAT0 + j * STEP, LON0 + (i + 1) * STEP, LAT0 + (j + 1) * STEP),
            (LON0 + (i + rng.uniform(0.1, 0.9)) * STEP, LAT0 + (j + rng.uniform(0.1, 0.9)) * STEP),
            (f"P{i:02d}{j:02d}1", f"P{i:02d}{j:02d}2", f"P{i:02d}{j:02d}3"),
        )
        for i in range(SIDE) for j in range(SIDE)
    )


def per_second(lookup: Callable[[float, float], object], points: list[tuple[float, float]]) -> float:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for lon, lat in points:
            lookup(lon, lat)
        runs.append(len(points) / (time.perf_counter() - start))
    return statistics.median(runs)


def main() -> None:
    rng = random.Random(48)
    start = time.perf_counter()
    grid = synthetic_grid(rng)
    built_s = time.perf_counter() - start
    points = [(LON0 + rng.random() * SIDE * STEP, LAT0 + rng.random() * SIDE * STEP) for _ in range(QUERIES)]
    # A busy evening: a third of the units hold an alert, one in ten is busy or off duty.
    loads = {u.unit_id: 1 for u in grid.units if rng.random() < 1 / 3}
    statuses = {u.unit_id: rng.choice(("busy", "off_duty")) for u in grid.units if rng.random() < 0.1}

    results = [
        ("nearest (first result)", per_second(lambda lon, lat: next(grid.nearest(lon, lat, 5_000), None), points)),
        ("zone_unit_at", per_second(grid.zone_unit_at, points)),
        ("rank_candidates (limit 5)", per_second(
            lambda lon, lat: rank_candidates(grid, lon, lat, loads=loads, statuses=statuses, radius_m=5_000),
            points)),
    ]
    print(f"{len(grid):,} units, index built in {built_s:.2f} s; {QUERIES:,} random points, median of {RUNS} runs")
    print(f"{'lookup':<28}{'per second':>12}{'µs each':>10}")
    for name, rate in results:
        print(f"{name:<28}{rate:>12,.0f}{1e6 / rate:>10.1f}")


if __name__ == "__main__":
    main()
