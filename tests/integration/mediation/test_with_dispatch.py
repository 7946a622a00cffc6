"""Mediation and dispatch together, over NATS: a referral becomes a dispute, a threat becomes an alert."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import dispatch
from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from tests.support import PUBLISH_TIMEOUT_S

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
SAMPLE_GRID = Path(dispatch.__file__).with_name("sample_grid.geojson")
STATION = (118.9651, 25.2284)  # inside G1 of the sample grid
NORTH_VILLAGES = (118.962, 25.252)  # G2's police room


async def _found(http, path: str, **expected: object) -> dict | None:
    response = await http.get(path)
    if response.status_code != 200:
        return None
    body = response.json()
    return body if all(body.get(k) == v for k, v in expected.items()) else None


async def test_an_alert_closed_as_referred_to_mediation_becomes_a_dispute(run_service, nc, published, wait_for) -> None:
    clock = FakeClock(START)
    async with run_service("dispatch", clock) as disp, run_service("mediation", clock) as med:
        grid = json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))
        assert (await disp.http.put("/v1/grid", json=grid)).status_code == 200
        alert = {
            "alert_id": "110-20261123-000123", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
            "location": {"lon": STATION[0], "lat": STATION[1], "address": "枫亭镇街道8号"},
            "caller_phone": "13800138000", "summary": "邻居因烧烤排烟争吵", "source": "110",
        }
        await nc.jetstream().publish(ALERTS_RECEIVED, json.dumps(alert, ensure_ascii=False).encode(),
                                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]})
        path = f"/v1/alerts/{alert['alert_id']}"
        assigned = await wait_for(lambda: _found(disp.http, path, state="assigned"))
        unit_id = assigned["unit_id"]

        clock.advance(seconds=40)
        assert (await disp.http.post(f"{path}/ack", json={"unit_id": unit_id})).status_code == 200
        clock.advance(minutes=30)
        closing = {
            "unit_id": unit_id, "officer_id": assigned["officers"][0], "disposition": "referred_to_mediation",
            "note": "双方情绪平稳,同意调解", "signatures": {},
            "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138000", "role": "complainant"},
                        {"party_id": "p2", "name": "宋某", "phone": "13800138002", "role": "respondent"}],
        }
        started = time.perf_counter()
        closed = await disp.http.post(f"{path}/close", json=closing)
        assert closed.status_code == 200, closed.text

        dispute = await wait_for(lambda: _found(med.http, "/v1/disputes/D-110-20261123-000123"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"\nalert closed -> dispute readable: {elapsed_ms:.0f} ms (polled every 50 ms)")
        assert (dispute["source"], dispute["source_ref"], dispute["state"], dispute["level"]) == (
            "alert", "110-20261123-000123", "reported", "scene")
        assert (dispute["unit_id"], dispute["officer_id"]) == (unit_id, assigned["officers"][0])
        assert [p["party_id"] for p in dispute["parties"]] == ["p1", "p2"]
        assert (dispute["address"], dispute["lon"], dispute["lat"]) == ("枫亭镇街道8号", *STATION)
        assert dispute["reported_at"] == "2026-11-23T08:45:40+08:00"
        assert dispute["first_contact_due_at"] == "2026-11-24T00:00:00+08:00"  # before the reporting day ends

    opened = await published("disputes.opened")
    assert [e.msg_id for e in opened] == ["D-110-20261123-000123/opened/1"]


async def test_a_reported_threat_of_violence_raises_an_alert_that_dispatch_assigns(
    run_service, published, wait_for
) -> None:
    clock = FakeClock(START)
    async with run_service("dispatch", clock) as disp, run_service("mediation", clock) as med:
        grid = json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))
        assert (await disp.http.put("/v1/grid", json=grid)).status_code == 200
        report = {
            "source": "informant", "reported_by": "信息员陈某", "category": "neighbour",
            "summary": "对方扬言要用刀砍他", "address": "北部村居5号",
            "lon": NORTH_VILLAGES[0], "lat": NORTH_VILLAGES[1],
            "parties": [{"party_id": "p1", "name": "陈某", "phone": "13800138021"},
                        {"party_id": "p2", "name": "郑某", "phone": "13800138022"}],
        }
        started = time.perf_counter()
        located = (await med.http.post("/v1/disputes", json=report)).json()
        assert (located["high_risk"], located["state"], located["level"]) == (True, "reported", "community")
        assert located["risk_matches"] == ["weapon", "intimidation"]
        unlocated = (await med.http.post("/v1/disputes", json={
            **{k: v for k, v in report.items() if k not in ("lon", "lat", "address")},
            "parties": [{"party_id": "p1", "name": "黄某", "phone": "13800138031"}]})).json()

        first = await wait_for(lambda: _found(disp.http, f"/v1/alerts/{located['raised_alert_id']}", state="assigned"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"\nthreat reported -> alert assigned: {elapsed_ms:.0f} ms (polled every 50 ms)")
        assert (first["unit_id"], first["reason"]) == ("G2", "zone")
        assert (first["priority"], first["category"]) == (1, "violence")
        assert (first["caller_phone"], first["source"]) == ("13800138021", "mediation")
        second_path = f"/v1/alerts/{unlocated['raised_alert_id']}"
        second = await wait_for(lambda: _found(disp.http, second_path, state="assigned"))
        assert (second["location"]["lon"], second["location"]["lat"], second["unit_id"]) == (*STATION, "G1")

    raised = await published("alerts.received")
    assert sorted(e.msg_id for e in raised) == sorted([located["raised_alert_id"], unlocated["raised_alert_id"]])
