"""The dispatcher's word with two replicas on one store: orders racing for a unit's last place, and for
its one place beyond, are decided by the unique place: one wins, the other is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from tests.support import alert_body, centre, eventually, publish, row_grid

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
ORDER = {"reason": "值班长指令", "by": "D001"}


async def _placed(http, alert_id: str) -> dict:
    async def placed():
        r = await http.get(f"/v1/alerts/{alert_id}")
        return r.json() if r.status_code == 200 and r.json()["state"] == "assigned" else None

    return await eventually(placed)


async def test_two_replicas_ordering_alerts_into_one_place_are_decided_by_the_store(run_service, nc, db_name) -> None:
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, db=db_name) as a, run_service("dispatch", clock, db=db_name) as b:
        assert (await a.http.put("/v1/grid", json=row_grid((1, 1, 1, 1)))).status_code == 200
        await b.parts.context.view.refresh(places=True)
        for alert_id, unit in (("r-g1", 0), ("r-g2", 1), ("r-g3", 2)):
            await publish(nc, ALERTS_RECEIVED, alert_body(alert_id, *centre(unit)), alert_id)
            await _placed(a.http, alert_id)
        # G4's one free place: two orders at once, one from each replica
        first, second = await asyncio.gather(
            a.http.post("/v1/alerts/r-g2/assign", json={"unit_id": "G4", **ORDER}),
            b.http.post("/v1/alerts/r-g3/assign", json={"unit_id": "G4", **ORDER}),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        # G1's one place beyond its capacity: two forced orders at once (of the alerts G2/G3/G4 hold now)
        await publish(nc, ALERTS_RECEIVED, alert_body("r-g4", *centre(3)), "r-g4")
        await eventually(lambda: _in_state(a.http, "r-g4"))
        forced = {"unit_id": "G1", **ORDER, "force": True}
        first, second = await asyncio.gather(a.http.post("/v1/alerts/r-g2/assign", json=forced),
                                             b.http.post("/v1/alerts/r-g3/assign", json=forced))
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        held = await a.parts.context.alerts.places(["G1", "G2", "G3", "G4"])
        assert held["G1"] == {0, 1} and len(held["G4"]) <= 1


async def _in_state(http, alert_id: str) -> bool:
    r = await http.get(f"/v1/alerts/{alert_id}")
    return r.status_code == 200 and r.json()["state"] in ("assigned", "unassigned")
