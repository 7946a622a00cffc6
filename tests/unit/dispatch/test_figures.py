"""The figures' use cases on in-memory adapters: each alert counted once into the roll-ups, past-dated
alerts in their own period, rating's weekly satisfaction kept (latest wins), trends and hotspots answered."""

from __future__ import annotations

from datetime import UTC, date, datetime

from common.clock import FakeClock
from common.contracts.alerts import AlertReceived
from common.contracts.ratings import WeeklySatisfaction
from common.fakes import FakePublisher
from dispatch import handlers
from dispatch.bootstrap import wire_in_memory
from dispatch.handlers import figures
from dispatch.settings import DispatchSettings
from tests.support import alert_body, centre, row_grid

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)  # Monday 08:15 at the station, 2026-W48


async def _dispatch():
    d = wire_in_memory(DispatchSettings(environment="test"), FakeClock(NOW), FakePublisher())
    assert (await handlers.replace_grid(d, row_grid((5, 5, 5, 5))))[0].ok
    return d


async def _receive(d, alert_id: str, unit: int = 0, *, counted: bool = True, **extra) -> None:
    """The alert received; then (`counted`) the figures' job runs, as it does every second."""
    await handlers.receive_alert(d, AlertReceived.model_validate(alert_body(alert_id, *centre(unit), **extra)))
    if counted:
        await figures.count_staged(d)


def _satisfaction(week: str, satisfied: int, dissatisfied: int, as_of: str) -> WeeklySatisfaction:
    rated = satisfied + dissatisfied
    return WeeklySatisfaction(week=week, station_id="station", satisfied=satisfied, basically=0,
                              dissatisfied=dissatisfied, rated=rated, satisfaction_rate=satisfied / rated,
                              strict_rate=satisfied / rated, as_of=as_of)


async def test_an_alert_delivered_twice_counts_once_and_past_dated_alerts_count_in_their_own_period():
    d = await _dispatch()
    await _receive(d, "now-1", category="theft")
    await _receive(d, "now-1", category="theft")  # redelivered
    await _receive(d, "now-2", unit=1, category="dispute")
    await _receive(d, "before", category="theft", received_at="2026-10-20T09:00:00+08:00")  # 环比 month
    for i in range(3):
        await _receive(d, f"last-year-{i}", category="theft", received_at="2025-11-10T22:00:00+08:00")
    month = await figures.trends(d, period="month", at=date(2026, 11, 23), by="category")
    assert (month["label"], month["previous"], month["year_before"]) == ("2026-11", "2026-10", "2025-11")
    theft = next(r for r in month["rows"] if r["category"] == "theft")
    assert theft == {"category": "theft", "count": 1, "previous": 1, "year_before": 3, "change_pct": 0.0,
                     "yoy_pct": -66.7}
    assert month["preventable"]["share"] == 0.5
    by_unit = await figures.trends(d, period="week", at=None, by="unit")  # today: 2026-W48
    assert by_unit["label"] == "2026-W48"
    assert [(r["unit_id"], r["count"]) for r in by_unit["rows"]] == [("G1", 1), ("G2", 1)]
    assert month["from"] == datetime(2026, 11, 1, tzinfo=d.settings.zone)


async def test_an_alert_the_duty_desk_took_counts_for_the_duty_desk():
    d = await _dispatch()
    await _receive(d, "far", location={"lon": 100.0, "lat": 10.0})  # out of every unit's reach
    week = await figures.trends(d, period="week", at=None, by="unit")
    assert [(r["unit_id"], r["count"]) for r in week["rows"]] == [("duty_desk", 1)]


async def test_the_panel_shows_the_satisfaction_rating_told_and_the_latest_figure_of_a_week_stands():
    d = await _dispatch()
    assert await figures.keep_satisfaction(d, _satisfaction("2026-W48", 8, 2, "2026-11-23T10:00:00+08:00"))
    assert await figures.keep_satisfaction(d, _satisfaction("2026-W48", 9, 1, "2026-11-23T11:00:00+08:00"))
    assert not await figures.keep_satisfaction(d, _satisfaction("2026-W48", 1, 9, "2026-11-23T10:30:00+08:00"))
    assert await figures.keep_satisfaction(d, _satisfaction("2025-W48", 7, 3, "2025-11-30T10:00:00+08:00"))
    panel = (await figures.trends(d, period="week", at=date(2026, 11, 25), by="category"))["panel"]
    assert panel["satisfaction"]["rate"] == 0.9 and panel["satisfaction"]["year_before_rate"] == 0.7
    assert panel["satisfaction"]["up"] is True


