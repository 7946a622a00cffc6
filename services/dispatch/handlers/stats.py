"""The station's statistics of dispatch: per unit and week, and where alerts cluster."""

from __future__ import annotations

from typing import Any

from common.timefmt import iso_week, week_bounds
from dispatch.domain.stats import alert_clusters, scene_stats, weekly_unit_stats
from dispatch.handlers.context import Dispatch


async def weekly_stats(d: Dispatch, week: str | None) -> dict[str, Any]:
    """Per unit, of the ISO week (this one if None): counts and times, orders and who joined the scene; the
    station's scene figures; and where the alerts cluster."""
    zone = d.settings.zone
    label = week or iso_week(d.clock.now(), zone)
    start, end = week_bounds(label, zone)
    received = await d.alerts.received_between(start, end)
    return {"week": label, "units": weekly_unit_stats(received, zone), "scene": scene_stats(received),
            "clusters": alert_clusters([(a.lon, a.lat) for a in received])}
