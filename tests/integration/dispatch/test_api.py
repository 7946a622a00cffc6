"""The dispatch HTTP API: whole-grid refusal, auth and roles, unknown ids, operations endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from tests.support import row_grid

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


async def test_a_bad_grid_is_refused_whole_with_every_reason_and_the_old_one_kept(run_service) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        assert (await svc.http.put("/v1/grid", json=row_grid())).json()["grid_version"] == 1
        bad = row_grid()
        bad["features"][1]["properties"]["officers"] = ["P1", "P2"]
        bad["features"][2]["properties"]["unit_id"] = "G1"
        bad["features"][3]["geometry"]["coordinates"] = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]  # a bow tie
        refused = await svc.http.put("/v1/grid", json=bad)
        assert refused.status_code == 422
        fields = {e["field"] for e in refused.json()["detail"]}
        assert "features[1].properties.officers" in fields
        assert any(f.startswith("features[2].properties.unit_id") or f.startswith("features[2]") for f in fields)
        assert any(f.startswith("features[3].geometry") for f in fields)
        kept = (await svc.http.get("/v1/grid")).json()
        assert kept["grid_version"] == 1 and len(kept["features"]) == 4
        again = await svc.http.put("/v1/grid", json=kept)  # what GET gives, PUT takes back as it is
        assert again.status_code == 200 and again.json()["grid_version"] == 2
        assert [u["unit_id"] for u in (await svc.http.get("/v1/units")).json()] == ["G1", "G2", "G3", "G4"]
        assert (await svc.http.put("/v1/grid", json={"type": "Feature"})).status_code == 422


async def test_a_post_outside_its_zone_is_accepted_but_flagged(run_service) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        grid = row_grid()
        grid["features"][0]["properties"]["post"] = [118.5, 25.5]
        accepted = await svc.http.put("/v1/grid", json=grid)
        assert accepted.status_code == 200
        assert [w["field"] for w in accepted.json()["warnings"]] == ["features[0].properties.post"]


async def test_a_smaller_grid_retires_units_and_capacity_follows_the_upload(run_service) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        smaller = row_grid((2, 1, 1))
        assert (await svc.http.put("/v1/grid", json=smaller)).json()["grid_version"] == 2
        units = {u["unit_id"]: u for u in (await svc.http.get("/v1/units")).json()}
        assert set(units) == {"G1", "G2", "G3"} and units["G1"]["capacity"] == 2
        retired = (await svc.http.get("/v1/units", params={"include_retired": "true"})).json()
        assert [u["unit_id"] for u in retired if u["retired"]] == ["G4"]


async def test_tokens_roles_unknown_ids_and_bad_bodies(run_service) -> None:
    viewer = "viewer-token-0123456789"
    async with run_service("dispatch", FakeClock(NOW), tokens={"dev-token": ["admin"], viewer: ["viewer"]}) as svc:
        http = svc.http
        assert (await http.get("/v1/units", headers={"Authorization": ""})).status_code == 401
        assert (await http.get("/v1/units", headers={"Authorization": "Bearer nope"})).status_code == 401
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert (await http.get("/v1/units", headers=as_viewer)).status_code == 200
        assert (await http.put("/v1/grid", json=row_grid(), headers=as_viewer)).status_code == 403
        await http.put("/v1/grid", json=row_grid())
        missing = await http.get("/v1/alerts/110-none")
        assert missing.status_code == 404 and "110-none" in missing.json()["detail"]
        assert (await http.get("/v1/units/G9")).status_code == 404
        assert (await http.put("/v1/units/G9/status", json={"status": "busy"})).status_code == 404
        bad = await http.put("/v1/units/G1/status", json={"status": "sleeping"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"
        close = await http.post("/v1/alerts/x/close", json={"unit_id": "G1", "disposition": "lunch"})
        assert close.status_code == 422
        assert {e["field"] for e in close.json()["detail"]} == {"officer_id", "disposition"}


async def test_health_readiness_metrics_and_openapi_need_no_token(run_service) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        bare = {"Authorization": ""}
        assert (await svc.http.get("/healthz", headers=bare)).json() == {"status": "alive"}
        ready = (await svc.http.get("/readyz", headers=bare)).json()
        assert ready == {"ready": True, "checks": {"nats": "ok", "mongodb": "ok"}}
        await svc.http.get("/v1/units")
        metrics = (await svc.http.get("/metrics", headers=bare)).text
        assert 'fengqiao_http_requests_total{method="GET",route="/v1/units",status="200"}' in metrics
        paths = (await svc.http.get("/openapi.json", headers=bare)).json()["paths"]
        assert {"/v1/grid", "/v1/units/{unit_id}/status", "/v1/alerts/{alert_id}/close", "/v1/stats"} <= set(paths)
