"""Use cases of the station's figures: counting each alert into the roll-ups, keeping rating's weekly
satisfaction, and answering `/v1/trends` and `/v1/hotspots` from what is kept (no alert is read)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import structlog

from common.contracts.ratings import WeeklySatisfaction
from common.timefmt import epoch_ms
from dispatch.domain import hotspots as spots
from dispatch.domain import trends as tr
from dispatch.domain.alerts import Alert
from dispatch.domain.grid import DUTY_DESK

if TYPE_CHECKING:  # the alerts' use cases call count_alert
    from dispatch.handlers.context import Dispatch

log = structlog.get_logger(__name__)

SATISFACTION_FIELDS = ("satisfied", "basically", "dissatisfied", "rated", "excluded", "satisfaction_rate",
                       "strict_rate", "station_id")


def _wall_ms() -> int:
    """Wall time: when a roll-up marked an alert (bookkeeping for forgetting marks, not a rule)."""
    return int(datetime.now(UTC).timestamp() * 1000)


def first_unit(alert: Alert) -> str:
    """The unit an alert is counted for in the figures: the one it was first given to (or the duty desk)."""
    first = alert.assignments[0].unit_id if alert.assignments else None
    return first or DUTY_DESK


async def count_alert(d: Dispatch, alert: Alert) -> None:
    """Add a stored alert to the trend and hotspot roll-ups, once whatever the deliveries."""
    zone, at_ms = d.settings.zone, _wall_ms()
    increments = tr.alert_increments(received_at=alert.received_at, category=alert.category,
                                     unit_id=first_unit(alert), zone=zone)
    doc_id, fixed, delta, names = spots.alert_increment(
        received_at=alert.received_at, lon=alert.lon, lat=alert.lat, address=alert.address, zone=zone,
        cell_m=d.settings.hotspot_cell_m,
    )
    increments.append(spots.summary_increment(received_at=alert.received_at, lon=alert.lon, lat=alert.lat, zone=zone,
                                              cell_m=d.settings.hotspot_cell_m))
    await asyncio.gather(d.figures.add(alert.alert_id, increments, at_ms),
                         d.figures.add_hotspot(alert.alert_id, doc_id, fixed, delta, names, at_ms))


async def keep_satisfaction(d: Dispatch, event: WeeklySatisfaction) -> bool:
    """rating's figure of a week, kept unless a later one is."""
    figures = {k: getattr(event, k) for k in SATISFACTION_FIELDS}
    kept = await d.figures.keep_satisfaction(event.week, figures, epoch_ms(event.as_of) or 0)
    log.info("satisfaction.kept" if kept else "satisfaction.older", week=event.week, rate=event.satisfaction_rate)
    return kept


async def forget_marks(d: Dispatch) -> int:
    return await d.figures.forget_marks(_wall_ms() - int(d.settings.figure_marks_kept_s * 1000))


def _classes(d: Dispatch) -> tr.Classes:
    s = d.settings
    return tr.Classes(s.preventable_categories, s.criminal_categories, s.public_order_categories)


async def trends(d: Dispatch, *, period: tr.PeriodKind, at: date | None, by: tr.By) -> dict[str, Any]:
    """The figures of the period holding `at` (a local date; today if None), 环比 and 同比."""
    zone = d.settings.zone
    day = at or d.clock.now().astimezone(zone).date()
    now = tr.Period.of(period, day)
    compared = {"now": now, "previous": now.previous(), "year_before": now.year_before()}
    docs = await d.figures.periods([p.doc_id for p in compared.values()])
    counts = {k: tr.Counts.from_doc(docs.get(p.doc_id)) for k, p in compared.items()}
    weeks = {k: p.weeks() for k, p in compared.items()}
    kept = await d.figures.satisfaction(sorted({w for ws in weeks.values() for w in ws}))
    satisfaction = {k: tr.Satisfaction.over(kept[w] for w in ws if w in kept) for k, ws in weeks.items()}
    answer = tr.trends(period=now, by=by, now=counts["now"], previous=counts["previous"],
                       year_before=counts["year_before"], satisfaction=satisfaction, classes=_classes(d))
    start, end = now.bounds(zone)
    return {**answer, "from": start, "until": end}


async def hotspots(d: Dispatch, *, weeks: int, top: int, hours: int) -> dict[str, Any]:
    """The `top` cells of the last `weeks` ISO weeks (this one included), each with its busiest hours."""
    labels = spots.weeks_back(d.clock.now(), d.settings.zone, weeks)
    cell_m = d.settings.hotspot_cell_m
    summaries = await d.figures.periods([spots.summary_id(week, cell_m) for week in labels])
    busiest = spots.busiest_cells(summaries.values(), top)
    cells = await d.figures.hotspot_cells(
        [spots.cell_doc_id(week, cell_m, column, row) for week in labels for column, row in busiest])
    return {"weeks": list(reversed(labels)), "cell_m": cell_m,
            "hotspots": spots.hotspots(cells, cell_m=cell_m, top=top, hours=hours)}
