"""The duty desk of a big day: the waiting queue read page after page as dispatch links them (urgent, then
oldest), the map's alerts of the last hours newest first, each to a bound the page states when it is reached."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from console.live import Hub
from console.settings import ConsoleSettings
from console.upstream import Answer, Upstream
from console.web import MAP_PAGES, PAGE, QUEUE_PAGES, Console, _next_place, build_app

TOKEN = "desk-token-00001"
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 at the station


def _alert(n: int, *, state: str, minutes_ago: float, priority: int = 2) -> dict[str, Any]:
    return {"alert_id": f"A{n:05d}", "state": state, "priority": priority, "category": "dispute",
            "unit_id": None if state == "unassigned" else "G1", "summary": "s",
            "received_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "location": {"lon": 118.96, "lat": 25.22, "address": "x"}}


class Dispatch:
    """dispatch's `/v1/alerts` as it pages: the queue by `after`, alerts since a time by `before` (a list index
    here: the console only hands back what the link named)."""

    def __init__(self, alerts: list[dict[str, Any]], fail_page: int | None = None) -> None:
        self.alerts = alerts
        self.asked: list[dict[str, str]] = []
        self.fail_page = fail_page
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/grid":
            return httpx.Response(200, json={"type": "FeatureCollection", "features": []})
        if path == "/v1/units":
            return httpx.Response(200, json=[])
        assert path == "/v1/alerts", path
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        self.asked.append(q)
        if self.fail_page is not None and len(self.asked) == self.fail_page:
            return httpx.Response(503, json={"error": "unavailable", "detail": "dispatch 暂不可达"})
        limit = int(q["limit"])
        if q.get("state") == "unassigned":
            rows = sorted((a for a in self.alerts if a["state"] == "unassigned"),
                          key=lambda a: (a["priority"], a["received_at"]))
            start, cursor = int(q.get("after", 0)), "after"
        elif "since" in q:
            since = datetime.fromisoformat(q["since"])
            rows = sorted((a for a in self.alerts if datetime.fromisoformat(a["received_at"]) >= since),
                          key=lambda a: a["received_at"], reverse=True)
            start, cursor = int(q.get("before", 0)), "before"
        else:
            rows = [a for a in self.alerts if a["state"] == q.get("state")]
            start, cursor = 0, ""
        page = rows[start:start + limit]
        headers = {}
        if cursor and len(page) == limit:
            headers["Link"] = f'<http://d/v1/alerts?limit={limit}&{cursor}={start + limit}&x=1>; rel="next"'
        return httpx.Response(200, json=page, headers=headers)


def _client(dispatch: Dispatch) -> httpx.AsyncClient:
    settings = ConsoleSettings(tokens={TOKEN: ["duty_desk"]}, environment="test", map_hours=12)
    bases = {"dispatch": "http://d", "mediation": "http://m", "notify": "http://n", "rating": "http://r",
             "community": ""}
    console = Console(settings, Upstream(bases, 1.0, transport=dispatch.transport), Hub(),
                      now=lambda: NOW.astimezone(settings.zone))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(console, {})), base_url="http://console")


async def _desk_page(dispatch: Dispatch) -> httpx.Response:
    async with _client(dispatch) as console:
        signed = await console.post("/login", content=f"token={TOKEN}&actor=P9001&next=/desk",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert signed.status_code == 303
        return await console.get("/desk")


def _desk(page: str) -> tuple[list[str], list[str], str]:
    data = json.loads(re.search(r'<script type="application/json" id="desk-data">(.*?)</script>', page, re.S).group(1))
    rows = re.findall(r'<tr class="qrow[^"]*" data-alert="([^"]+)"', page)
    count = re.search(r'<span id="queue-count"[^>]*>([^<]*)</span>', page).group(1)
    return rows, [m["alert_id"] for m in data["alerts"]], count


async def test_a_queue_longer_than_its_pages_shows_the_most_urgent_and_oldest_and_says_there_are_more() -> None:
    assert (QUEUE_PAGES, PAGE) == (4, 500)
    waiting = [_alert(n, state="unassigned", minutes_ago=2_000 - n % 1_000, priority=1 + n % 3) for n in range(2_001)]
    dispatch = Dispatch(waiting)
    page = await _desk_page(dispatch)
    assert page.status_code == 200
    rows, _, count = _desk(page.text)
    expected = sorted(waiting, key=lambda a: (a["priority"], a["received_at"]))[:2_000]
    assert rows == [a["alert_id"] for a in expected] and count == "2000+"
    assert "仅列出最紧急、最早的 2000 起" in page.text
    queue_asks = [q for q in dispatch.asked if q.get("state") == "unassigned"]
    assert [q.get("after") for q in queue_asks] == [None, "500", "1000", "1500"]  # each link's place, no more


async def test_a_queue_that_fits_is_read_to_its_end_and_says_nothing_more() -> None:
    waiting = [_alert(n, state="unassigned", minutes_ago=n) for n in range(1_000)]  # exactly two full pages
    dispatch = Dispatch(waiting)
    page = await _desk_page(dispatch)
    rows, _, count = _desk(page.text)
    assert len(rows) == 1_000 and count == "1000" and "queue-more" not in page.text
    # two full pages, then the empty third the second's link named
    assert [q.get("after") for q in dispatch.asked if q.get("state") == "unassigned"] == [None, "500", "1000"]


async def test_the_map_shows_every_alert_of_the_last_hours_whatever_its_state() -> None:
    held = [_alert(n, state="assigned", minutes_ago=n % 700) for n in range(700)]  # 200 units hold 700
    done = [_alert(1_000 + n, state="closed", minutes_ago=30 + n % 600) for n in range(300)]
    old = [_alert(2_000 + n, state="closed", minutes_ago=12 * 60 + 1 + n) for n in range(50)]  # before the window
    dispatch = Dispatch([*held, *done, *old])
    page = await _desk_page(dispatch)
    _, markers, _ = _desk(page.text)
    assert sorted(markers) == sorted(a["alert_id"] for a in (*held, *done))  # a thousand, none older
    since_asks = [q for q in dispatch.asked if "since" in q]
    assert datetime.fromisoformat(since_asks[0]["since"]) == NOW - timedelta(hours=12)
    assert [q.get("before") for q in since_asks] == [None, "500", "1000"] and "map-more" not in page.text


async def test_a_map_past_its_pages_keeps_the_newest_and_says_so() -> None:
    many = [_alert(n, state="closed", minutes_ago=n * 0.1) for n in range(MAP_PAGES * PAGE + 10)]
    dispatch = Dispatch(many)
    page = await _desk_page(dispatch)
    _, markers, _ = _desk(page.text)
    assert sorted(markers) == sorted(a["alert_id"] for a in many[:MAP_PAGES * PAGE])  # the newest 5,000
    assert "地图仅显示最近的 5000 起警情" in page.text


async def test_an_alert_waiting_for_its_units_word_is_in_the_queue_even_past_the_maps_hours() -> None:
    stale = _alert(1, state="assigned", minutes_ago=13 * 60)  # not on the map, still to be acknowledged
    page = await _desk_page(Dispatch([stale, _alert(2, state="unassigned", minutes_ago=5)]))
    rows, markers, count = _desk(page.text)
    assert rows == ["A00001", "A00002"] and markers == ["A00002"] and count == "2"


async def test_a_page_that_fails_midway_is_said_and_what_came_is_shown() -> None:
    waiting = [_alert(n, state="unassigned", minutes_ago=n) for n in range(800)]
    dispatch = Dispatch(waiting, fail_page=5)  # received, assigned, the queue's first, the map's first, then this one
    page = await _desk_page(dispatch)
    assert page.status_code == 200 and "dispatch 暂不可达" in page.text
    rows, _, _ = _desk(page.text)
    assert len(rows) in (500, 800)  # the failed page was the queue's second or the map's second


@pytest.mark.parametrize(("link", "place"), [
    (None, None),
    ('<http://d/v1/alerts?state=unassigned&limit=500&after=2:1:A1>; rel="next"', {"after": "2:1:A1"}),
    ('<http://d/v1/alerts?limit=500&before=2026-12-03T01%3A00%3A00%2B00%3A00%7CA1&since=x>; rel="next"',
     {"before": "2026-12-03T01:00:00+00:00|A1"}),
    ('<http://d/v1/alerts?after=5>; rel="prev"', None),
    ('<http://d/v1/alerts?limit=500>; rel="next"', None),  # a link that names no place is no next page
    ("garbage", None),
])
def test_the_next_place_is_read_from_the_link(link: str | None, place: dict[str, str] | None) -> None:
    headers = httpx.Headers({"link": link} if link is not None else {})
    assert _next_place(Answer(200, [], headers)) == place
    assert _next_place(Answer(200, [], None)) is None
