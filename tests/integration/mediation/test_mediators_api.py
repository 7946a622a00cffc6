"""Who mediated, on real servers: a team and a village cadre named on a dispute, the cadre settles it,
the events and GET /v1/stats say so; bad participants are 422 or 409."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from tests.integration.mediation.test_disputes_api import REPORT, START, resolve

pytestmark = pytest.mark.integration


async def test_a_cadre_of_the_third_gate_settles_and_the_statistics_name_it(run_service, published) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        ident = (await med.http.post("/v1/disputes", json=REPORT)).json()["dispute_id"]

        async def act(body: dict) -> object:
            return await med.http.post(f"/v1/disputes/{ident}/actions", json=body)

        assert (await act({"action": "contact", "actor": "P1001"})).status_code == 200
        team = {"action": "join", "actor": "P1001", "mediator_id": "T-FT-1", "name": "枫亭镇纠纷调解队",
                "kind": "mediation_team"}
        assert (await act(team)).status_code == 200
        assert (await act(team)).status_code == 409  # named already
        cadre = {"action": "join", "actor": "P1001", "mediator_id": "C-XEC-1", "name": "村支书林某",
                 "kind": "village_cadre"}
        assert (await act(cadre)).status_code == 200
        for bad, field in [({**cadre, "kind": "boss"}, "join.kind"),
                           ({**cadre, "mediator_id": "a b"}, "join.mediator_id"),
                           ({**cadre, "name": ""}, "join.name"), ({**cadre, "name": "名" * 61}, "join.name")]:
            refused = await act(bad)
            assert refused.status_code == 422, bad
            assert field in {e["field"] for e in refused.json()["detail"]}, refused.json()
        assert (await act({"action": "escalate", "actor": "P1001", "to_level": "village"})).status_code == 200
        assert (await act({**resolve(), "settled_by": "T-NOBODY"})).status_code == 409
        settled = await act({**resolve(), "settled_by": "C-XEC-1"})
        assert settled.status_code == 200, settled.json()
        body = settled.json()
        assert body["settled_by"] == "C-XEC-1"
        assert [(p["mediator_id"], p["kind"]) for p in body["mediators"]] == [
            ("T-FT-1", "mediation_team"), ("C-XEC-1", "village_cadre")]
        assert body["mediators"][0]["joined_at"].endswith("+08:00")

        stats = (await med.http.get("/v1/stats", params={"from": "2026-11-01", "to": "2026-11-30"})).json()
        assert [(r["mediator_id"], r["kind_label"], r["joined"], r["resolved"]) for r in stats["mediators"]] == [
            ("C-XEC-1", "村居干部", 1, 1), ("T-FT-1", "纠纷调解队", 1, 0)]
        assert stats["mediators"][0]["resolved_by_level"]["village"] == 1
        assert stats["resolved_by_mediator_kind"]["village_cadre"] == 1

    joined = await published("disputes.mediator_joined")
    assert [(e.data["mediator_id"], e.data["level"]) for e in joined] == [("T-FT-1", "community"),
                                                                           ("C-XEC-1", "community")]
    (done,) = await published("disputes.resolved")
    assert (done.data["settled_by"], done.data["settled_by_name"], done.data["settled_by_kind"]) == (
        "C-XEC-1", "村支书林某", "village_cadre")
    assert datetime.fromisoformat(done.data["at"].replace("Z", "+00:00")) == START.astimezone(UTC)
