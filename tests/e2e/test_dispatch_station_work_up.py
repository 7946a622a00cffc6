"""Through `fengqiao up`: the duty desk's word, those who join the scene, the on-scene form (issue 21, 1-3).

One platform for the module, the sample grid (four units of capacity 1); alerts published as the
110 desk would, then the station's own work through dispatch's API.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.up import FENGQIAO, Up

pytestmark = pytest.mark.e2e

#: inside G1's zone (枫亭镇), the sample grid's first unit
NEAR_G1 = {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇某村"}
WEEK = "2026-W48"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = Up(tmp_path_factory.mktemp("station"))
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.stop()


def _publish_alert(platform: Up, tmp_path: Path, alert_id: str) -> None:
    alert = {"alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
             "location": NEAR_G1, "caller_phone": "13800138000", "summary": "邻居因停车问题争执"}
    path = tmp_path / f"{alert_id}.json"
    path.write_text(json.dumps(alert, ensure_ascii=False))
    published = subprocess.run([*FENGQIAO, "publish", "alerts.received", str(path), "--data-dir", str(platform.data),
                                "--wait", "2"], capture_output=True, text=True, timeout=60)
    assert published.returncode == 0, published.stderr


def _alert(platform: Up, alert_id: str) -> dict:
    status, alert = platform.call("GET", "dispatch", f"/v1/alerts/{alert_id}")
    assert status == 200
    return alert


def test_the_duty_desk_orders_an_alert_to_a_named_unit_beyond_its_capacity_only_when_forced(
    platform: Up, tmp_path: Path
) -> None:
    _publish_alert(platform, tmp_path, "110-E2E-ORD-1")
    _publish_alert(platform, tmp_path, "110-E2E-ORD-2")
    assert _alert(platform, "110-E2E-ORD-1")["unit_id"] == "G1"
    elsewhere = _alert(platform, "110-E2E-ORD-2")
    assert elsewhere["state"] == "assigned" and elsewhere["unit_id"] != "G1"  # G1 is full: the nearest free one
    order = {"unit_id": "G1", "reason": "G1民警熟悉当事人", "by": "D001"}
    status, refused = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/assign", order)
    assert status == 409 and "force" in refused["detail"]
    status, ordered = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/assign", {**order, "force": True})
    assert (status, ordered["unit_id"], ordered["reason"], ordered["state"]) == (200, "G1", "ordered", "assigned")
    last = ordered["history"][-1]
    assert (last["ordered_by"], last["order_reason"], last["forced"]) == ("D001", "G1民警熟悉当事人", True)
    assert ordered["history"][-2]["end"] == "reassigned"
    assert ordered["actions"][-1]["actor"] == "D001" and "beyond its capacity" in ordered["actions"][-1]["action"]
    status, unit = platform.call("GET", "dispatch", "/v1/units/G1")
    assert (status, unit["load"], unit["capacity"]) == (200, 2, 1)
    status, again = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/assign", {**order, "force": True})
    assert status == 409  # it holds it already
    status, stats = platform.call("GET", "dispatch", f"/v1/stats?week={WEEK}")
    assert status == 200 and stats["scene"]["ordered"] == 1 and stats["scene"]["forced"] == 1


def test_a_community_officer_and_a_village_cadre_who_joined_the_scene_are_on_the_closing_record(platform: Up) -> None:
    for body in ({"role": "community_officer", "officer_id": "P9001", "by": "P1001"},
                 {"role": "village_cadre", "name": "林主任", "by": "P1001"},
                 {"role": "community_officer", "officer_id": "P9001", "by": "P1001"}):  # the same officer again
        status, alert = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-1/assist", body)
        assert status == 200
    assert [(a["role"], a["officer_id"], a["name"]) for a in alert["assistants"]] == [
        ("community_officer", "P9001", None), ("village_cadre", None, "林主任")]
    status, bad = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-1/assist",
                                {"role": "assisting_officer", "by": "P1001"})
    assert status == 422 and bad["detail"][0]["field"] == "officer_id"
    close = {"unit_id": "G1", "officer_id": "P1001", "disposition": "resolved_on_scene", "note": "握手言和",
             "signatures": {"party": "薛某", "officer": "P1001", "witness": "林主任"}}
    status, closed = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-1/close", close)
    assert (status, closed["state"]) == (200, "closed")
    assert [a["officer_id"] or a["name"] for a in closed["assistants"]] == ["P9001", "林主任"]
    status, stats = platform.call("GET", "dispatch", f"/v1/stats?week={WEEK}")
    scene = stats["scene"]
    assert (scene["community_officer_joined"], scene["village_cadre_joined"]) == (1, 1)
    assert scene["community_officer_share"] == round(1 / scene["alerts"], 4)


def test_every_close_on_the_scene_is_filed_with_the_form_or_the_partys_refusal_to_sign(platform: Up) -> None:
    close = {"unit_id": "G1", "officer_id": "P1002", "disposition": "statement_refused",
             "signatures": {"officer": "P1002"}}
    status, refused = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/close", close)
    assert status == 409 and "party, witness" in refused["detail"]
    status, refused = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/close",
                                    {**close, "refused_to_sign": ["party"]})
    assert status == 409 and "witness" in refused["detail"] and "party" not in refused["detail"].split("(")[0]
    status, closed = platform.call("POST", "dispatch", "/v1/alerts/110-E2E-ORD-2/close", {
        **close, "signatures": {"officer": "P1002", "witness": "陈某"}, "refused_to_sign": ["party"]})
    assert (status, closed["closure"]["disposition"], closed["closure"]["refused_to_sign"]) == (
        200, "statement_refused", ["party"])
    status, unit = platform.call("GET", "dispatch", "/v1/units/G1")
    assert unit["load"] == 0  # both places given back
