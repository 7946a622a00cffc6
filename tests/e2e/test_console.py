"""The console in a real browser, through `fengqiao up`: what the duty desk, a mediator, an officer and a
viewer see and do on its pages; a screenshot of each page for the README (docs/console/)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fengqiao.services import SERVICES
from tests.e2e.console_browser import Watched, browser_or_skip, open_page, publish
from tests.e2e.up import Up, until

pytestmark = pytest.mark.e2e

VIEWER = "viewer-token-for-tests"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
ZONE = ZoneInfo("Asia/Shanghai")
PAGES = ("desk", "disputes", "callbacks", "satisfaction", "figures")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from browser_or_skip()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Up]:
    tokens = json.dumps({VIEWER: ["viewer"]})
    up = Up(tmp_path_factory.mktemp("console"), env={f"{s.env_prefix}TOKENS": tokens for s in SERVICES.values()})
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.stop()


@pytest.fixture(scope="module")
def desk(platform: Up, browser: Any) -> Iterator[Watched]:
    """The duty desk, signed in with the development token (admin), open through the module."""
    watched = open_page(browser, platform.endpoints["console_url"], platform.endpoints["token"])
    yield watched
    watched.page.context.close()


def _alert(alert_id: str, phone: str = "13800138000", priority: int = 1) -> dict[str, Any]:
    return {"alert_id": alert_id, "received_at": datetime.now(ZONE).isoformat(), "category": "dispute",
            "priority": priority, "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇某村"},
            "caller_phone": phone, "summary": "邻居因烧烤排烟争吵", "source": "110"}


def _publish_alert(platform: Up, alert_id: str) -> None:
    publish(platform.endpoints["nats_url"], "alerts.received", _alert(alert_id), alert_id)


def test_a_published_alert_is_on_the_map_and_in_the_queue_within_two_seconds(platform: Up, desk: Watched) -> None:
    page = desk.page
    alert_id = f"110-UI-{uuid.uuid4().hex[:8]}"
    _publish_alert(platform, alert_id)
    started = time.monotonic()
    page.wait_for_selector(f'path.alert-marker[data-alert="{alert_id}"]', timeout=2000)
    left_ms = 2000 - (time.monotonic() - started) * 1000
    page.wait_for_selector(f'#queue-body tr[data-alert="{alert_id}"]', timeout=left_ms)
    # then dispatch places it in its zone: the marker and the row name the unit
    page.wait_for_selector(f'path.alert-marker[data-alert="{alert_id}"][data-unit="G1"]', timeout=20_000)
    row = page.locator(f'#queue-body tr[data-alert="{alert_id}"]')
    assert row.locator(".un").inner_text() == "G1" and row.locator(".st").inner_text() == "已派待确认"
    assert not desk.errors, desk.errors


def _placed_and_open(platform: Up, page: Any) -> tuple[str, str]:
    """A new alert, once dispatch has placed it, with its card open: its id and its unit."""
    alert_id = f"110-UI-{uuid.uuid4().hex[:8]}"
    _publish_alert(platform, alert_id)
    page.wait_for_selector(f'#queue-body tr[data-alert="{alert_id}"] >> text=已派待确认', timeout=20_000)
    page.click(f'#queue-body tr[data-alert="{alert_id}"]')
    page.wait_for_selector(f'#alert-card[data-alert="{alert_id}"]')
    return alert_id, page.get_attribute("#alert-card", "data-unit")


def _assign_offered(platform: Up) -> bool:
    status, spec = platform.call("GET", "dispatch", "/openapi.json")
    return status == 200 and "/v1/alerts/{alert_id}/assign" in spec.get("paths", {})


def test_sent_to_another_unit_from_its_card_the_map_and_the_history_change(platform: Up, desk: Watched) -> None:
    assert _assign_offered(platform), "dispatch offers the duty desk's order to a named unit"
    page = desk.page
    alert_id, unit = _placed_and_open(platform, page)
    other = "G4" if unit != "G4" else "G2"
    page.select_option("#assign-unit", other)
    page.fill("#assign-reason", f"{other} 警力在附近巡逻")
    page.check('#assign-form input[name="force"]')
    page.click("#assign-submit")
    page.wait_for_selector(f'#alert-card[data-alert="{alert_id}"][data-unit="{other}"]', timeout=20_000)
    history = page.locator("#alert-card table.history tbody tr")
    assert history.count() == 2 and other in history.nth(1).inner_text()
    page.wait_for_selector(f'path.alert-marker[data-alert="{alert_id}"][data-unit="{other}"]', timeout=20_000)
    assert not desk.errors, desk.errors


def test_acknowledged_and_closed_with_a_disposition_from_its_card(platform: Up, desk: Watched) -> None:
    page = desk.page
    alert_id, unit = _placed_and_open(platform, page)
    page.click("#ack-submit")
    page.wait_for_selector(f'#alert-card[data-alert="{alert_id}"][data-state="acknowledged"]', timeout=20_000)
    page.wait_for_selector(f'#queue-body tr[data-alert="{alert_id}"]', state="detached", timeout=20_000)
    page.select_option("#close-disposition", "resolved_on_scene")
    page.fill("#close-officer", "P1001")
    for field, name in (("#sig-party", "王某"), ("#sig-officer", "张警官"), ("#sig-witness", "李某")):
        page.fill(field, name)
    page.click("#close-submit")
    page.wait_for_selector(f'#alert-card[data-alert="{alert_id}"][data-state="closed"]', timeout=20_000)
    assert "现场处结" in page.inner_text("#alert-card")
    status, alert = platform.call("GET", "dispatch", f"/v1/alerts/{alert_id}")
    assert (alert["state"], alert["unit_id"], alert["closure"]["disposition"]) == ("closed", unit, "resolved_on_scene")
    page.wait_for_selector(f'path.alert-marker[data-alert="{alert_id}"][data-state="closed"]', timeout=20_000)
    assert not desk.errors, desk.errors


def test_a_dispute_escalated_from_its_card_moves_column(platform: Up, desk: Watched) -> None:
    status, dispute = platform.call("POST", "mediation", "/v1/disputes", {
        "source": "desk", "reported_by": "P1001", "category": "neighbour", "summary": "邻里排水沟纠纷",
        "unit_id": "G1", "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"},
                                     {"party_id": "p2", "name": "李某", "phone": "13800138002"}]})
    assert status == 201, dispute
    page = desk.page
    page.click("#nav-disputes")
    card = f'article[data-dispute="{dispute["dispute_id"]}"]'
    page.wait_for_selector(f'.col[data-level="community"] {card}')
    page.click(card)
    page.wait_for_selector(f'#dispute-card[data-dispute="{dispute["dispute_id"]}"]')
    page.fill('#escalate-form input[name="reason"]', "社区调解未果，请村居干部介入")
    page.click("#escalate-submit")
    page.wait_for_selector('#dispute-card[data-level="village"]', timeout=20_000)
    page.wait_for_selector(f'.col[data-level="village"] {card}', timeout=20_000)
    assert page.locator(f'.col[data-level="community"] {card}').count() == 0
    assert not desk.errors, desk.errors


def test_a_callback_completed_from_the_page_leaves_the_list(platform: Up, desk: Watched) -> None:
    case_id = _case_due_today(platform)

    def scheduled() -> list[Any]:
        status, found = platform.call("GET", "notify", f"/v1/callbacks?case_id={case_id}")
        return found if status == 200 and found else []

    callback = until(scheduled)[0]
    page = desk.page
    page.click("#nav-callbacks")
    row = f'tr[data-callback="{callback["callback_id"]}"]'
    page.wait_for_selector(f"#callbacks > section:first-of-type {row}")  # today's, under its officer
    page.locator(row).first.locator('input[name="opinion"]').fill("对办案进度表示理解")
    page.locator(row).first.locator("button.complete").click()
    page.wait_for_selector(row, state="detached", timeout=20_000)
    status, done = platform.call("GET", "notify", f"/v1/callbacks/{callback['callback_id']}")
    assert done["state"] == "done"
    assert not desk.errors, desk.errors


def test_the_satisfaction_charts_show_a_rating_posted_through_the_api(platform: Up, desk: Watched) -> None:
    page = desk.page
    page.click("#nav-satisfaction")
    page.wait_for_selector("#chart-officer-count[data-total]")
    before = int(page.get_attribute("#chart-officer-count", "data-total"))
    status, rating = platform.call("POST", "rating", "/v1/ratings", {
        "channel": "phone", "level": "satisfied", "subject_type": "alert",
        "subject_id": f"110-R-{uuid.uuid4().hex[:6]}", "officer_id": "P1002", "unit_id": "G1", "entered_by": "P9001"})
    assert status == 201, rating
    deadline = time.monotonic() + 20  # told by ratings.received, the page reads the weekly report again
    while int(page.get_attribute("#chart-officer-count", "data-total")) <= before:
        assert time.monotonic() < deadline, "the chart did not count the rating"
        page.wait_for_timeout(100)
    assert "P1002" in page.inner_text("#chart-officer-rate")
    assert not desk.errors, desk.errors


def test_a_viewer_sees_phones_masked_and_no_action(platform: Up, browser: Any) -> None:
    alert_id = f"110-UI-{uuid.uuid4().hex[:8]}"
    _publish_alert(platform, alert_id)
    viewer = open_page(browser, platform.endpoints["console_url"], VIEWER, actor="V001")
    page = viewer.page
    try:
        page.wait_for_selector(f'#queue-body tr[data-alert="{alert_id}"]', timeout=20_000)
        page.click(f'#queue-body tr[data-alert="{alert_id}"]')
        page.wait_for_selector(f'#alert-card[data-alert="{alert_id}"]')
        assert page.inner_text("#alert-card .caller") == "138****8000"
        assert page.locator("#alert-card form").count() == 0
        page.click("#nav-disputes")
        page.wait_for_selector("article[data-dispute]")
        page.locator("article[data-dispute]").first.click()
        page.wait_for_selector("#dispute-card")
        phones = page.locator("#dispute-card td.phone").all_inner_texts()
        assert phones and all("****" in p for p in phones)
        assert page.locator("#dispute-card form").count() == 0
        page.click("#nav-callbacks")
        page.wait_for_selector("#callbacks")
        assert page.locator("#callbacks form").count() == 0
        assert all("****" in p or p == "—" for p in page.locator("#callbacks td.phone").all_inner_texts())
        assert not viewer.errors, viewer.errors
    finally:
        page.context.close()


def _case_due_today(platform: Up) -> str:
    """A case accepted 7 days ago: its parties' callbacks are due by tonight."""
    case_id = f"A-UI-{uuid.uuid4().hex[:6]}"
    accepted = datetime.now(ZONE) - timedelta(days=7)
    publish(platform.endpoints["nats_url"], "cases.accepted", {
        "case_id": case_id, "kind": "administrative", "accepted_at": accepted.isoformat(), "officer_id": "P1001",
        "unit_id": "G1", "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138011", "role": "victim"}]},
        case_id)
    return case_id


def test_every_page_loads_clean_local_only_and_is_photographed(platform: Up, desk: Watched) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    case_id = _case_due_today(platform)  # something on the callbacks page too
    until(lambda: platform.call("GET", "notify", f"/v1/callbacks?case_id={case_id}")[1])
    page = desk.page
    for name in PAGES:
        page.click(f"#nav-{name}")
        page.wait_for_url(f"**/{name}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        if name == "desk":
            page.locator("#queue-body tr").first.click()  # a card open, as the duty desk sees it
            page.wait_for_selector("#alert-card")
            page.screenshot(path=str(SHOTS / "desk-card.png"))
    assert not desk.errors, desk.errors
    assert not desk.outside, desk.outside
