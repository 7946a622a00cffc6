"""notify's callbacks on the real nats-server and nx-27017, on a fake clock the test moves."""

from __future__ import annotations

import pytest

from common.clock import FakeClock
from notify import handlers
from notify.domain import callback_id_for
from tests.support import eventually, publish
from tests.unit.notify.station_time import sh

pytestmark = pytest.mark.integration

CASE = "A2026-0042"
P1 = {"party_id": "p1", "name": "王某", "phone": "13800138001", "role": "victim"}
P2 = {"party_id": "p2", "name": "李某", "phone": "13800138002", "role": "suspect"}
NO_PHONE = {"party_id": "p3", "name": "张某", "role": "witness"}
ACCEPTED = {"case_id": CASE, "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00",
            "officer_id": "P1001", "unit_id": "G1", "parties": [P1, P2]}
SOLVED = {"case_id": CASE, "solved_at": "2026-11-22T15:00:00+08:00", "parties": [P1, P2]}


def cb(party: str, rule: str = "unsolved_7d", case_id: str = CASE) -> str:
    return callback_id_for(case_id, party, rule)


async def listed(http, **params) -> list[dict]:
    return (await http.get("/v1/callbacks", params=params)).json()


async def test_accepted_then_solved_schedules_supersedes_and_sends_inside_the_hours(
    run_service, published, gateway, nc
) -> None:
    clock = FakeClock(sh(2026, 11, 20, 10, 0, 1))
    async with run_service("notify", clock) as svc:
        await publish(nc, "cases.accepted", ACCEPTED, CASE)
        await publish(nc, "cases.accepted", ACCEPTED, f"{CASE}-resent")  # a resend under a new msg id
        found = await eventually(lambda: _count(svc.http, 2, case_id=CASE), timeout=15)
        assert {(c["party_id"], c["rule"], c["state"]) for c in found} == {
            ("p1", "unsolved_7d", "scheduled"), ("p2", "unsolved_7d", "scheduled")}
        assert {c["due_at"] for c in found} == {"2026-11-28T00:00:00+08:00"}
        assert {c["due_shown"] for c in found} == {"2026-11-27 23:59:59"}
        assert {c["phone"] for c in found} == {"138****8001", "138****8002"}  # masked in a list

        n = svc.parts.context
        assert await handlers.sweep(n) == 2
        sends = await eventually(lambda: _on(published, "sms.send", 2), timeout=10)
        assert sorted(s.msg_id for s in sends) == sorted([f"{cb('p1')}.1", f"{cb('p2')}.1"])
        await gateway(sends[0].data, "delivered")
        await eventually(lambda: _state(svc.http, sends[0].data["ref"], "delivered"), timeout=10)
        one = (await svc.http.get(f"/v1/callbacks/{sends[0].data['ref']}")).json()
        # whole, one by one, for a role that acts on cases
        assert one["phone"] == sends[0].data["phone"] and one["state"] == "delivered"

        clock.set(sh(2026, 11, 22, 15, 0, 5))
        await publish(nc, "cases.solved", SOLVED, f"{CASE}-solved")
        found = await eventually(lambda: _count(svc.http, 4, case_id=CASE), timeout=15)
        states = {(c["party_id"], c["rule"]): c["state"] for c in found}
        assert states == {("p1", "unsolved_7d"): "superseded", ("p2", "unsolved_7d"): "superseded",
                          ("p1", "solved_3d"): "scheduled", ("p2", "solved_3d"): "scheduled"}
        assert {c["due_at"] for c in found if c["rule"] == "solved_3d"} == {"2026-11-26T00:00:00+08:00"}
        refused = await svc.http.post(f"/v1/callbacks/{cb('p1')}/complete",
                                      json={"channel": "phone", "reached": True, "by": "P1001"})
        assert refused.status_code == 409 and "superseded by" in refused.json()["detail"]

    scheduled = await published("callbacks.scheduled")
    assert sorted(e.msg_id for e in scheduled) == sorted(
        f"{cb(p, r)}/scheduled/1" for p in ("p1", "p2") for r in ("unsolved_7d", "solved_3d"))
    assert len(await published("callbacks.superseded")) == 2


