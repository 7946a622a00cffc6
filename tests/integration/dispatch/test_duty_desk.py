"""The duty desk: its queue (urgent, then oldest), offered a place as soon as one frees, read only as far as needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import ASCENDING, IndexModel

from common import mongo
from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from common.mongo import ensure_indexes
from dispatch.adapters.store import INDEXES, AlertStore, InMemoryAlerts
from dispatch.domain.alerts import Alert
from dispatch.placement.duty_desk import DutyDesk, offer_waiting
from tests.support import alert_body, centre, eventually, publish, row_grid

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
CLOSE = {"officer_id": "P000", "disposition": "no_action"}


def _waiting(alert_id: str, priority: int, minutes_ago: int, *, beyond_reach: bool = False) -> Alert:
    alert = Alert.receive(alert_id=alert_id, received_at=NOW - timedelta(minutes=minutes_ago), category="dispute",
                          priority=priority, lon=0.5, lat=0.5, address=None, caller_phone=None, summary="",
                          source="110")
    alert.send_to_duty_desk(NOW, beyond_reach=beyond_reach)
    return alert


async def test_the_queue_is_urgent_first_then_oldest_in_pages_across_reach(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    await ensure_indexes(db, INDEXES)
    alerts = AlertStore(db)
    for alert in (_waiting("p2-new", 2, 1), _waiting("p3-oldest", 3, 90), _waiting("p1-new", 1, 2),
                  _waiting("p2-old", 2, 30), _waiting("p1-far", 1, 20, beyond_reach=True),
                  _waiting("p1-old", 1, 10), _waiting("p2-tie-b", 2, 30), _waiting("p3-far", 3, 1, beyond_reach=True)):
        await alerts.insert_new(alert)
    expected = ["p1-far", "p1-old", "p1-new", "p2-old", "p2-tie-b", "p2-new", "p3-oldest", "p3-far"]
    assert [a.alert_id for a in await alerts.queue(limit=100)] == expected
    pages, after = [], ""
    while page := await alerts.queue(after=after, limit=3):
        pages.append([a.alert_id for a in page])
        after = f"{page[-1].priority}:{int(page[-1].received_at.timestamp() * 1000):015d}:{page[-1].alert_id}"
    assert pages == [expected[:3], expected[3:6], expected[6:]]
    # the offers read only the alerts some unit can reach, in the same order
    assert [d["_id"] for d in await alerts.waiting(limit=100)] == [a for a in expected if "far" not in a]
    assert [d["_id"] for d in await alerts.waiting(limit=1)] == ["p1-old"]  # the first
    assert [d["_id"] for d in await alerts.waiting(after="3:", limit=5)] == ["p3-oldest"]  # the last


async def test_alerts_since_a_time_come_newest_first_in_pages_across_equal_times(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    await ensure_indexes(db, INDEXES)
    stored, kept = AlertStore(db), InMemoryAlerts()
    closed = _waiting("closed-5", 2, 5)
    closed.state = "closed"
    for alert in (_waiting("a-30", 2, 30), _waiting("tie-b", 2, 10), _waiting("older", 1, 61), _waiting("tie-a", 1, 10),
                  _waiting("edge-60", 2, 60), _waiting("tie-c", 3, 10), closed, _waiting("new-1", 2, 1)):
        await stored.insert_new(alert)
        await kept.insert_new(alert)
    since = NOW - timedelta(minutes=60)  # the first of the hour is in, a minute before it is not
    expected = ["new-1", "closed-5", "tie-c", "tie-b", "tie-a", "a-30", "edge-60"]
    for alerts in (stored, kept):
        assert [a.alert_id for a in await alerts.find(state=None, unit_id=None, limit=100, since=since)] == expected
        pages, before = [], None
        for _ in range(len(expected)):  # bounded: a page that does not move on must not loop for ever
            if not (page := await alerts.find(state=None, unit_id=None, limit=2, since=since, before=before)):
                break
            pages.append([a.alert_id for a in page])
            before = (page[-1].received_at, page[-1].alert_id)
        assert pages == [expected[:2], expected[2:4], expected[4:6], expected[6:]]  # "tie-b | tie-a" split a tie
        unassigned = await alerts.find(state="unassigned", unit_id=None, limit=100, since=since)
        assert "closed-5" not in [a.alert_id for a in unassigned]


async def test_alerts_stored_before_the_queue_are_keyed_once_at_start_up(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    await db.alerts.create_indexes([IndexModel([("waiting_ms", ASCENDING)])])  # as a version before the queue
    alerts = AlertStore(db)
    old = _waiting("old", 1, 5)
    await alerts.insert_new(old)
    await db.alerts.update_one({"_id": "old"}, {"$unset": {"waiting_key": ""}, "$set": {"waiting_ms": 1}})
    assert await alerts.queue(limit=10) == []
    assert await alerts.key_waiting() == 1
    await ensure_indexes(db, INDEXES)
    assert [a.alert_id for a in await alerts.queue(limit=10)] == ["old"]
    assert await alerts.key_waiting() == 0  # the index is there: nothing looked for again


class _Counting:
    """The alerts collection, counting the reads (find, find_one, distinct) made through it."""

    def __init__(self, collection) -> None:
        self._collection = collection
        self.reads = 0

    def __getattr__(self, name):
        if name in ("find", "find_one", "distinct", "aggregate", "count_documents"):
            self.reads += 1
        return getattr(self._collection, name)


async def _full_grid_and_a_queue(svc, nc) -> None:
    """Four units of one place each, all taken; then five alerts in G1's zone wait at the duty desk."""
    await svc.http.put("/v1/grid", json=row_grid((1, 1, 1, 1)))
    for i in range(4):
        await publish(nc, ALERTS_RECEIVED, alert_body(f"held-{i + 1}", *centre(i)), f"held-{i + 1}")
    queue = [("p2-old", 2, "07:00"), ("p1-new", 1, "08:10"), ("p1-old", 1, "08:05"), ("p3-oldest", 3, "06:00"),
             ("p1-newest", 1, "08:12")]
    for alert_id, priority, at in queue:
        body = alert_body(alert_id, *centre(0), priority=priority, received_at=f"2026-11-23T{at}:00+08:00")
        await publish(nc, ALERTS_RECEIVED, body, alert_id)

    async def all_in() -> bool:
        listed = (await svc.http.get("/v1/alerts", params={"state": "unassigned"})).json()
        return len(listed) == len(queue)

    await eventually(all_in)


