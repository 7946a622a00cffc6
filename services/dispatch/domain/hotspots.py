"""Where and when to patrol (必巡点、防范薄弱时段): the cells where alerts cluster and their busiest hours.

The jurisdiction is cut into square cells of about `cell_m` metres: a row is `floor(lat / dy)`, and a
column `floor(lon / dx)` with dx taken at the row's middle latitude, so a point's cell never depends
on the other points (unlike `stats.alert_clusters`, which scales by the mean latitude of a set) and
a cell can be counted as each alert comes. Each alert adds, in the roll-up of its ISO week (station
zone) and cell: one to the count, one to its hour of the week (0 = Monday 00:00–01:00, 167 = Sunday
23:00–24:00) and one to its address, so a cell is named by the address most alerts gave; and one to
its cell's count in the week's summary (`n.<column>_<row>`), so a question reads the summaries of
its weeks, then only the busiest cells' documents.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from math import cos, floor, radians
from typing import Any

from dispatch.domain.geo import METRES_PER_DEGREE
from dispatch.domain.trends import Period

HOURS_OF_WEEK = 168
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def cell_of(lon: float, lat: float, cell_m: float) -> tuple[int, int]:
    """(column, row) of the cell holding a point."""
    dy = cell_m / METRES_PER_DEGREE
    row = floor(lat / dy)
    return floor(lon / _dx(row, cell_m)), row


def cell_centre(column: int, row: int, cell_m: float) -> tuple[float, float]:
    """(lon, lat) of a cell's middle."""
    dy = cell_m / METRES_PER_DEGREE
    return round((column + 0.5) * _dx(row, cell_m), 6), round((row + 0.5) * dy, 6)


def _dx(row: int, cell_m: float) -> float:
    dy = cell_m / METRES_PER_DEGREE
    middle = min(89.0, abs((row + 0.5) * dy))  # no cell is cut at the poles
    return cell_m / (METRES_PER_DEGREE * cos(radians(middle)))


def hour_of_week(moment: datetime, zone: tzinfo) -> int:
    here = moment.astimezone(zone)
    return here.weekday() * 24 + here.hour


def hour_label(hour: int) -> str:
    """'周一 08:00–09:00'."""
    day, start = divmod(hour, 24)
    return f"{WEEKDAYS[day]} {start:02d}:00–{(start + 1):02d}:00"


def address_key(address: str) -> str:
    return hashlib.blake2b(address.encode(), digest_size=6).hexdigest()


def cell_doc_id(week: str, cell_m: float, column: int, row: int) -> str:
    return f"{week}|{cell_m:g}|{column}|{row}"


def alert_increment(
    *, received_at: datetime, lon: float, lat: float, address: str | None, zone: tzinfo, cell_m: float
) -> tuple[str, dict[str, Any], dict[str, int], dict[str, str]]:
    """(document id, its fixed fields, the counts to add, the names to set) for one alert."""
    week = Period.of("week", received_at.astimezone(zone).date()).label
    column, row = cell_of(lon, lat, cell_m)
    fixed = {"week": week, "cell_m": cell_m, "column": column, "row": row}
    delta = {"n": 1, f"h.{hour_of_week(received_at, zone)}": 1}
    names: dict[str, str] = {}
    if address and address.strip():
        key = address_key(address.strip())
        delta[f"a.{key}"] = 1
        names[f"names.{key}"] = address.strip()
    return cell_doc_id(week, cell_m, column, row), fixed, delta, names


def summary_id(week: str, cell_m: float) -> str:
    return f"cells:{week}|{cell_m:g}"


def summary_increment(*, received_at: datetime, lon: float, lat: float, zone: tzinfo,
                      cell_m: float) -> tuple[str, dict[str, int]]:
    """(the week's summary document id, +1 to the alert's cell)."""
    week = Period.of("week", received_at.astimezone(zone).date()).label
    column, row = cell_of(lon, lat, cell_m)
    return summary_id(week, cell_m), {f"n.{column}_{row}": 1}


