"""The console's routes over ASGI, the services behind it answered by a stub transport: sign-in and its cookie,
what a role is offered and refused, a service away."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from console.live import Hub
from console.settings import ConsoleSettings
from console.upstream import Upstream
from console.web import Console, build_app

ADMIN, VIEWER = "admin-token-0001", "viewer-token-001"
ALERT = {"alert_id": "A1", "state": "assigned", "priority": 1, "category": "theft", "unit_id": "G1",
         "reason": "zone", "distance_m": 12.0, "caller_phone": "13800138000", "summary": "s",
         "received_at": "2026-12-02T10:00:00+08:00", "location": {"lon": 1, "lat": 2, "address": "x"},
         "history": [], "officers": ["P1"], "flagged": False, "closure": None}


TRENDS = {"period": "week", "label": "2026-W49", "previous": "2026-W48", "year_before": "2025-W49", "by": "category",
          "rows": [{"category": "theft", "count": 4, "previous": 2, "year_before": 8, "change_pct": 100.0,
                    "yoy_pct": -50.0}],
          "total": {"count": 4, "previous": 2, "year_before": 8, "change_pct": 100.0, "yoy_pct": -50.0},
          "panel": {"criminal_down": True}}
HOTSPOTS = {"weeks": ["2026-W49"], "cell_m": 200, "hotspots": [
    {"lon": 118.96, "lat": 25.22, "count": 7, "place": "枫亭镇某村",
     "busy_hours": [{"hour_of_week": 140, "label": "周六 20时", "count": 3}]}]}


def _service(calls: list[tuple[str, str, Any]], down: bool = False, figures: bool = False):
    def handle(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError("refused")
        body = json.loads(request.content) if request.content else None
        calls.append((request.method, request.url.path, body, request.headers.get("authorization")))
        path = request.url.path
        if path == "/v1/alerts/A1":
            return httpx.Response(200, json=ALERT)
        if path.startswith("/v1/spot-checks/"):
            return httpx.Response(200, json={"check_id": "C1", "state": body["outcome"]})
        if path.endswith("/ack"):
            return httpx.Response(409, json={"error": "refused", "detail": "G2 does not hold it"})
        if path in ("/v1/units", "/v1/alerts", "/v1/disputes", "/v1/callbacks", "/v1/followups", "/v1/spot-checks"):
            return httpx.Response(200, json=[])
        if figures and path == "/v1/trends":
            return httpx.Response(200, json=TRENDS)
        if figures and path == "/v1/hotspots":
            return httpx.Response(200, json=HOTSPOTS)
        if path == "/v1/grid":
            return httpx.Response(200, json={"type": "FeatureCollection", "features": []})
        return httpx.Response(404, json={"error": "not_found", "detail": "Not Found"})

    return httpx.MockTransport(handle)


def _client(calls: list, down: bool = False, figures: bool = False) -> httpx.AsyncClient:
    settings = ConsoleSettings(tokens={ADMIN: ["admin"], VIEWER: ["viewer"]}, environment="test")
    bases = {"dispatch": "http://d", "mediation": "http://m", "notify": "http://n", "rating": "http://r",
             "community": ""}
    console = Console(settings, Upstream(bases, 1.0, transport=_service(calls, down, figures)), Hub())
    app = build_app(console, {})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


async def _signed_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/login", content=f"token={token}&actor=P9001&next=/disputes",
                             headers={"content-type": "application/x-www-form-urlencoded"})


async def test_a_page_without_a_session_goes_to_the_sign_in_and_the_stream_is_refused() -> None:
    async with _client([]) as client:
        page = await client.get("/desk", headers={"accept": "text/html"})
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/desk")
        assert (await client.get("/events")).status_code == 401
        assert (await client.get("/desk/alerts/A1", headers={"HX-Request": "true"})).headers["HX-Redirect"] == "/login"


async def test_a_wrong_token_is_refused_and_a_right_one_kept_httponly(caplog: pytest.LogCaptureFixture) -> None:
    async with _client([]) as client:
        wrong = await _signed_in(client, "nope")
        assert wrong.status_code == 401 and "令牌无效" in wrong.text and "set-cookie" not in wrong.headers
        right = await _signed_in(client, ADMIN)
        assert (right.status_code, right.headers["location"]) == (303, "/disputes")
        cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("fq_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ADMIN not in caplog.text


async def test_an_action_goes_with_the_users_token_and_the_services_refusal_is_shown() -> None:
    calls: list = []
    async with _client(calls) as client:
        await _signed_in(client, ADMIN)
        card = await client.post("/desk/alerts/A1/ack", content="unit_id=G2",
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert card.status_code == 200 and "G2 does not hold it" in card.text
    assert ("POST", "/v1/alerts/A1/ack", {"unit_id": "G2"}, f"Bearer {ADMIN}") in calls


async def test_a_viewer_is_offered_no_action_and_refused_one() -> None:
    calls: list = []
    async with _client(calls) as client:
        await _signed_in(client, VIEWER)
        card = await client.get("/desk/alerts/A1")
        assert card.status_code == 200 and "<form" not in card.text
        refused = await client.post("/desk/alerts/A1/close", content="disposition=no_action",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 403
    assert not [c for c in calls if c[0] == "POST"]


async def test_a_service_away_is_said_on_the_page_never_a_500() -> None:
    async with _client([], down=True) as client:
        await _signed_in(client, ADMIN)
        for path in ("/desk", "/disputes", "/callbacks", "/satisfaction", "/figures", "/desk/alerts/A1"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "暂不可达" in page.text, path


async def test_a_panel_whose_api_is_not_there_says_so() -> None:
    async with _client([]) as client:
        await _signed_in(client, ADMIN)
        page = await client.get("/figures")
    assert page.text.count("该数据接口尚未提供") == 5  # trends, hot spots, scorecards, and both stats here


async def test_every_page_names_its_scripts_on_the_console_and_a_strict_policy() -> None:
    async with _client([]) as client:
        await _signed_in(client, ADMIN)
        page = await client.get("/satisfaction")
        assert "https://" not in page.text and "http://" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        vendored = await client.get("/static/vendor/echarts/echarts.min.js")
        assert vendored.status_code == 200 and len(vendored.content) > 500_000


async def test_a_spot_check_result_goes_to_rating_and_the_page_says_so() -> None:
    calls: list = []
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with _client(calls) as client:
        await _signed_in(client, ADMIN)
        done = await client.post("/satisfaction/spot-checks/C1", content="week=2026-W48&outcome=denied&note=n",
                                 headers=form)
        assert done.status_code == 303 and done.headers["location"].startswith("/satisfaction?week=2026-W48&notice=")
        await _signed_in(client, VIEWER)
        refused = await client.post("/satisfaction/spot-checks/C1", content="outcome=denied", headers=form)
        assert refused.status_code == 403
    assert [c[1:3] for c in calls if c[0] == "POST"] == [
        ("/v1/spot-checks/C1", {"outcome": "denied", "note": "n", "actor": "P9001"})]


async def test_the_trends_and_hot_spots_show_once_their_api_answers() -> None:
    async with _client([], figures=True) as client:
        await _signed_in(client, ADMIN)
        page = (await client.get("/figures")).text
    assert page.count("该数据接口尚未提供") == 3  # only the scorecards and the two stats the stub lacks
    assert "盗窃</td><td>4</td><td>2</td><td>+100.0%</td><td>8</td><td>-50.0%" in page
    assert "枫亭镇某村</td><td>7</td><td>周六 20时" in page and 'id="hotspot-map"' in page


async def test_a_badge_number_the_services_would_refuse_is_refused_at_sign_in() -> None:
    async with _client([]) as client:
        refused = await client.post("/login", content="token=admin-token-0001&actor=%E5%BC%A0%E4%B8%89",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 422 and "警号只能" in refused.text and "set-cookie" not in refused.headers
