"""Where and when to patrol: cells of a fixed size, hours of the week, the busiest places and hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import cos, radians
from zoneinfo import ZoneInfo

import pytest

from dispatch.domain.geo import METRES_PER_DEGREE
from dispatch.domain.hotspots import (
    address_key,
    alert_increment,
    cell_centre,
    cell_of,
    hotspots,
    hour_label,
    hour_of_week,
    weeks_back,
)

ZONE = ZoneInfo("Asia/Shanghai")


def test_a_point_falls_in_the_cell_whose_centre_is_within_half_a_cell() -> None:
    lon, lat = 118.9651, 25.2284
    column, row = cell_of(lon, lat, 500)
    c_lon, c_lat = cell_centre(column, row, 500)
    assert abs(c_lat - lat) * METRES_PER_DEGREE <= 250
    assert abs(c_lon - lon) * METRES_PER_DEGREE * cos(radians(lat)) <= 251
    assert cell_of(c_lon, c_lat, 500) == (column, row)


def test_a_cell_does_not_depend_on_other_points_and_its_edges_belong_to_the_next() -> None:
    dy = 500 / METRES_PER_DEGREE
    assert cell_of(118.9, 10 * dy, 500)[1] == 10  # the southern edge is in the cell
    assert cell_of(118.9, 10 * dy - 1e-9, 500)[1] == 9
    assert cell_of(-0.0001, 0.0001, 500)[0] == -1  # west of Greenwich: negative columns
    assert cell_of(118.9651, 25.2284, 1000) != cell_of(118.9651, 25.2284, 500)


def test_cells_near_a_pole_stay_finite() -> None:
    assert cell_of(10.0, 89.999, 500)[0] > 0


@pytest.mark.parametrize(("utc", "hour", "label"), [
    (datetime(2026, 11, 22, 16, 0, tzinfo=UTC), 0, "周一 00:00–01:00"),  # Monday 00:00 local
    (datetime(2026, 11, 22, 16, 59, 59, tzinfo=UTC), 0, "周一 00:00–01:00"),
    (datetime(2026, 11, 23, 0, 15, tzinfo=UTC), 8, "周一 08:00–09:00"),
    (datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC), 167, "周日 23:00–24:00"),  # Sunday's last second
])
def test_the_hour_of_the_week_is_local(utc, hour, label) -> None:
    assert hour_of_week(utc, ZONE) == hour
    assert hour_label(hour) == label


def test_what_one_alert_adds() -> None:
    at = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
    doc_id, fixed, delta, names = alert_increment(received_at=at, lon=118.9651, lat=25.2284, address=" 枫亭镇某村 ",
                                                  zone=ZONE, cell_m=500)
    column, row = cell_of(118.9651, 25.2284, 500)
    assert doc_id == f"2026-W48|500|{column}|{row}"
    assert fixed == {"week": "2026-W48", "cell_m": 500, "column": column, "row": row}
    key = address_key("枫亭镇某村")
    assert delta == {"n": 1, "h.8": 1, f"a.{key}": 1}
    assert names == {f"names.{key}": "枫亭镇某村"}
    _, _, delta, names = alert_increment(received_at=at, lon=1, lat=1, address="  ", zone=ZONE, cell_m=500)
    assert (delta, names) == ({"n": 1, "h.8": 1}, {})


def test_weeks_back_from_now() -> None:
    assert weeks_back(datetime(2026, 11, 23, 0, 15, tzinfo=UTC), ZONE, 3) == ["2026-W48", "2026-W47", "2026-W46"]
    assert weeks_back(datetime(2026, 1, 5, 0, 0, tzinfo=UTC), ZONE, 2) == ["2026-W02", "2026-W01"]


def _doc(column: int, row: int, n: int, hours: dict[str, int], addresses: dict[str, int] | None = None) -> dict:
    addresses = addresses or {}
    return {"column": column, "row": row, "n": n, "h": hours,
            "a": {address_key(a): c for a, c in addresses.items()}, "names": {address_key(a): a for a in addresses}}


def test_the_busiest_places_with_their_busiest_hours_over_several_weeks() -> None:
    cells = [
        _doc(10, 20, 3, {"8": 2, "20": 1}, {"洗耳池小区": 2, "枫亭镇某村": 1}),
        _doc(10, 20, 2, {"20": 2}, {"枫亭镇某村": 2}),  # the same cell, another week
        _doc(11, 20, 5, {"30": 5}),
        _doc(9, 21, 5, {"1": 1, "2": 4}),
        _doc(0, 0, 1, {"100": 1}),
    ]
    found = hotspots(cells, cell_m=500, top=3, hours=2)
    assert [(f["count"], f["place"]) for f in found] == [(5, "枫亭镇某村"), (5, None), (5, None)]
    assert [cell_of(f["lon"], f["lat"], 500) for f in found] == [(10, 20), (11, 20), (9, 21)]  # ties: south, west
    assert found[0]["busy_hours"] == [
        {"hour_of_week": 20, "label": "周一 20:00–21:00", "count": 3},
        {"hour_of_week": 8, "label": "周一 08:00–09:00", "count": 2},
    ]
    assert found[0]["addresses"] == [{"address": "枫亭镇某村", "count": 3}, {"address": "洗耳池小区", "count": 2}]
    assert found[2]["busy_hours"] == [{"hour_of_week": 2, "label": "周一 02:00–03:00", "count": 4},
                                      {"hour_of_week": 1, "label": "周一 01:00–02:00", "count": 1}]
    assert hotspots([], cell_m=500, top=3, hours=2) == []


def test_equal_hours_go_earliest_first_and_top_one_is_one() -> None:
    (only,) = hotspots([_doc(1, 1, 4, {"9": 2, "3": 2})], cell_m=500, top=1, hours=1)
    assert only["busy_hours"] == [{"hour_of_week": 3, "label": "周一 03:00–04:00", "count": 2}]


def test_rebuild_is_what_the_increments_add_up_to() -> None:
    from dispatch.domain.hotspots import rebuild

    at = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
    docs = rebuild([(at, 118.9651, 25.2284, "某村"), (at + timedelta(hours=1), 118.9651, 25.2284, None)],
                   zone=ZONE, cell_m=500)
    (doc,) = docs.values()
    column, row = cell_of(118.9651, 25.2284, 500)
    assert doc == {"_id": f"2026-W48|500|{column}|{row}", "week": "2026-W48", "cell_m": 500, "column": column,
                   "row": row, "n": 2, "h": {"8": 1, "9": 1}, "a": {address_key("某村"): 1},
                   "names": {address_key("某村"): "某村"}}
    assert hotspots(docs.values(), cell_m=500, top=1, hours=1)[0]["place"] == "某村"


def test_the_week_summary_names_the_busiest_cells() -> None:
    from dispatch.domain.hotspots import busiest_cells, rebuild, summaries, summary_increment

    at = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
    assert summary_increment(received_at=at, lon=118.9651, lat=25.2284, zone=ZONE, cell_m=500) == (
        "cells:2026-W48|500", {"n.{}_{}".format(*cell_of(118.9651, 25.2284, 500)): 1})
    weeks = [{"n": {"1_2": 3, "-4_5": 1}}, {"n": {"-4_5": 2, "7_1": 3}}, {}]
    assert busiest_cells(weeks, 2) == [(7, 1), (1, 2)]  # 3 each: the southern first
    assert busiest_cells(weeks, 1) == [(7, 1)] and busiest_cells([], 3) == []
    cells = rebuild([(at, 118.9651, 25.2284, None), (at, 118.9651, 25.2284, None), (at, 118.0, 25.0, None)],
                    zone=ZONE, cell_m=500)
    (summary,) = summaries(cells.values()).values()
    assert summary["_id"] == "cells:2026-W48|500" and sorted(summary["n"].values()) == [1, 2]


def test_a_cell_counts_over_all_its_weeks_and_the_most_alerts_come_first() -> None:
    from dispatch.domain.hotspots import busiest_cells

    weeks = [{"n": {"1_1": 2, "2_2": 3, "0_0": 1}}, {"n": {"1_1": 2}}]
    assert busiest_cells(weeks, 3) == [(1, 1), (2, 2), (0, 0)]


def test_ties_go_west_in_a_row_addresses_by_name_and_three_are_listed() -> None:
    cells = [_doc(5, 3, 2, {"1": 1}), _doc(4, 3, 2, {"1": 1}),
             _doc(9, 9, 4, {"1": 4}, {"乙村": 1, "甲村": 1, "丙村": 1, "丁村": 1}),
             {"column": 0, "row": 0, "h": {}}]  # a document without a count counts nothing
    found = hotspots(cells, cell_m=500, top=4, hours=1)
    assert [cell_of(f["lon"], f["lat"], 500) for f in found] == [(9, 9), (4, 3), (5, 3), (0, 0)]
    assert found[3]["count"] == 0 and found[0]["cell_m"] == 500
    assert [a["address"] for a in found[0]["addresses"]] == sorted(["乙村", "甲村", "丙村", "丁村"])[:3]
    assert found[0]["place"] == sorted(["乙村", "甲村", "丙村", "丁村"])[0]