def busiest_cells(summaries: Iterable[Mapping[str, Any]], top: int) -> list[tuple[int, int]]:
    """The `top` cells by alerts over the weeks' summaries; ties go to the cell further south-west."""
    counts: Counter[tuple[int, int]] = Counter()
    for doc in summaries:
        for key, n in (doc.get("n") or {}).items():
            column, row = key.split("_")
            counts[(int(column), int(row))] += int(n)
    return [cell for cell, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))[:top]]


def weeks_back(now: datetime, zone: tzinfo, weeks: int) -> list[str]:
    """The ISO week of `now` and the `weeks - 1` before it, newest first."""
    day = now.astimezone(zone).date()
    return [Period.of("week", day - timedelta(weeks=k)).label for k in range(weeks)]


def hotspots(cells: Iterable[Mapping[str, Any]], *, cell_m: float, top: int, hours: int) -> list[dict[str, Any]]:
    """The `top` cells by alerts over the weeks given (their roll-up documents), each with its
    `hours` busiest hours of the week; ties go to the cell further south-west, the earlier hour."""
    merged: dict[tuple[int, int], dict[str, Counter]] = {}
    for doc in cells:
        key = (int(doc["column"]), int(doc["row"]))
        into = merged.setdefault(key, {"n": Counter(), "h": Counter(), "a": Counter(), "names": {}})
        into["n"]["n"] += int(doc.get("n", 0))
        into["h"].update({int(h): int(c) for h, c in (doc.get("h") or {}).items()})
        into["a"].update({k: int(c) for k, c in (doc.get("a") or {}).items()})
        into["names"].update(doc.get("names") or {})
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1]["n"]["n"], kv[0][1], kv[0][0]))[:top]
    found = []
    for (column, row), counts in ranked:
        lon, lat = cell_centre(column, row, cell_m)
        busiest = sorted(counts["h"].items(), key=lambda hc: (-hc[1], hc[0]))[:hours]
        addresses = sorted(counts["a"].items(), key=lambda ac: (-ac[1], counts["names"].get(ac[0], "")))
        found.append({
            "lon": lon, "lat": lat, "cell_m": cell_m, "count": counts["n"]["n"],
            "place": counts["names"].get(addresses[0][0]) if addresses else None,
            "addresses": [{"address": counts["names"].get(k), "count": c} for k, c in addresses[:3]],
            "busy_hours": [{"hour_of_week": h, "label": hour_label(h), "count": c} for h, c in busiest],
        })
    return found


def rebuild(alerts: Iterable[tuple[datetime, float, float, str | None]], *, zone: tzinfo,
            cell_m: float) -> dict[str, dict[str, Any]]:
    """The hotspot roll-up documents from (received_at, lon, lat, address) of every alert."""
    docs: dict[str, dict[str, Any]] = {}
    for received_at, lon, lat, address in alerts:
        doc_id, fixed, delta, names = alert_increment(received_at=received_at, lon=lon, lat=lat, address=address,
                                                      zone=zone, cell_m=cell_m)
        doc = docs.setdefault(doc_id, {"_id": doc_id, **fixed, "n": 0, "h": {}, "a": {}, "names": {}})
        for path, n in delta.items():
            if path == "n":
                doc["n"] += n
            else:
                part, key = path.split(".")
                doc[part][key] = doc[part].get(key, 0) + n
        for path, name in names.items():
            doc["names"][path.split(".")[1]] = name
    return docs


def summaries(cells: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The weeks' summary documents of the cell documents (`rebuild`'s)."""
    docs: dict[str, dict[str, Any]] = {}
    for cell in cells:
        doc_id = summary_id(cell["week"], cell["cell_m"])
        doc = docs.setdefault(doc_id, {"_id": doc_id, "n": {}})
        doc["n"][f"{cell['column']}_{cell['row']}"] = cell["n"]
    return docs
