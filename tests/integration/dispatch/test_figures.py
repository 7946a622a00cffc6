"""The station's figures on a real nats-server and nx-27017: alerts published with past dates count in
their own period, a redelivery counts nothing, rating's weekly satisfaction reaches the 两降一升 panel
over JetStream, hotspots name places and hours; bad queries are 422; the roll-up store's marks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED, RATINGS_WEEKLY_SATISFACTION
from dispatch.adapters.figures import MongoFigures
from tests.support import alert_body, centre, eventually, publish, row_grid

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)  # Monday 08:15 at the station, 2026-W48


async def _stored(http, alert_id: str) -> bool:
    return (await http.get(f"/v1/alerts/{alert_id}")).status_code == 200


async def test_trends_and_hotspots_through_jetstream(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid((20, 20, 20, 20)))
        sent = [("n1", "theft", "2026-11-23T08:00:00+08:00"), ("n2", "dispute", "2026-11-22T21:30:00+08:00"),
                ("p1", "theft", "2026-11-16T10:00:00+08:00"), ("p2", "theft", "2026-11-17T10:00:00+08:00"),
                ("y1", "theft", "2025-11-24T10:00:00+08:00"), ("y2", "theft", "2025-11-25T10:00:00+08:00"),
                ("y3", "dispute", "2025-11-26T10:00:00+08:00")]
        for alert_id, category, at in sent:
            body = alert_body(alert_id, *centre(0), category=category, received_at=at)
            await publish(nc, ALERTS_RECEIVED, body, alert_id)
        await publish(nc, ALERTS_RECEIVED, alert_body("n1", *centre(0), category="theft"), "n1-again")  # a resend
        for alert_id, _, _ in sent:
            await eventually(lambda a=alert_id: _stored(svc.http, a))
        await publish(nc, RATINGS_WEEKLY_SATISFACTION, {
            "week": "2026-W48", "station_id": "station", "satisfied": 18, "basically": 1, "dissatisfied": 1,
            "rated": 20, "satisfaction_rate": 0.95, "strict_rate": 0.9, "as_of": "2026-11-23T08:10:00+08:00",
        }, "2026-W48/satisfaction/18-1-1-0")
        await publish(nc, RATINGS_WEEKLY_SATISFACTION, {
            "week": "2025-W48", "station_id": "station", "satisfied": 8, "basically": 0, "dissatisfied": 2,
            "rated": 10, "satisfaction_rate": 0.8, "strict_rate": 0.8, "as_of": "2025-11-30T08:10:00+08:00",
        }, "2025-W48/satisfaction/8-0-2-0")

        async def all_counted() -> bool:  # the roll-ups follow each stored alert through the outbox
            units = (await svc.http.get("/v1/trends", params={"period": "year", "by": "unit", "at": "2026-11-23"}))
            spots = (await svc.http.get("/v1/hotspots", params={"weeks": 2})).json()["hotspots"]
            return ([(r["unit_id"], r["count"], r["year_before"]) for r in units.json()["rows"]] == [("G1", 4, 3)]
                    and [p["count"] for p in spots] == [4])

        await eventually(all_counted)

        async def panel() -> dict | None:  # both weeks' satisfaction kept (two messages, handled in any order)
            body = (await svc.http.get("/v1/trends", params={"period": "week", "at": "2026-11-23"})).json()
            kept = body["panel"]["satisfaction"]
            return body if kept["rate"] is not None and kept["year_before_rate"] is not None else None

        week = await eventually(panel)
        assert (week["label"], week["previous"], week["year_before"]) == ("2026-W48", "2026-W47", "2025-W48")
        assert week["from"] == "2026-11-23T00:00:00+08:00"
        theft = next(r for r in week["rows"] if r["category"] == "theft")
        assert (theft["count"], theft["previous"], theft["year_before"], theft["change_pct"], theft["yoy_pct"]) == (
            1, 2, 2, -50.0, -50.0)
        assert week["total"]["count"] == 1  # n2 was received on Sunday night: last week
        assert week["panel"]["criminal"]["down"] and week["panel"]["public_order"]["down"]
        assert week["panel"]["satisfaction"]["rate"] == 0.95 and week["panel"]["achieved"] is True
        units = (await svc.http.get("/v1/trends", params={"period": "year", "by": "unit", "at": "2026-11-23"})).json()
        assert [(r["unit_id"], r["count"], r["year_before"]) for r in units["rows"]] == [("G1", 4, 3)]

        spots = (await svc.http.get("/v1/hotspots", params={"weeks": 2})).json()
        (place,) = spots["hotspots"]
        assert (place["count"], place["place"]) == (4, "枫亭镇某村")  # W47 and W48
        assert place["busy_hours"][:2] == [{"hour_of_week": 8, "label": "周一 08:00–09:00", "count": 1},
                                        {"hour_of_week": 10, "label": "周一 10:00–11:00", "count": 1}]

        for bad in ({"period": "day"}, {"at": "2026-13-01"}, {"by": "officer"}, {"at": "0001-01-01"}):
            refused = await svc.http.get("/v1/trends", params=bad)
            assert refused.status_code == 422, bad
        for bad in ({"weeks": 0}, {"weeks": 54}, {"top": 0}, {"hours": 25}, {"weeks": "x"}):
            assert (await svc.http.get("/v1/hotspots", params=bad)).status_code == 422, bad
        assert (await svc.http.get("/v1/trends", headers={"Authorization": "Bearer nobody"})).status_code == 401


async def test_the_roll_up_store_counts_a_mark_once_and_forgets_old_marks(store_server, db_name) -> None:
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(store_server.url)
    try:
        figures = MongoFigures(client[f"{db_name}_figures"])
        increments = [("week:2026-W48", {"c.theft": 1, "u.G%2E1.theft": 1})]
        await figures.add("a.1", increments, at_ms=1000)
        await figures.add("a.1", increments, at_ms=2000)  # the same alert again
        await figures.add("a2", increments, at_ms=3000)
        doc = (await figures.periods(["week:2026-W48", "week:2026-W47"]))["week:2026-W48"]
        assert (doc["c"], doc["u"], "marks" in doc) == ({"theft": 2}, {"G%2E1": {"theft": 2}}, False)
        await figures.add_hotspot("a.1", "2026-W48|500|1|2", {"week": "2026-W48", "cell_m": 500.0, "column": 1,
                                  "row": 2}, {"n": 1, "h.8": 1, "a.k": 1}, {"names.k": "某村"}, at_ms=1000)
        await figures.add_hotspot("a.1", "2026-W48|500|1|2", {"week": "2026-W48", "cell_m": 500.0, "column": 1,
                                  "row": 2}, {"n": 1, "h.8": 1, "a.k": 1}, {"names.k": "某村"}, at_ms=1000)
        (cell,) = await figures.hotspot_cells(["2026-W48|500|1|2", "2026-W47|500|1|2"])
        assert (cell["n"], cell["h"], cell["names"]) == (1, {"8": 1}, {"k": "某村"})
        # a.1's counts still staged in its alert: its marks stay, whatever their age
        assert await figures.forget_marks(older_than_ms=1500, staged={"a.1"}) == 0
        assert await figures.forget_marks(older_than_ms=1500) == 2  # the week's a.1 and the cell's a.1
        await figures.add("a2", increments, at_ms=4000)  # still remembered
        assert (await figures.periods(["week:2026-W48"]))["week:2026-W48"]["c"] == {"theft": 2}
        assert await figures.keep_satisfaction("2026-W48", {"satisfied": 1}, 2000)
        assert not await figures.keep_satisfaction("2026-W48", {"satisfied": 5}, 1000)
        assert not await figures.keep_satisfaction("2026-W48", {"satisfied": 5}, 2000)
        assert (await figures.satisfaction(["2026-W48"]))["2026-W48"]["satisfied"] == 1
    finally:
        client.close()
