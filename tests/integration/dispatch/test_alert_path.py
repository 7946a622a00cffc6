"""The alert path against a real nats-server and nx-27017: publish -> placed, acknowledged, closed."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED, deadletter_subject
from dispatch import handlers
from dispatch.domain.alerts import Alert
from dispatch.domain.assignment import Candidate
from dispatch.handlers.units import _sync_units
from dispatch.placement.places import PlaceChange
from dispatch.placement.sweep import HANDOVERS_PER_TICK, UnitSweep
from tests.support import Recorder, alert_body, centre, eventually, handled, metric, publish, row_grid

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
TAKEN = "fengqiao_dispatch_places_found_taken_total"


async def _alert(http, alert_id: str) -> dict:
    response = await http.get(f"/v1/alerts/{alert_id}")
    return response.json() if response.status_code == 200 else {}


async def _placed(http, alert_id: str) -> dict:
    return await eventually(lambda: _placed_now(http, alert_id))


async def _assigned(http, alert_id: str) -> dict | None:
    body = await _alert(http, alert_id)
    return body if body.get("state") == "assigned" else None


async def _placed_now(http, alert_id: str) -> dict | None:
    body = await _alert(http, alert_id)
    return body if body.get("state") in ("assigned", "unassigned", "acknowledged") else None


async def test_published_alert_is_assigned_to_its_zone_unit(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.>")
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        assert (await svc.http.put("/v1/grid", json=row_grid())).status_code == 200
        lon, lat = centre(1)
        await publish(nc, ALERTS_RECEIVED, alert_body("110-A", lon + 0.001, lat), "110-A")
        alert = await _placed(svc.http, "110-A")
        assert (alert["state"], alert["unit_id"], alert["reason"]) == ("assigned", "G2", "zone")
        assert 90 < alert["distance_m"] < 110  # 0.001° of longitude at 25.2° N is ~100 m
        assert alert["ack_due_at"] == "2026-11-23T08:16:00+08:00"  # shown in the station's zone
        assigned = await eventually(lambda: events.on("alerts.assigned", alert_id="110-A"))
        assert assigned[0]["officers"] == ["P200", "P201", "P202"]
        unit = (await svc.http.get("/v1/units/G2")).json()
        assert (unit["load"], unit["capacity"]) == (1, 1)


async def test_full_zone_unit_sends_the_alert_to_the_nearest_free_one(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        lon, lat = centre(1)
        await publish(nc, ALERTS_RECEIVED, alert_body("110-1", lon, lat), "110-1")
        await _placed(svc.http, "110-1")
        # east of centre: G3's post is nearer than G1's
        await publish(nc, ALERTS_RECEIVED, alert_body("110-2", lon + 0.002, lat), "110-2")
        second = await _placed(svc.http, "110-2")
        assert (second["unit_id"], second["reason"]) == ("G3", "nearest")


async def test_no_unit_in_radius_goes_to_the_duty_desk_and_is_placed_later(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW), overflow_radius_m=3000) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("far", 119.5, 25.5), "far")
        far = await _placed(svc.http, "far")
        assert (far["state"], far["unit_id"], far["reason"], far["flagged"]) == ("unassigned", None, "overflow", True)
        # all four units busy, an alert inside G1 waits at the duty desk too
        for unit in ("G1", "G2", "G3", "G4"):
            await svc.http.put(f"/v1/units/{unit}/status", json={"status": "busy"})
        await publish(nc, ALERTS_RECEIVED, alert_body("wait", *centre(0)), "wait")
        assert (await _placed(svc.http, "wait"))["state"] == "unassigned"
        assert far["beyond_reach"] and not (await _alert(svc.http, "wait"))["beyond_reach"]
        # G1 available again: the duty desk offers its place at once, to the alert it can reach
        await svc.http.put("/v1/units/G1/status", json={"status": "available"})
        placed = await eventually(lambda: _assigned(svc.http, "wait"))
        assert (placed["state"], placed["unit_id"], placed["flagged"]) == ("assigned", "G1", True)
        assert (await _alert(svc.http, "far"))["state"] == "unassigned"


async def test_no_ack_in_time_reassigns_to_the_next_best_unit(run_service, nc) -> None:
    clock = FakeClock(NOW)
    events = await Recorder().start(nc, "alerts.>")
    async with run_service("dispatch", clock, ack_timeout_s=60) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("slow", centre(1)[0] + 0.001, centre(1)[1]), "slow")
        await _placed(svc.http, "slow")
        clock.advance(seconds=59)
        assert await handlers.sweep_ack_timeouts(d) == 0
        clock.advance(seconds=2)
        assert await handlers.sweep_ack_timeouts(d) == 1
        alert = await _alert(svc.http, "slow")
        assert (alert["unit_id"], alert["reason"]) == ("G3", "nearest")
        assert [(h["unit_id"], h["end"]) for h in alert["history"]] == [("G2", "ack_timeout"), ("G3", None)]
        units = {u["unit_id"]: u["load"] for u in (await svc.http.get("/v1/units")).json()}
        assert units == {"G1": 0, "G2": 0, "G3": 1, "G4": 0}
        released = await eventually(lambda: events.on("alerts.released", alert_id="slow"))
        assert released[0]["why"] == "ack_timeout"
        assert [e["attempt"] for e in events.on("alerts.assigned", alert_id="slow")] == [1, 2]
        # acknowledged in time, it stays
        assert (await svc.http.post("/v1/alerts/slow/ack", json={"unit_id": "G3"})).status_code == 200
        clock.advance(minutes=10)
        assert await handlers.sweep_ack_timeouts(d) == 0
        assert (await _alert(svc.http, "slow"))["state"] == "acknowledged"


async def test_a_unit_going_off_duty_hands_its_unacknowledged_alerts_on(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("x", *centre(3)), "x")
        assert (await _placed(svc.http, "x"))["unit_id"] == "G4"
        await svc.http.put("/v1/units/G4/status", json={"status": "off_duty"})
        moved = await _alert(svc.http, "x")
        assert (moved["unit_id"], moved["history"][0]["end"]) == ("G3", "unit_unavailable")


async def test_close_needs_the_holder_and_the_three_signatures(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.closed")
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("c1", *centre(0)), "c1")
        await _placed(svc.http, "c1")
        close = {"unit_id": "G1", "officer_id": "P100", "disposition": "resolved_on_scene", "note": "双方和解",
                 "signatures": {"party": "王某", "officer": "P100"}}
        refused = await svc.http.post("/v1/alerts/c1/close", json=close)
        assert refused.status_code == 409 and "witness" in refused.json()["detail"]
        wrong_unit = await svc.http.post("/v1/alerts/c1/close", json={**close, "unit_id": "G2"})
        assert wrong_unit.status_code == 409
        close["signatures"]["witness"] = "李某"
        close["parties"] = [{"party_id": "p1", "name": "王某", "phone": "13800138001", "role": "caller"}]
        closed = await svc.http.post("/v1/alerts/c1/close", json=close)
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        fact = (await eventually(lambda: events.on("alerts.closed", alert_id="c1")))[0]
        assert fact["caller_phone"] == "13800138000"
        assert fact["officers"] == ["P100", "P101", "P102"]
        assert fact["parties"][0]["phone"] == "13800138001"
        assert fact["signatures"]["witness"] == "李某"
        assert (await svc.http.get("/v1/units/G1")).json()["load"] == 0
        # closing again the same way is harmless
        assert (await svc.http.post("/v1/alerts/c1/close", json=close)).status_code == 200
        assert len(events.on("alerts.closed", alert_id="c1")) == 1


async def test_duplicates_are_placed_once(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.assigned")
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid((2, 2, 2, 2)))
        body = alert_body("dup", *centre(2))
        before = await _acked(svc)
        for msg_id in ("dup", "dup", "dup-resent-1", "dup-resent-2"):
            await publish(nc, ALERTS_RECEIVED, body, msg_id)
        await _placed(svc.http, "dup")
        await eventually(lambda: len(events.on("alerts.assigned", alert_id="dup")) >= 1)
        # the broker drops the repeated msg id; three deliveries are handled. A duplicate in hand
        # keeps a place for the few milliseconds of its write: the next alert comes after them
        await eventually(lambda: _acked_more_than(svc, before + 2))
        await publish(nc, ALERTS_RECEIVED, alert_body("after", *centre(2)), "after")
        await _placed(svc.http, "after")
        assert (await svc.http.get("/v1/units/G3")).json()["load"] == 2
        assert {e["unit_id"] for e in events.on("alerts.assigned", alert_id="dup")} == {"G3"}


def _crash_once(d, *, stored: bool) -> list[str]:
    """The first insert of an alert fails as if the process died, after its write landed or before."""
    real_add = d.alerts.add
    crashes: list[str] = []

    async def add(alert, events):
        if crashes:
            return await real_add(alert, events)
        crashes.append(alert.alert_id)
        if stored:
            await real_add(alert, events)  # stored, and its place taken: the one write landed
        raise ConnectionResetError("the process died before publishing the placement")

    d.alerts.add = add
    return crashes


async def test_a_crash_mid_message_does_not_double_assign(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.assigned")
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid((2, 2, 2, 2)))
        crashes = _crash_once(svc.parts.context, stored=True)
        await publish(nc, ALERTS_RECEIVED, alert_body("crash", *centre(0)), "crash")
        told = await eventually(lambda: events.on("alerts.assigned", alert_id="crash"))
        alert = await _placed(svc.http, "crash")
        assert crashes == ["crash"]
        assert alert["unit_id"] == "G1" and len(alert["history"]) == 1
        assert [(e["unit_id"], e["attempt"]) for e in told] == [("G1", 1)]
        assert (await svc.http.get("/v1/units/G1")).json()["load"] == 1


async def test_a_crash_before_the_write_lands_leaves_nothing_behind(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid((1, 1, 1, 1)))
        crashes = _crash_once(svc.parts.context, stored=False)
        await publish(nc, ALERTS_RECEIVED, alert_body("lost-write", *centre(0)), "lost-write")
        alert = await _placed(svc.http, "lost-write")
        assert crashes == ["lost-write"]
        # the place it was about to take is not left reserved: the redelivery takes it
        assert (alert["unit_id"], len(alert["history"])) == ("G1", 1)
        assert [(await svc.http.get(f"/v1/units/{u}")).json()["load"] for u in ("G1", "G2")] == [1, 0]


async def test_a_malformed_event_is_deadlettered_and_the_consumer_goes_on(run_service, nc) -> None:
    letters = await Recorder().start(nc, deadletter_subject(ALERTS_RECEIVED))
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, b'{"alert_id": "bad", "category": "dispute"}', "bad")
        await publish(nc, ALERTS_RECEIVED, alert_body("bad-lat", 118.9, 95.0), "bad-lat")
        await publish(nc, ALERTS_RECEIVED, alert_body("good", *centre(0)), "good")
        assert (await _placed(svc.http, "good"))["unit_id"] == "G1"
        await eventually(lambda: len(letters.messages) == 2)
        reasons = {b["msg_id"]: b for _, b, _ in letters.messages}
        assert reasons["bad-lat"]["errors"][0]["loc"] == "location.lat"
        assert {e["loc"] for e in reasons["bad"]["errors"]} == {"received_at", "location"}
        assert (await svc.http.get("/v1/alerts/bad")).status_code == 404


async def test_restart_keeps_alerts_units_and_timers(run_service, nc, db_name) -> None:
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, db=db_name) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("keep", *centre(0)), "keep")
        await _placed(svc.http, "keep")
    clock.advance(minutes=5)
    async with run_service("dispatch", clock, db=db_name) as again:
        d = again.parts.context
        assert (await _alert(again.http, "keep"))["unit_id"] == "G1"
        assert await handlers.sweep_ack_timeouts(d) == 1
        assert (await _alert(again.http, "keep"))["unit_id"] == "G2"
        assert [u["load"] for u in (await again.http.get("/v1/units")).json()] == [0, 1, 0, 0]


async def test_weekly_statistics_per_unit(run_service, nc) -> None:
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock) as svc:
        await svc.http.put("/v1/grid", json=row_grid((3, 3, 3, 3)))
        for i in range(3):
            await publish(nc, ALERTS_RECEIVED, alert_body(f"s{i}", *centre(0)), f"s{i}")
            await _placed(svc.http, f"s{i}")
        clock.advance(seconds=30)
        await svc.http.post("/v1/alerts/s0/ack", json={"unit_id": "G1"})
        stats = (await svc.http.get("/v1/stats", params={"week": "2026-W48"})).json()
        (g1,) = [row for row in stats["units"] if row["unit_id"] == "G1"]
        assert g1["count"] == 3 and g1["week"] == "2026-W48"
        assert stats["clusters"][0]["count"] == 3
        assert (await svc.http.get("/v1/stats", params={"week": "48"})).status_code == 422


async def test_a_duplicate_of_a_closed_alert_takes_no_place(run_service, nc) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        await svc.http.put("/v1/grid", json=row_grid())
        await publish(nc, ALERTS_RECEIVED, alert_body("done", *centre(0)), "done")
        await _placed(svc.http, "done")
        close = {"unit_id": "G1", "officer_id": "P100", "disposition": "no_action"}
        assert (await svc.http.post("/v1/alerts/done/close", json=close)).status_code == 200
        before = await _acked(svc)  # the counters are the process's: count from here
        await publish(nc, ALERTS_RECEIVED, alert_body("done", *centre(0)), "done-sent-again-later")
        await eventually(lambda: _acked_more_than(svc, before))
        assert (await svc.http.get("/v1/units/G1")).json()["load"] == 0
        assert (await _alert(svc.http, "done"))["state"] == "closed"


async def _acked(svc) -> float:
    return await handled(svc.http, "dispatch-alerts-received", "acked")


async def _acked_more_than(svc, before: float) -> bool:
    return await _acked(svc) > before


def _held(alert_id: str, unit_id: str, place: int) -> Alert:
    """An alert as another replica would have placed it."""
    lon, lat = centre(int(unit_id[1:]) - 1)  # in the unit's zone
    alert = Alert.receive(alert_id=alert_id, received_at=NOW, category="dispute", priority=2, lon=lon, lat=lat,
                          address=None, caller_phone=None, summary="", source="110")
    alert.assign(Candidate(unit_id, "zone", 10.0), NOW, timedelta(seconds=60), place)
    return alert


async def test_the_unit_sweep_heals_the_view_a_slice_at_a_time(run_service, nc) -> None:
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, view_refresh_s=2, places_refresh_s=2) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid((2, 2, 2, 2)))
        sweep = UnitSweep(d.placement, tick_s=1.0)  # 4 units in 2 s: two per tick
        # what this replica missed: places another replica took while we were disconnected
        await d.alerts.insert_new(_held("from-elsewhere-1", "G1", 1))
        await d.alerts.insert_new(_held("from-elsewhere-4", "G4", 0))
        assert (d.view.loads.get("G1", 0), d.view.loads.get("G4", 0)) == (0, 0)
        await sweep.tick()  # G1, G2
        assert (d.view.loads.get("G1", 0), d.view.loads.get("G4", 0)) == (1, 0)
        await sweep.tick()  # G3, G4
        assert d.view.loads.get("G4", 0) == 1
        closing = {"unit_id": "G4", "officer_id": "P400", "disposition": "no_action"}
        d.view.heard(PlaceChange("G1", 0, taken=True))  # an announcement of a place that was given back, missed
        assert (await svc.http.post("/v1/alerts/from-elsewhere-4/close", json=closing)).status_code == 200
        await sweep.tick()  # a new round
        await sweep.tick()
        assert (d.view.loads.get("G1", 0), d.view.loads.get("G4", 0)) == (1, 0)
        assert d.view.places.held("G1") == {1}


@contextlib.asynccontextmanager
async def _sweeping(run_service, capacities: tuple[int, ...]):
    """A dispatch on a row grid, and a unit sweep that takes a whole round each tick."""
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, view_refresh_s=1, places_refresh_s=1) as svc:
        await svc.http.put("/v1/grid", json=row_grid(capacities))
        yield svc, clock, UnitSweep(svc.parts.context.placement, tick_s=1.0)


async def test_the_unit_sweep_hands_on_alerts_placed_with_a_unit_gone_off_duty(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.>")
    async with _sweeping(run_service, (12, 12, 2, 2)) as (svc, clock, sweep):
        d = svc.parts.context
        stranded = HANDOVERS_PER_TICK + 3
        # G1 went off duty while another replica, its view not yet told, placed alerts there
        await d.unit_work.act("G1", lambda unit: unit.set_status("off_duty", NOW))  # stored, no view told
        for k in range(stranded):
            await d.alerts.insert_new(_held(f"stranded-{k}", "G1", k))
        acked = _held("acked", "G1", stranded)
        acked.acknowledge("G1", NOW)
        await d.alerts.insert_new(acked)
        assert await sweep.tick() == HANDOVERS_PER_TICK
        assert await sweep.tick() == 3  # the rest when the unit comes round again
        assert await sweep.tick() == 0
        for k in range(stranded):
            alert = await _alert(svc.http, f"stranded-{k}")
            assert (alert["state"], alert["unit_id"]) == ("assigned", "G2")
        assert (await _alert(svc.http, "acked"))["unit_id"] == "G1"  # an officer is on it: it stays
        assert (await svc.http.get("/v1/units/G1")).json()["load"] == 1
        released = await eventually(lambda: len(events.on("alerts.released")) == stranded or None)
        assert released
        assert {e["why"] for e in events.on("alerts.released")} == {"unit_unavailable"}


async def test_the_unit_sweep_picks_up_a_grid_replaced_by_another_replica(run_service, nc) -> None:
    from dispatch.domain.grid import parse_grid

    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, view_refresh_s=1) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid((1, 1, 1, 1)))
        sweep = UnitSweep(d.placement, tick_s=1.0)
        await sweep.tick()  # a whole round in one tick
        bigger = row_grid((3, 3, 3, 3))
        # stored as another replica would, its announcement not heard here
        stored = await d.grids.get("current")
        stored.aggregate.replace(json.dumps(bigger), [], 4, clock.now())
        version = (await d.grids.save(stored, [])).aggregate.version
        await _sync_units(d, parse_grid(bigger).units, version)
        assert d.view.grid.get("G1").capacity == 1
        await sweep.tick()
        assert (d.view.version, d.view.grid.get("G1").capacity, d.view.states["G1"].capacity) == (version, 3, 3)


async def test_a_place_taken_behind_the_views_back_sends_the_alert_to_the_next_unit(run_service, nc) -> None:
    events = await Recorder().start(nc, "alerts.>")
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid())
        await d.alerts.insert_new(_held("taken-elsewhere", "G1", 0))  # this replica's view still shows G1 free
        assert d.view.loads.get("G1", 0) == 0
        taken_before = await metric(svc.http, TAKEN)
        await publish(nc, ALERTS_RECEIVED, alert_body("late-view", *centre(0)), "late-view")
        alert = await _placed(svc.http, "late-view")
        assert (alert["unit_id"], alert["reason"], len(alert["history"])) == ("G2", "nearest", 1)
        told = await eventually(lambda: events.on("alerts.assigned", alert_id="late-view"))
        assert [(e["unit_id"], e["attempt"]) for e in told] == [("G2", 1)]
        assert [(await svc.http.get(f"/v1/units/{u}")).json()["load"] for u in ("G1", "G2")] == [1, 1]
        assert await metric(svc.http, TAKEN) == taken_before + 1


async def test_a_place_taken_behind_the_views_back_gives_the_alert_another_place_of_its_zone_unit(
    run_service, nc
) -> None:
    async with run_service("dispatch", FakeClock(NOW)) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid((3, 3, 3, 3)))
        await d.alerts.insert_new(_held("taken-elsewhere", "G1", 0))
        await publish(nc, ALERTS_RECEIVED, alert_body("still-g1", *centre(0)), "still-g1")
        alert = await _placed(svc.http, "still-g1")
        assert (alert["unit_id"], alert["reason"]) == ("G1", "zone")
        assert d.view.places.held("G1") == {0, 1}
        assert (await svc.http.get("/v1/units/G1")).json()["load"] == 2


async def test_an_alert_ranked_while_a_status_change_is_being_stored_already_sees_it(run_service, nc) -> None:
    from common.contracts.alerts import AlertReceived

    async with run_service("dispatch", FakeClock(NOW)) as svc:
        d = svc.parts.context
        await svc.http.put("/v1/grid", json=row_grid((2, 2, 2, 2)))
        real_save = d.units.save

        async def save_while_an_alert_comes(stored, events):
            alert = AlertReceived.model_validate(alert_body("meanwhile", *centre(0)))
            await handlers.receive_alert(d, alert)  # placed while G1's new status is on its way to the store
            return await real_save(stored, events)

        d.units.save = save_while_an_alert_comes
        assert (await svc.http.put("/v1/units/G1/status", json={"status": "busy"})).status_code == 200
        assert (await _alert(svc.http, "meanwhile"))["unit_id"] == "G2"
        assert (await svc.http.put("/v1/units/G9/status", json={"status": "busy"})).status_code == 404
