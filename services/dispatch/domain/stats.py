"""Dispatch statistics: alerts per unit and week, and where alerts cluster."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from math import cos, floor, radians
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from common.timefmt import iso_week
from dispatch.domain.alerts import Alert
from dispatch.domain.geo import METRES_PER_DEGREE
from dispatch.domain.grid import DUTY_DESK


def last_holder(alert: Alert) -> str | None:
    """The unit an alert counts for: the one that closed it, else the one (or the duty desk) it was
    last given to, so a reassigned alert counts once, for the unit that handled it; None if never given."""
    if alert.closure is not None:
        return alert.closure.unit_id
    if alert.assignments:
        return alert.assignments[-1].unit_id or DUTY_DESK
    return None


def weekly_unit_stats(alerts: Iterable[Alert], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Per (unit, ISO week of received_at): count and median seconds
    received→first given to a unit, given→acknowledged (the acknowledged attempt), received→closed."""
    groups: defaultdict[tuple[str, str | None], list[Alert]] = defaultdict(list)
    for alert in alerts:
        groups[(iso_week(alert.received_at, tz), last_holder(alert))].append(alert)
    rows = []
    for (week, unit_id), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or "")):
        to_assign, to_ack, to_close = [], [], []
        for alert in group:
            first = next((a for a in alert.assignments if a.unit_id is not None), None)
            if first is not None:
                to_assign.append((first.at - alert.received_at).total_seconds())
            acked = next((a for a in alert.assignments if a.end == "acknowledged"), None)
            if acked is not None and acked.ended_at is not None:
                to_ack.append((acked.ended_at - acked.at).total_seconds())
            if alert.closed_at is not None:
                to_close.append((alert.closed_at - alert.received_at).total_seconds())
        rows.append({
            "unit_id": unit_id,
            "week": week,
            "count": len(group),
            "median_to_assign_s": median(to_assign) if to_assign else None,
            "median_to_ack_s": median(to_ack) if to_ack else None,
            "median_to_close_s": median(to_close) if to_close else None,
        })
    return rows


def alert_clusters(points: Iterable[tuple[float, float]], cell_m: float = 500, top: int = 10) -> list[dict[str, Any]]:
    """The densest square cells of about cell_m metres: where a police room would serve most alerts
    (哪里警情集中就把警务室建在哪里). Points are (lon, lat)."""
    located = list(points)
    if not located:
        return []
    # One local equirectangular scale for the whole set: station-sized areas only.
    mean_lat = sum(lat for _, lat in located) / len(located)
    x_deg, y_deg = cell_m / (METRES_PER_DEGREE * cos(radians(mean_lat))), cell_m / METRES_PER_DEGREE
    counts = Counter((floor(lon / x_deg), floor(lat / y_deg)) for lon, lat in located)
    densest = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))[:top]
    return [{"lon": round((i + 0.5) * x_deg, 6), "lat": round((j + 0.5) * y_deg, 6), "count": n}
            for (i, j), n in densest]
