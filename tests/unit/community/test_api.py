"""community's HTTP API on in-memory adapters: roles, the register masked per role and every read audited,
bounds and 4xx naming the field, the sheet as JSON and as CSV with a BOM."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from common.clock import FakeClock
from common.contracts.community import VisitRecorded
from common.http import create_app
from community import handlers
from community.entrypoints.api import router
from community.handlers import Community

from .conftest import G1, START

TOKENS = {"t-admin": ["admin"], "t-officer": ["officer"], "t-desk": ["duty_desk"], "t-mediator": ["mediator"],
          "t-leader": ["leadership"], "t-viewer": ["viewer"], "t-app": ["integration"]}


@pytest.fixture
async def http(c: Community):
    c.settings.tokens = TOKENS
    app = create_app("community", c.settings, {}, context=c, routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


VISIT = {"officer_id": "P1001", "visited_at": "2026-11-23T08:00:00+08:00", "household": "王某家",
         "address": "洗耳池小区3栋201", "lon": G1[0], "lat": G1[1]}
PERSON = {"name": "李某某", "id_number": "350322199001011234", "phone": "13900139000", "address": "枫亭镇某村5号",
          "category": "社区矫正", "risk_level": "high", "officer_id": "P1001"}


@pytest.mark.parametrize(("token", "whole"), [("t-admin", True), ("t-officer", True), ("t-desk", False),
                                              ("t-mediator", False), ("t-leader", False), ("t-viewer", False)])
async def test_the_register_is_whole_only_to_officers_and_every_read_is_recorded(
        http: httpx.AsyncClient, c: Community, token: str, whole: bool) -> None:
    created = (await http.post("/v1/keypersons", json=PERSON, headers=auth("t-officer"))).json()
    one = (await http.get(f"/v1/keypersons/{created['person_id']}", headers=auth(token))).json()
    [listed] = (await http.get("/v1/keypersons", headers=auth(token))).json()
    for shown in (one, listed):
        if whole:
            assert (shown["name"], shown["id_number"], shown["phone"], shown["address"]) == \
                ("李某某", "350322199001011234", "13900139000", "枫亭镇某村5号")
        else:
            assert (shown["name"], shown["id_number"], shown["phone"]) == ("李**", "3503**********1234",
                                                                           "139****9000")
            assert shown["address"].startswith("枫亭镇") and "某村5号" not in shown["address"]
    reads = c.audit.reads  # type: ignore[attr-defined]
    assert [(r.route, r.ids, r.whole) for r in reads] == [
        (f"/v1/keypersons/{created['person_id']}", (created["person_id"],), whole),
        ("/v1/keypersons", (created["person_id"],), whole)]
    assert all("13900139000" not in repr(r) and "李某某" not in repr(r) for r in reads)


async def test_roles_guard_every_change(http: httpx.AsyncClient) -> None:
    assert (await http.post("/v1/visits", json=VISIT, headers=auth("t-viewer"))).status_code == 403
    assert (await http.post("/v1/keypersons", json=PERSON, headers=auth("t-leader"))).status_code == 403
    hazard = {"reported_by": "信息员-张", "place": "某厂", "kind": "fire", "severity": "minor",
              "responsible_unit": "某厂"}
    assert (await http.post("/v1/hazards", json=hazard, headers=auth("t-app"))).status_code == 201
    assert (await http.get("/v1/scorecards", headers=auth("t-app"))).status_code == 403
    assert (await http.get("/v1/scorecards")).status_code == 401


@pytest.mark.parametrize(("change", "field"), [
    ({"lon": 100.0, "lat": 30.0}, "lon"),
    ({"unit_id": "G2"}, "unit_id"),
    ({"visited_at": "2026-11-23T08:00:00"}, "visited_at"),
    ({"household": " "}, "household"),
    ({"findings": [{"kind": "dispute", "summary": "吵架"}]}, "findings.0.parties"),
    ({"findings": [{"kind": "hazard", "summary": "电线老化", "severity": "minor"}]}, "findings.0.hazard_kind"),
    ({"findings": [{"kind": "key_person", "summary": "见到", "person_id": "K-none"}]}, "findings.0.person_id"),
    ({"met": ["x" * 61]}, "met.0"),
    ({"surprise": 1}, "surprise"),
])
async def test_a_bad_visit_is_a_422_naming_the_field(http: httpx.AsyncClient, change: dict, field: str) -> None:
    answer = await http.post("/v1/visits", json={**VISIT, **change}, headers=auth("t-officer"))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["detail"]][0] == field


async def test_hazard_actions_out_of_order_are_409_and_an_unknown_one_is_404(http: httpx.AsyncClient) -> None:
    hazard = (await http.post("/v1/hazards", json={"reported_by": "P1", "place": "某村", "kind": "gas",
                                                   "severity": "major", "responsible_unit": "某村委"},
                              headers=auth("t-officer"))).json()
    path = f"/v1/hazards/{hazard['hazard_id']}/actions"
    refused = await http.post(path, json={"action": "verify", "actor": "P1", "passed": True}, headers=auth("t-officer"))
    assert refused.status_code == 409 and "reported" in refused.json()["detail"]
    unknown = await http.post(path, json={"action": "burn", "actor": "P1"}, headers=auth("t-officer"))
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "action"
    missing = await http.post("/v1/hazards/H-none/actions", json={"action": "rectify", "actor": "P1"},
                              headers=auth("t-officer"))
    assert missing.status_code == 404
    half = await http.post("/v1/hazards", json={"reported_by": "P1", "place": "某村", "kind": "gas", "lon": 118.9,
                                                "severity": "major", "responsible_unit": "某村委"},
                           headers=auth("t-officer"))
    assert half.status_code == 422 and half.json()["detail"][0]["field"] == "lat"


async def test_the_sheet_is_json_ranked_and_csv_with_a_bom(http: httpx.AsyncClient, c: Community,
                                                           clock: FakeClock) -> None:
    for i in range(2):
        await handlers.record_visit(c, officer_id="P1002", visited_at=START - timedelta(hours=1), household="户",
                                    address="某地", lon=G1[0], lat=G1[1], request_id=f"v{i}")
    for event in c.publisher.on("visits.recorded"):  # type: ignore[attr-defined]
        await handlers.count_visit(c, VisitRecorded.model_validate(event))
    sheet = (await http.get("/v1/scorecards?month=2026-11&by=officer", headers=auth("t-viewer"))).json()
    assert sheet["rows"][0]["officer_id"] == "P1002" and sheet["rows"][0]["items"]["visits"]["value"] == 2
    assert [r["rank"] for r in sheet["rows"][:3]] == [1, 2, 2]  # the others tie
    assert [i["key"] for i in sheet["items"]] == ["visits", "callbacks", "satisfaction", "disputes", "alerts",
                                                  "hazards"]
    csv = await http.get("/v1/scorecards?month=2026-11&by=unit&format=csv", headers=auth("t-viewer"))
    assert csv.headers["content-type"].startswith("text/csv") and csv.content.startswith(b"\xef\xbb\xbf")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:5] == ["排名", "警务网格", "民警人数", "总分", "走访入户"]
    assert lines[1].startswith("1,G1,3,")
    for bad in ("2026-13", "2026-1", "26-11", "x"):
        answer = await http.get(f"/v1/scorecards?month={bad}", headers=auth("t-viewer"))
        assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "query.month"
    assert (await http.get("/v1/scorecards?by=station", headers=auth("t-viewer"))).status_code == 422


async def test_every_read_of_the_register_is_in_the_platforms_audit_trail_whole_or_masked(c: Community) -> None:
    c.settings.tokens = TOKENS
    app = create_app("community", c.settings, {}, context=c, routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        created = (await client.post("/v1/keypersons", json=PERSON, headers=auth("t-officer"))).json()
        assert (await client.get(f"/v1/keypersons/{created['person_id']}", headers=auth("t-viewer"))).status_code == 200
        assert (await client.get("/v1/keypersons", headers=auth("t-officer"))).status_code == 200
    await app.state.audit.idle()
    records = list(app.state.audit.store.records)
    reads = [r for r in records if r.method == "GET"]
    assert [r.roles for r in reads] == [["viewer"], ["officer"]]
    assert all(f"person_id={created['person_id']}" in r.ids for r in reads)
    assert not any(PERSON["id_number"] in str(r) or PERSON["name"] in str(r) for r in records)