async def test_hotspots_name_places_with_their_busy_hours():
    d = await _dispatch()
    for i in range(3):
        await _receive(d, f"evening-{i}", received_at=f"2026-11-2{i}T21:10:00+08:00",
                       location={"lon": centre(2)[0], "lat": centre(2)[1], "address": "洗耳池小区3栋"})
    await _receive(d, "morning", received_at="2026-11-23T08:10:00+08:00")
    await _receive(d, "long-ago", received_at="2026-08-01T08:10:00+08:00")  # older than 8 weeks
    answer = await figures.hotspots(d, weeks=8, top=5, hours=2)
    assert answer["weeks"][0] == "2026-W41" and answer["weeks"][-1] == "2026-W48"
    first, second = answer["hotspots"]
    assert (first["count"], first["place"]) == (3, "洗耳池小区3栋")
    assert [h["label"] for h in first["busy_hours"]] == ["周五 21:00–22:00", "周六 21:00–22:00"]
    assert (second["count"], second["place"], second["busy_hours"][0]["label"]) == (1, "枫亭镇某村", "周一 08:00–09:00")


async def test_marks_are_forgotten_after_they_are_kept():
    d = await _dispatch()
    await _receive(d, "a1")
    assert await figures.forget_marks(d) == 0  # kept for FIGURE_MARKS_KEPT_S
    d.settings = d.settings.model_copy(update={"figure_marks_kept_s": -1.0})
    assert await figures.forget_marks(d) == 5  # three trend periods, the week's cells and one hotspot cell


async def test_counts_a_crash_left_staged_are_applied_once_by_the_redelivery_and_their_marks_kept_meanwhile():
    d = await _dispatch()
    # the process dies once alerts.assigned is told, before the figures' job has run
    await _receive(d, "a1", category="theft", counted=False)
    assert [e["subject"] for e in d.alerts.staged_now("a1").values()] == ["local:dispatch.figures"]
    week = await figures.trends(d, period="week", at=None, by="category")
    assert week["rows"] == [] or all(r["count"] == 0 for r in week["rows"])  # told, not counted yet
    await _receive(d, "a1", category="theft", counted=False)  # the redelivery loads the alert: its counts go first
    await _receive(d, "a1", category="theft")  # and again, and the job: nothing is staged, nothing is added
    assert d.alerts.staged_now("a1") == {}
    week = await figures.trends(d, period="week", at=None, by="category")
    assert [(r["category"], r["count"]) for r in week["rows"]] == [("theft", 1)]


async def test_the_job_counts_a_runs_alerts_at_once_each_once_whatever_ran_before() -> None:
    d = await _dispatch()
    for i in range(7):
        await _receive(d, f"a{i}", unit=i % 2, category="theft", counted=False)
    await handlers.load(d, "a3")  # an alert read before the job: its counts go then
    assert await d.alerts.outboxes(10) != []
    assert await figures.count_staged(d) == 7
    assert await figures.count_staged(d) == 0
    rows = (await figures.trends(d, period="week", at=None, by="unit"))["rows"]
    assert [(r["unit_id"], r["count"]) for r in rows] == [("G1", 4), ("G2", 3)]
    assert await d.alerts.outboxes(10) == []


async def test_a_mark_is_kept_while_its_counts_are_staged_and_forgotten_once_they_are_not():
    d = await _dispatch()
    await _receive(d, "a1")
    await _receive(d, "a2", counted=False)  # the counts of a2 stay staged
    apply = figures.apply_counts(lambda: d.figures)
    [entry] = d.alerts.staged_now("a2").values()
    await apply(entry["msg_id"], entry["data"])  # its documents took it: the unstaging did not happen
    d.settings = d.settings.model_copy(update={"figure_marks_kept_s": -1.0})
    assert await figures.forget_marks(d) == 5
    week = d.figures.docs["trend_rollups"]
    assert {m for doc in week.values() for m in doc["marks"]} == {"a2"}
    await handlers.load(d, "a2")  # the load applies the staged counts: marked, nothing added; then unstaged
    assert await figures.forget_marks(d) == 5
    assert {m for doc in week.values() for m in doc["marks"]} == set()
    rows = (await figures.trends(d, period="week", at=None, by="category"))["rows"]
    assert sum(r["count"] for r in rows) == 2