async def _state(http, alert_id: str) -> tuple[str, str | None]:
    body = (await http.get(f"/v1/alerts/{alert_id}")).json()
    return body["state"], body["unit_id"]


async def test_a_freed_place_goes_to_the_most_urgent_oldest_alert_at_once(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await _full_grid_and_a_queue(svc, nc)
        listed = (await svc.http.get("/v1/alerts", params={"state": "unassigned"})).json()
        assert [a["alert_id"] for a in listed] == ["p1-old", "p1-new", "p1-newest", "p2-old", "p3-oldest"]
        # G1 closes its alert: its place goes to the first in the queue, without waiting for a sweep
        assert (await svc.http.post("/v1/alerts/held-1/close", json={**CLOSE, "unit_id": "G1"})).status_code == 200
        assert await eventually(lambda: _is(svc.http, "p1-old", ("assigned", "G1")))
        # G4 is ~3 km from the queue's alerts, within reach: its place goes to the next one
        assert (await svc.http.post("/v1/alerts/held-4/close", json={**CLOSE, "unit_id": "G4"})).status_code == 200
        assert await eventually(lambda: _is(svc.http, "p1-new", ("assigned", "G4")))
        listed = (await svc.http.get("/v1/alerts", params={"state": "unassigned"})).json()
        assert [a["alert_id"] for a in listed] == ["p1-newest", "p2-old", "p3-oldest"]  # the last stays last


async def _is(http, alert_id: str, expected: tuple[str, str | None]) -> bool:
    return await _state(http, alert_id) == expected


async def test_nothing_is_read_while_no_unit_has_room_and_no_more_than_it_has(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        d = svc.parts.context
        await _full_grid_and_a_queue(svc, nc)
        d.view.on_freed = lambda: None  # this test offers by hand
        counting = _Counting(d.alerts.collection)
        d.alerts.collection = counting
        assert d.view.room() == 0
        assert await offer_waiting(d.placement) == (0, "")
        assert await DutyDesk(d.placement).sweep() == 0
        assert counting.reads == 0

        d.alerts.collection = counting._collection
        assert (await svc.http.post("/v1/alerts/held-2/close", json={**CLOSE, "unit_id": "G2"})).status_code == 200
        assert d.view.room() == 1
        placed, last = await offer_waiting(d.placement)  # one place: one alert read (see the unit tests)
        assert placed == 1 and last.endswith(":p1-old")
        assert await _state(svc.http, "p1-old") == ("assigned", "G2")
        d.alerts.collection = counting
        assert await offer_waiting(d.placement) == (0, "") and counting.reads == 0


async def test_the_queue_is_listed_a_page_at_a_time(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await _full_grid_and_a_queue(svc, nc)
        first = await svc.http.get("/v1/alerts", params={"state": "unassigned", "limit": 2})
        assert [a["alert_id"] for a in first.json()] == ["p1-old", "p1-new"]
        assert first.headers["link"].endswith('>; rel="next"')
        following = first.headers["link"][1:].split(">;")[0]
        second = await svc.http.get(following)
        assert [a["alert_id"] for a in second.json()] == ["p1-newest", "p2-old"]
        third = await svc.http.get(second.headers["link"][1:].split(">;")[0])
        assert [a["alert_id"] for a in third.json()] == ["p3-oldest"] and "link" not in third.headers
        too_long = await svc.http.get("/v1/alerts", params={"state": "unassigned", "after": "x" * 121})
        assert too_long.status_code == 422


async def test_alerts_since_a_time_are_listed_a_page_at_a_time_and_a_bad_place_is_a_422(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await _full_grid_and_a_queue(svc, nc)  # held-1..4 at 08:15, the queue from 06:00 to 08:12 (+08:00)
        since = {"since": "2026-11-23T08:05:00"}  # the station's time when it names no offset; 08:05 itself is in
        pages, params = [], {**since, "limit": 2}
        response = await svc.http.get("/v1/alerts", params=params)
        for _ in range(6):
            assert response.status_code == 200, response.text
            pages.append([a["alert_id"] for a in response.json()])
            if "link" not in response.headers:
                break
            response = await svc.http.get(response.headers["link"][1:].split(">;")[0])
        assert pages == [["held-4", "held-3"], ["held-2", "held-1"], ["p1-newest", "p1-new"], ["p1-old"]]
        closed_too = await svc.http.get("/v1/alerts", params={"since": "2026-11-23T08:12:00+08:00", "limit": 500})
        assert len(closed_too.json()) == 5 and "link" not in closed_too.headers
        for name, value in (("since", "0001-01-01T00:00:00"), ("since", "2100-01-01T00:00:00Z"),
                            ("before", "yesterday|held-1"), ("before", "0001-01-01T00:00:00+08:00|held-1"),
                            ("before", "2026-11-23T00:15:00|held-1"), ("before", "2026-11-23T00:15:00+00:00|no id!")):
            bad = await svc.http.get("/v1/alerts", params={**since, name: value})
            assert bad.status_code == 422 and name in bad.text, (name, value, bad.text)


async def test_a_new_grid_brings_alerts_beyond_reach_within_reach_and_places_them(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW), overflow_radius_m=3000) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        far = (118.997, 25.205)  # ~6 km east of G4's post, beyond the 3 km radius
        await publish(nc, ALERTS_RECEIVED, alert_body("far", *far), "far")

        async def stored() -> dict | None:
            response = await svc.http.get("/v1/alerts/far")
            return response.json() if response.status_code == 200 else None

        assert (await eventually(stored))["beyond_reach"]
        wider = row_grid((1, 1, 1, 1, 1, 1, 1, 1, 1, 1))  # G10's zone holds the point
        assert (await svc.http.put("/v1/grid", json=wider)).status_code == 200
        assert await eventually(lambda: _is(svc.http, "far", ("assigned", "G10")))
