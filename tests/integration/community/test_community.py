"""community on nats-server and nx-27017: the grid from dispatch's event, a visit's dispute opened by mediation,
the sheet counted once per fact whatever the deliveries, and bad events dead-lettered with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts import subjects
from common.contracts.subjects import deadletter_subject
from community import handlers
from tests.support import PUBLISH_TIMEOUT_S, eventually
from tests.unit.community.conftest import G1, sample_grid

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def publish(nc, subject: str, body: dict | bytes, msg_id: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    await nc.jetstream().publish(subject, data, timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})


async def test_a_visits_dispute_finding_opens_one_dispute_in_mediation_and_the_visit_counts_once(
        run_service, nc, published) -> None:
    await publish(nc, subjects.GRID_REPLACED, {"grid_version": 1, "units": 4, "at": START.isoformat(),
                                               "grid": sample_grid()}, "grid/1")
    async with run_service("community", FakeClock(START)) as com, run_service("mediation", FakeClock(START)) as med:
        body = {"officer_id": "P1001", "visited_at": "2026-11-23T08:00:00+08:00", "household": "王某家",
                "address": "洗耳池小区3栋201", "lon": G1[0], "lat": G1[1], "request_id": "int-1",
                "findings": [{"kind": "dispute", "summary": "楼上楼下争吵", "parties": [{"party_id": "p1",
                                                                                  "name": "王某"}]}]}

        async def recorded():
            answer = await com.http.post("/v1/visits", json=body)
            return answer.json() if answer.status_code in (200, 201) else None

        visit = await eventually(recorded)
        dispute_id = f"D-{visit['visit_id']}.0"

        async def dispute():
            answer = await med.http.get(f"/v1/disputes/{dispute_id}")
            return answer.json() if answer.status_code == 200 else None

        opened = await eventually(dispute)
        assert (opened["source"], opened["source_ref"], opened["unit_id"]) == ("visit", visit["visit_id"], "G1")
        # the same event again under another msg id: no second dispute, no second count
        [event] = await published(subjects.VISITS_RECORDED)
        await publish(nc, subjects.VISITS_RECORDED, event.data, "again")

        async def counted():
            sheet = (await com.http.get("/v1/scorecards?month=2026-11")).json()
            row = next(r for r in sheet["rows"] if r["officer_id"] == "P1001")
            return row["items"]["visits"]["value"] == 1 and row

        await eventually(counted)
        await eventually(lambda: _settled(com, "community-visits-sheet", 2))
        await eventually(lambda: _settled(com, "community-visits-findings", 2))
        assert (await com.http.get("/v1/officers/P1001/progress?month=2026-11")).json()["visits"] == 1
        assert (await com.http.get("/v1/scorecards?month=2026-11")).json()["rows"][0]["items"]["visits"]["value"] == 1
    assert [e.msg_id for e in await published("disputes.opened")] == [f"{dispute_id}/opened/1"]


async def _settled(svc, durable: str, delivered: int) -> bool:
    info = await svc.runtime.js.consumer_info("COMMUNITY", durable)
    return info.delivered.consumer_seq >= delivered and info.num_ack_pending == 0


async def test_bad_events_go_to_the_dead_letters_with_the_reason_and_the_service_goes_on(
        run_service, nc, published) -> None:
    async with run_service("community", FakeClock(START)):
        await publish(nc, subjects.VISITS_RECORDED, b"{not json", "bad-1")
        await publish(nc, subjects.RATINGS_RECEIVED, {"rating_id": "r 1", "at": "2026-11-23T08:00:00"}, "bad-2")
        await publish(nc, subjects.GRID_REPLACED, {"grid_version": 9, "units": 1, "at": START.isoformat(),
                                                   "grid": {"features": [{"properties": {}}]}}, "bad-3")

        async def dead():
            found = {e.data["original_subject"]: e.data for e in await published("deadletter.>")}
            return len(found) >= 3 and found

        found = await eventually(dead)
    assert set(found) >= {subjects.VISITS_RECORDED, subjects.RATINGS_RECEIVED, subjects.GRID_REPLACED}
    assert found[subjects.RATINGS_RECEIVED]["reason"] == "invalid payload"
    assert {e["loc"] for e in found[subjects.RATINGS_RECEIVED]["errors"]} >= {"rating_id", "at"}
    assert "grid" in found[subjects.GRID_REPLACED]["reason"]
    assert deadletter_subject(subjects.VISITS_RECORDED) in {e.subject for e in await published("deadletter.>")}


async def test_a_hazard_falls_overdue_once_through_the_indexed_sweep(run_service, published) -> None:
    clock = FakeClock(START)
    async with run_service("community", clock) as com:
        reported = (await com.http.post("/v1/hazards", json={
            "reported_by": "信息员-张", "place": "某厂", "kind": "fire", "severity": "major",
            "responsible_unit": "某厂"})).json()
        c = com.parts.context
        clock.set(START + timedelta(days=3) - timedelta(milliseconds=1))
        assert await handlers.sweep_deadlines(c) == 0
        clock.set(START + timedelta(days=3))
        assert await handlers.sweep_deadlines(c) == 1
        assert await handlers.sweep_deadlines(c) == 0
    [overdue] = await published(subjects.HAZARDS_OVERDUE)
    assert (overdue.data["hazard_id"], overdue.msg_id) == (reported["hazard_id"], f"{reported['hazard_id']}/overdue/2")
