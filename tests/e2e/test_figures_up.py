"""Through `fengqiao up`: the station's figures and the mediation rules of issue 21.

`/v1/trends` answers 同比 and 环比 from alerts published with past dates and its 两降一升 panel shows the
satisfaction rating counted (told over JetStream, rating checking every second here); `/v1/hotspots`
names places with their busy hours; an evening report is due by noon the next day (事不过夜, on the
platform's real clock: the edges to the second are pinned with a fake clock in the unit and integration
tests); a mediation team is named on a settled dispute and in the statistics.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import nats
import pytest

from dispatch.domain.trends import Period
from tests.e2e.up import Up, until
from tests.support import PUBLISH_TIMEOUT_S

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
PLACE = {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇洗耳池小区3栋"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    before = os.environ.get("FQ_RATING_SATISFACTION_TELL_S")
    os.environ["FQ_RATING_SATISFACTION_TELL_S"] = "1"  # the services inherit up's environment
    try:
        up = Up(tmp_path_factory.mktemp("figures"))
    finally:
        if before is None:
            del os.environ["FQ_RATING_SATISFACTION_TELL_S"]
        else:
            os.environ["FQ_RATING_SATISFACTION_TELL_S"] = before
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.stop()


def _publish(platform: Up, alerts: list[dict]) -> None:
    async def send() -> None:
        nc = await nats.connect(platform.endpoints["nats_url"])
        try:
            js = nc.jetstream()
            for alert in alerts:
                data = json.dumps(alert, ensure_ascii=False).encode()
                await js.publish("alerts.received", data,
                                 timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]})
        finally:
            await nc.close()

    asyncio.run(send())


def _alert(alert_id: str, at: datetime, category: str = "theft") -> dict:
    return {"alert_id": alert_id, "received_at": at.isoformat(), "category": category, "location": PLACE,
            "summary": "电动车被盗"}


def test_trends_answer_year_on_year_and_period_on_period_and_the_panel_shows_ratings(platform: Up) -> None:
    now = datetime.now(ZONE)
    week = Period.of("week", now.date())
    previous, year_before = week.previous(), week.year_before()

    def inside(period: Period) -> datetime:  # the period's first day, 10:00: in it whatever today is
        return datetime.combine(period.first_day, time(10), ZONE)

    this_week = max(now - timedelta(minutes=1), datetime.combine(week.first_day, time(0), ZONE))
    alerts = [_alert("e2e-now-1", this_week),
              _alert("e2e-prev-1", inside(previous)), _alert("e2e-prev-2", inside(previous) + timedelta(hours=1)),
              _alert("e2e-prev-3", inside(previous), "dispute")]
    alerts += [_alert(f"e2e-yoy-{i}", inside(year_before) + timedelta(hours=i)) for i in range(4)]
    _publish(platform, alerts)
    for level, subject in (("satisfied", "e2e-r1"), ("satisfied", "e2e-r2"), ("basically", "e2e-r3"),
                           ("dissatisfied", "e2e-r4")):
        status, _ = platform.call("POST", "rating", "/v1/ratings", {
            "channel": "phone", "level": level, "subject_type": "alert", "subject_id": subject, "officer_id": "P1001",
            "unit_id": "G1", "entered_by": "desk-1"})
        assert status == 201, _

    def answered() -> dict | None:
        status, body = platform.call("GET", "dispatch", f"/v1/trends?period=week&at={now.date()}")
        assert status == 200, body
        theft = next((r for r in body["rows"] if r["category"] == "theft"), None)
        told = body["panel"]["satisfaction"]["rated"] == 4  # all four ratings rolled up, not only the first
        counted = theft and (theft["count"], theft["year_before"], theft["previous"]) == (1, 4, 2)  # every alert
        return body if told and counted else None

    body = until(answered, timeout=30)
    assert (body["label"], body["previous"], body["year_before"]) == (week.label, previous.label, year_before.label)
    theft = next(r for r in body["rows"] if r["category"] == "theft")
    assert (theft["count"], theft["change_pct"], theft["yoy_pct"]) == (1, -50.0, -75.0)
    assert body["panel"]["satisfaction"]["rate"] == 0.75 and body["panel"]["satisfaction"]["rated"] == 4
    assert body["panel"]["criminal"]["down"] is True
    assert body["preventable"]["share"] == 1.0
    status, by_unit = platform.call("GET", "dispatch", f"/v1/trends?period=year&by=unit&at={now.date()}")
    assert status == 200 and by_unit["rows"][0]["unit_id"] == "G1"
    assert platform.call("GET", "dispatch", "/v1/trends?period=fortnight")[0] == 422


def test_hotspots_name_places_with_their_busy_hours(platform: Up) -> None:
    def found() -> dict | None:
        status, body = platform.call("GET", "dispatch", "/v1/hotspots?weeks=8&top=3&hours=2")
        assert status == 200, body
        return body if body["hotspots"] and body["hotspots"][0]["count"] >= 4 else None

    body = until(found)
    first = body["hotspots"][0]
    assert first["place"] == PLACE["address"]
    assert first["busy_hours"][0]["label"].endswith("10:00–11:00")
    assert len(body["weeks"]) == 8


def _dispute(platform: Up, reported_at: datetime) -> dict:
    status, body = platform.call("POST", "mediation", "/v1/disputes", {
        "source": "informant", "reported_by": "信息员林某", "category": "land", "summary": "两户为宅基地边界争执",
        "parties": [{"party_id": "p1", "name": "林某"}, {"party_id": "p2", "name": "陈某"}],
        "reported_at": reported_at.isoformat()})
    assert status == 201, body
    return body


def test_an_evening_report_is_due_by_noon_the_next_day_and_a_day_report_before_its_day_ends(platform: Up) -> None:
    today = datetime.now(ZONE).date()
    yesterday = today - timedelta(days=1)
    evening = _dispute(platform, datetime.combine(yesterday, time(21), ZONE))
    morning = _dispute(platform, datetime.combine(yesterday, time(9), ZONE))
    noon = datetime.combine(today, time(12), ZONE)
    assert datetime.fromisoformat(evening["first_contact_due_at"]) == noon
    assert datetime.fromisoformat(morning["first_contact_due_at"]) == datetime.combine(today, time(0), ZONE)

    def flagged(dispute_id: str) -> bool:
        return platform.call("GET", "mediation", f"/v1/disputes/{dispute_id}")[1]["overdue"]

    until(lambda: flagged(morning["dispute_id"]))  # a day report is not left until the next morning
    if datetime.now(ZONE) >= noon + timedelta(seconds=2):
        until(lambda: flagged(evening["dispute_id"]))
    else:
        assert not flagged(evening["dispute_id"])


def test_a_mediation_team_is_named_on_a_settled_dispute_and_in_the_statistics(platform: Up) -> None:
    dispute = _dispute(platform, datetime.now(ZONE) - timedelta(minutes=1))
    actions = f"/v1/disputes/{dispute['dispute_id']}/actions"
    for body in ({"action": "contact", "actor": "P1001"},
                 {"action": "join", "actor": "P1001", "mediator_id": "T-JQ-1", "name": "枫亭警企调解队",
                  "kind": "police_enterprise_team"},
                 {"action": "resolve", "actor": "P1001", "settled_by": "T-JQ-1",
                  "agreement": {"terms": "按原界址立桩", "signatures": {
                      "p1": "林某", "p2": "陈某", "mediator": "枫亭警企调解队", "witness": "村委王某"}}}):
        status, answer = platform.call("POST", "mediation", actions, body)
        assert status == 200, answer
    assert answer["settled_by"] == "T-JQ-1"
    status, stats = platform.call("GET", "mediation", f"/v1/stats?from={datetime.now(ZONE).date() - timedelta(days=2)}")
    assert status == 200
    team = next(r for r in stats["mediators"] if r["mediator_id"] == "T-JQ-1")
    assert (team["kind_label"], team["joined"], team["resolved"]) == ("警企调解队", 1, 1)
    assert stats["resolved_by_mediator_kind"]["police_enterprise_team"] == 1

