"""`fengqiao up` end to end, as an operator and the station would use it.

One platform for the module: it comes up on embedded servers, assigns a published
alert, walks a dispute from that alert to a signed settlement, keeps its state across
a restart, and stops leaving no process behind.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fengqiao.services import SERVICES
from fengqiao.up import http_json
from tests.e2e.up import FENGQIAO, Up, alive, until

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("station")


@pytest.fixture(scope="module")
def platform(data_dir: Path) -> Iterator[Up]:
    up = Up(data_dir)
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.stop()


def test_every_service_is_ready_with_the_sample_grid(platform: Up) -> None:
    assert list(platform.endpoints["services"]) == list(SERVICES)
    for name in platform.endpoints["services"]:
        status, body = http_json("GET", platform.url(name, "/readyz"), token=None)
        assert (status, body["ready"]) == (200, True)
    status, units = platform.call("GET", "dispatch", "/v1/units")
    assert status == 200 and len(units) == 4 and all(len(u["officers"]) == 3 for u in units)


def test_a_published_alert_is_assigned(platform: Up, tmp_path: Path) -> None:
    alert = {"alert_id": "110-E2E-0001", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
             "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇某村"}, "caller_phone": "13800138000",
             "summary": "邻居因烧烤排烟争吵"}
    (tmp_path / "alert.json").write_text(json.dumps(alert, ensure_ascii=False))
    published = subprocess.run([*FENGQIAO, "publish", "alerts.received", str(tmp_path / "alert.json"),
                                "--data-dir", str(platform.data), "--wait", "2"], capture_output=True, text=True,
                               timeout=60)
    assert published.returncode == 0, published.stderr
    assert '"duplicate": false' in published.stdout and "alerts.assigned" in published.stdout
    status, placed = platform.call("GET", "dispatch", "/v1/alerts/110-E2E-0001")
    assert (status, placed["state"], placed["unit_id"], placed["reason"]) == (200, "assigned", "G1", "zone")


def test_a_dispute_from_that_alert_to_a_signed_settlement(platform: Up) -> None:
    """Issue 3's walk: alert -> referred to mediation -> escalated -> resolved, and the statistics show it."""
    assert platform.call("POST", "dispatch", "/v1/alerts/110-E2E-0001/ack", {"unit_id": "G1"})[0] == 200
    close = {"unit_id": "G1", "officer_id": "P1001", "disposition": "referred_to_mediation", "note": "双方同意调解",
             "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"},
                         {"party_id": "p2", "name": "李某", "phone": "13800138002"}]}
    assert platform.call("POST", "dispatch", "/v1/alerts/110-E2E-0001/close", close)[0] == 200

    def the_dispute():
        status, found = platform.call("GET", "mediation", "/v1/disputes?limit=10")
        return next((d for d in found if d.get("source_ref") == "110-E2E-0001"), None) if status == 200 else None

    dispute = until(the_dispute)
    actions = f"/v1/disputes/{dispute['dispute_id']}/actions"
    assert platform.call("POST", "mediation", actions, {"action": "contact", "actor": "P1001"})[0] == 200
    assert dispute["level"] == "scene"  # 出警民警处警关: the gates follow, one by one
    for level in ("community", "village", "town"):
        status, dispute = platform.call("POST", "mediation", actions, {"action": "escalate", "actor": "P1001",
                                                                       "reason": "调解未果"})
        assert (status, dispute["level"]) == (200, level)
    half_signed = {"terms": "赔偿500元", "signatures": {"p1": "王某"}}
    refused = platform.call("POST", "mediation", actions, {"action": "resolve", "actor": "镇调委",
                                                           "agreement": half_signed})
    assert refused[0] == 409
    signatures = {"p1": "王某", "p2": "李某", "mediator": "镇调委陈某", "witness": "村委张某"}
    agreement = {"terms": "赔偿500元", "signatures": signatures}
    status, resolved = platform.call("POST", "mediation", actions, {"action": "resolve", "actor": "镇调委",
                                                                    "agreement": agreement})
    assert (status, resolved["state"]) == (200, "resolved")
    status, stats = platform.call("GET", "mediation", "/v1/stats?from=2026-01-01&to=2030-12-31")
    assert status == 200 and stats["opened"] >= 1 and stats["resolved_by_level"]["town"] >= 1


def test_state_survives_a_restart_and_nothing_is_left_behind(platform: Up, data_dir: Path) -> None:
    out = platform.stop()
    assert "stopped." in out
    time.sleep(0.5)
    assert [p for p in platform.pids if alive(p)] == [], "processes left behind"
    assert not (data_dir / "endpoints.json").exists()

    again = Up(data_dir)
    try:
        status, alert = again.call("GET", "dispatch", "/v1/alerts/110-E2E-0001")
        assert (status, alert["state"], alert["closure"]["disposition"]) == (200, "closed", "referred_to_mediation")
        status, units = again.call("GET", "dispatch", "/v1/units")
        assert [u["load"] for u in units] == [0, 0, 0, 0]
        status, disputes = again.call("GET", "mediation", "/v1/disputes?state=resolved")
        assert status == 200 and any(d["source_ref"] == "110-E2E-0001" for d in disputes)
    finally:
        again.stop()
