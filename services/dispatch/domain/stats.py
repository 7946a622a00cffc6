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


def _joined(alerts: list[Alert]) -> dict[str, int]:
    """How many of the alerts the duty desk ordered (and beyond capacity), and who joined on the scene."""
    return {
        "ordered": sum(any(a.ordered_by for a in alert.assignments) for alert in alerts),
        "forced": sum(any(a.forced for a in alert.assignments) for alert in alerts),
        "assisted": sum(bool(alert.assistants) for alert in alerts),
        "community_officer_joined": sum(_joined_by(alert, "community_officer") for alert in alerts),
        "village_cadre_joined": sum(_joined_by(alert, "village_cadre") for alert in alerts),
    }


def _joined_by(alert: Alert, role: str) -> bool:
    return any(person.role == role for person in alert.assistants)


def scene_stats(alerts: Iterable[Alert]) -> dict[str, Any]:
    """Orders of the duty desk and who joined the scene: for the station, with how often the community
    officer joined (社区民警提前介入处警现场, 001) as a count and a share of the alerts, and per unit (the
    unit an alert counts for, as in `weekly_unit_stats`)."""
    group = list(alerts)
    joined = _joined(group)
    share = round(joined["community_officer_joined"] / len(group), 4) if group else None
    per_unit: defaultdict[str, list[Alert]] = defaultdict(list)
    for alert in group:
        holder = last_holder(alert)
        if holder is not None:
            per_unit[holder].append(alert)
    units = [{"unit_id": unit_id, "alerts": len(held), **_joined(held)} for unit_id, held in sorted(per_unit.items())]
    return {"alerts": len(group), **joined, "community_officer_share": share, "units": units}


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