async def test_the_overdue_path_end_to_end(run_service, published, nc) -> None:
    clock = FakeClock(sh(2026, 11, 20, 10, 0, 1))
    async with run_service("notify", clock) as svc:
        await publish(nc, "cases.accepted", {**ACCEPTED, "parties": [NO_PHONE]}, CASE)
        [manual] = await eventually(lambda: _count(svc.http, 1, state="manual"), timeout=15)
        assert manual["manual_reason"] == "the party has no phone number"
        today = (await svc.http.get("/v1/callbacks/today", params={"officer_id": "P1001"})).json()
        assert [c["callback_id"] for c in today] == [cb("p3")]

        clock.set(sh(2026, 11, 28, 0, 0))
        n = svc.parts.context
        assert await handlers.sweep(n) == 1
        assert await handlers.sweep(n) == 0
        [task] = await listed(svc.http, state="overdue")  # station leadership's list
        assert task["callback_id"] == cb("p3") and task["overdue"] is True

        clock.set(sh(2026, 11, 28, 9, 0))
        done = await svc.http.post(f"/v1/callbacks/{cb('p3')}/complete",
                                   json={"channel": "visit", "reached": True, "opinion": "满意", "by": "P1001"})
        assert (done.status_code, done.json()["late"]) == (200, True)
        again = await svc.http.post(f"/v1/callbacks/{cb('p3')}/complete",
                                    json={"channel": "visit", "reached": True, "by": "P1001"})
        assert again.status_code == 409 and "already done" in again.json()["detail"]
        assert (await svc.http.post("/v1/callbacks/cb-nope/complete",
                                    json={"channel": "visit", "reached": True, "by": "P1"})).status_code == 404
        figures = (await svc.http.get("/v1/callbacks/figures", params={"week": "2026-W48", "by": "officer"})).json()
        assert figures["rows"] == [{"key": "P1001", "done_in_time": 0, "done_late": 1, "overdue": 1, "satisfied": 0,
                                       "basically": 0, "dissatisfied": 0, "objections_opened": 0,
                                       "objections_explained": 0, "objections_escalated": 0, "rated": 0,
                                       "satisfaction_rate": None}]
        assert (await svc.http.get("/v1/callbacks/figures", params={"week": "2026-48"})).status_code == 422

    [overdue] = await published("callbacks.overdue")
    told = (overdue.data["callback_id"], overdue.data["officer_id"], overdue.data["unit_id"])
    assert told == (cb("p3"), "P1001", "G1")
    assert [e.data["late"] for e in await published("callbacks.completed")] == [True]
    assert len(await published("callbacks.manual")) == 1


async def test_a_malformed_case_event_goes_to_the_dead_letters_with_the_reason(run_service, published, nc) -> None:
    async with run_service("notify", FakeClock(sh(2026, 11, 20, 10, 0))):
        await publish(nc, "cases.accepted", {**ACCEPTED, "accepted_at": "2026-11-20T10:00:00"}, "bad-1")
        await publish(nc, "cases.solved", {"case_id": "x y", "solved_at": "2026-11-22T15:00:00+08:00",
                                           "parties": [P1]}, "bad-2")
        letters = await eventually(lambda: _on(published, "deadletter.cases.>", 2), timeout=15)
    reasons = {e.data["original_subject"]: e.data for e in letters}
    assert reasons["cases.accepted"]["reason"] == "invalid payload"
    assert reasons["cases.accepted"]["errors"][0]["loc"] == "accepted_at"
    assert reasons["cases.solved"]["errors"][0]["loc"] == "case_id"


async def _count(http, n: int, **params) -> list[dict] | None:
    found = await listed(http, **params)
    return found if len(found) == n else None


async def _on(published, subject: str, n: int):
    found = await published(subject)
    return found if len(found) >= n else None


async def _state(http, callback_id: str, state: str) -> bool:
    return (await http.get(f"/v1/callbacks/{callback_id}")).json()["state"] == state


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"parties": [{**P1, "party_id": f"p{i}"} for i in range(51)]}, "parties"),
        ({"parties": []}, "parties"),
        ({"officer_id": "P" * 100_000}, "officer_id"),
        ({"officer_id": "民警 张三"}, "officer_id"),
        ({"accepted_at": "0001-01-01T00:00:00+00:00"}, "accepted_at"),
        ({"accepted_at": "9999-12-31T23:59:59+00:00"}, "accepted_at"),
        ({"parties": [{**P1, "name": "名" * 61}]}, "parties.0.name"),
    ],
)
async def test_an_event_out_of_bounds_is_dead_lettered_at_the_first_delivery_naming_the_field(
        run_service, published, nc, change, field) -> None:
    async with run_service("notify", FakeClock(sh(2026, 11, 20, 10, 0))) as svc:
        await publish(nc, "cases.accepted", {**ACCEPTED, "case_id": "A-BOUNDS", **change}, "bounds-1")
        [letter] = await eventually(lambda: _on(published, "deadletter.cases.accepted", 1), timeout=15)
        assert await listed(svc.http, case_id="A-BOUNDS") == []
    assert (letter.data["reason"], letter.data["deliveries"]) == ("invalid payload", 1)
    assert letter.data["errors"][0]["loc"] == field
