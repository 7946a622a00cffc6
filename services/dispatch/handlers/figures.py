"""Use cases of the station's figures: counting each alert into the roll-ups, keeping rating's weekly
satisfaction, and answering `/v1/trends` and `/v1/hotspots` from what is kept (no alert is read)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import structlog

from common.contracts.ratings import WeeklySatisfaction
from common.outbox import LOCAL, Effect, EffectHandler
from common.repository import all_staged
from common.timefmt import epoch_ms
from dispatch.adapters.figures import Figures
from dispatch.domain import hotspots as spots
from dispatch.domain import trends as tr
from dispatch.domain.alerts import Alert
from dispatch.domain.grid import DUTY_DESK

if TYPE_CHECKING:  # the alerts' use cases stage their counts
    from dispatch.handlers.context import Dispatch

#: the local effect an alert's insert stages: its counts in the roll-ups
COUNTS = "dispatch.figures"

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


#: how often the alerts' counts are applied: the figures are this late at most. Often enough that a
#: run's writes are short (each holds the store's lock the alerts' inserts wait for): at 100 alerts/s a
#: run every second made dispatch's p99 82–120 ms, every 0.05–0.25 s 33–68 ms (docs/performance.md)
COUNT_EVERY_S = 0.25


def counted(d: Dispatch, alert: Alert) -> list[tuple[Effect, str]]:
    """What the alert adds to the trend and hotspot roll-ups, as a local effect staged with its insert: it is
    applied off the alert's path by `count_staged` (or by a load of the alert before that, or the relay
    after a crash), each roll-up at most once whatever the deliveries (`apply_counts`)."""
    zone = d.settings.zone
    trends = tr.alert_increments(received_at=alert.received_at, category=alert.category,
                                 unit_id=first_unit(alert), zone=zone)
    trends.append(spots.summary_increment(received_at=alert.received_at, lon=alert.lon, lat=alert.lat, zone=zone,
                                          cell_m=d.settings.hotspot_cell_m))
    hotspot = spots.alert_increment(received_at=alert.received_at, lon=alert.lon, lat=alert.lat,
                                    address=alert.address, zone=zone, cell_m=d.settings.hotspot_cell_m)
    data = {"mark": alert.alert_id, "trends": trends, "hotspot": hotspot}
    return [(Effect(COUNTS, json.dumps(data, ensure_ascii=False)), f"{alert.alert_id}/figures")]


def apply_counts(figures: Callable[[], Figures]) -> EffectHandler:
    """The handler of the staged counts: each roll-up document takes the alert once (it marks it)."""

    async def apply(msg_id: str, data: str) -> None:
        counts, at_ms = json.loads(data), _wall_ms()
        doc_id, fixed, delta, names = counts["hotspot"]
        trends = [(doc, dict(increment)) for doc, increment in counts["trends"]]
        await asyncio.gather(figures().add(counts["mark"], trends, at_ms),
                             figures().add_hotspot(counts["mark"], doc_id, fixed, delta, names, at_ms))

    return apply


async def count_staged(d: Dispatch) -> int:
    """The counts of the alerts received since the last run, applied together (`UnitOfWork.defer`): a
    run's alerts cost each roll-up document one update, not one per alert (docs/performance.md)."""
    return await d.uow.publish_deferred()


def counts_marks(outbox: Mapping[str, Mapping[str, str]] | None) -> set[str]:
    """The marks (alert ids) of the counts staged in an alert's outbox."""
    return {json.loads(e["data"])["mark"] for e in (outbox or {}).values() if e["subject"] == LOCAL + COUNTS}


async def keep_satisfaction(d: Dispatch, event: WeeklySatisfaction) -> bool:
    """rating's figure of a week, kept unless a later one is."""
    figures = {k: getattr(event, k) for k in SATISFACTION_FIELDS}
    kept = await d.figures.keep_satisfaction(event.week, figures, epoch_ms(event.as_of) or 0)
    log.info("satisfaction.kept" if kept else "satisfaction.older", week=event.week, rate=event.satisfaction_rate)
    return kept


async def forget_marks(d: Dispatch) -> int:
    """Forget the marks old enough whose counts are no longer staged in their alert (what is staged is read
    first: counts staged after the read are marked after it, so they are too young to be forgotten)."""
    outboxes = await all_staged([d.alerts])
    if outboxes is None:
        return 0  # an outage left many alerts staged: every mark stays until the relay has published them
    staged = {mark for outbox in outboxes for mark in counts_marks(outbox)}
    return await d.figures.forget_marks(_wall_ms() - int(d.settings.figure_marks_kept_s * 1000), staged)


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
