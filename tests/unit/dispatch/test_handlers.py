"""dispatch's use cases on the in-memory stores, a fake publisher and a fake clock: no server, milliseconds.

The real paths (nats-server, nx-27017, two processes, crashes) are in tests/integration/dispatch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.alerts import AlertReceived
from common.errors import NotFound, Refused
from common.fakes import FakePublisher
from dispatch import handlers
from dispatch.bootstrap import wire_in_memory
from dispatch.placement.duty_desk import DutyDesk, offer_waiting
from dispatch.settings import DispatchSettings
from tests.support import alert_body, centre, row_grid

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
CLOSE = {"officer_id": "P100", "disposition": "no_action", "note": "", "signatures": {}, "parties": []}


async def _dispatch(capacities=(1, 1, 1, 1), **settings):
    clock, publisher = FakeClock(NOW), FakePublisher()
    d = wire_in_memory(DispatchSettings(environment="test", **settings), clock, publisher)
    parsed, version = await handlers.replace_grid(d, row_grid(capacities))
    assert parsed.ok and version == 1
    return d, clock, publisher


async def _receive(d, alert_id: str, unit: int = 0, **extra) -> None:
    await handlers.receive_alert(d, AlertReceived.model_validate(alert_body(alert_id, *centre(unit), **extra)))


async def test_an_alert_is_placed_with_its_zone_unit_and_told_once_even_when_delivered_again():
    d, _, publisher = await _dispatch()
    await _receive(d, "a1", unit=1)
    await _receive(d, "a1", unit=1)  # redelivered: the stored alert stands, its placement told again (same msg id)
    alert = await handlers.load(d, "a1")
    assert (alert.state, alert.unit_id, alert.reason, alert.place) == ("assigned", "G2", "zone", 0)
    (told,) = publisher.on("alerts.assigned")
    assert (told["unit_id"], told["attempt"], told["officers"]) == ("G2", 1, ["P200", "P201", "P202"])
    assert publisher.msg_ids[-1] == "a1/assigned/1"
    assert (await handlers.unit(d, "G2")).load == 1


async def test_a_full_grid_sends_alerts_to_the_duty_desk_and_a_freed_place_goes_to_the_most_urgent_oldest():
    d, _, publisher = await _dispatch()
    for i in range(4):
        await _receive(d, f"held-{i}", unit=i)
    for alert_id, priority, at in [("p2", 2, "07:00"), ("p1-new", 1, "08:10"), ("p1-old", 1, "08:05")]:
        await _receive(d, alert_id, priority=priority, received_at=f"2026-11-23T{at}:00+08:00")
    assert [e["alert_id"] for e in publisher.on("alerts.unassigned")] == ["p2", "p1-new", "p1-old"]
    page, following = await handlers.duty_desk_queue(d, after="", limit=2)
    assert [a.alert_id for a in page] == ["p1-old", "p1-new"] and following is not None
    assert [a.alert_id for a in (await handlers.duty_desk_queue(d, after=following, limit=2))[0]] == ["p2"]
    assert await offer_waiting(d.placement) == (0, "")  # no unit has room
    await handlers.close(d, "held-0", unit_id="G1", **CLOSE)
    placed, _ = await offer_waiting(d.placement)
    assert placed == 1 and (await handlers.load(d, "p1-old")).unit_id == "G1"
    assert publisher.msg_ids[-1] == "p1-old/assigned/2"  # the duty desk's turn was attempt 1
    assert (await handlers.load(d, "p1-new")).state == "unassigned"


async def test_acknowledge_and_close_are_told_in_order_and_refusals_name_the_reason():
    d, clock, publisher = await _dispatch()
    await _receive(d, "a1")
    with pytest.raises(Refused, match="cannot acknowledge"):
        await handlers.acknowledge(d, "a1", "G2")
    with pytest.raises(NotFound):
        await handlers.acknowledge(d, "nobody", "G1")
    clock.advance(seconds=30)
    assert (await handlers.acknowledge(d, "a1", "G1")).state == "acknowledged"
    assert (await handlers.acknowledge(d, "a1", "G1")).state == "acknowledged"  # again: nothing new told
    parties = [{"party_id": "p1", "name": "王某", "phone": "13800138001", "role": "caller"}]
    await handlers.close(d, "a1", unit_id="G1", **{**CLOSE, "parties": parties})
    assert publisher.msg_ids == ["grid/1", "a1/assigned/1", "a1/acknowledged", "a1/closed"]
    (acked,) = publisher.on("alerts.acknowledged")
    assert acked["seconds_to_ack"] == 30.0
    (closed,) = publisher.on("alerts.closed")
    assert closed["parties"][0]["phone"] == "13800138001" and closed["officers"] == ["P100", "P101", "P102"]
    assert (await handlers.unit(d, "G1")).load == 0


async def test_with_the_broker_away_commands_succeed_and_their_events_wait_in_order():
    d, clock, publisher = await _dispatch()
    await _receive(d, "a1")
    publisher.away = True
    await handlers.acknowledge(d, "a1", "G1")
    await handlers.close(d, "a1", unit_id="G1", **CLOSE)
    assert (await handlers.set_unit_status(d, "G3", "busy")).status == "busy"
    assert publisher.msg_ids == ["grid/1", "a1/assigned/1"]
    publisher.away = False
    later = datetime.now(UTC) + timedelta(minutes=1)  # the relay leaves a fresh outbox to its save a few seconds
    assert await d.uow.relay(now=later) == 2 and await d.unit_work.relay(now=later) == 1
    assert publisher.msg_ids[2:] == ["a1/acknowledged", "a1/closed", "G3/status/2"]


async def test_no_acknowledgement_in_time_hands_the_alert_to_the_next_best_unit():
    d, clock, publisher = await _dispatch(ack_timeout_s=60)
    await _receive(d, "slow", unit=1)
    clock.advance(seconds=59)
    assert await handlers.sweep_ack_timeouts(d) == 0
    clock.advance(seconds=2)
    assert await handlers.sweep_ack_timeouts(d) == 1
    alert = await handlers.load(d, "slow")
    assert (alert.unit_id, [(a.unit_id, a.end) for a in alert.assignments]) == (
        "G1", [("G2", "ack_timeout"), ("G1", None)])  # G1 and G3 are equally near: the first in id order
    assert publisher.msg_ids[-2:] == ["slow/released/1", "slow/assigned/2"]
    assert [(u.unit_id, u.load) for u in await handlers.units(d, include_retired=False)] == [
        ("G1", 1), ("G2", 0), ("G3", 0), ("G4", 0)]


async def test_a_unit_going_off_duty_hands_on_what_it_has_not_acknowledged_and_a_retired_unit_is_unknown():
    d, _, publisher = await _dispatch()
    await _receive(d, "x", unit=3)
    await handlers.set_unit_status(d, "G4", "off_duty")
    assert (await handlers.load(d, "x")).unit_id == "G3"
    assert [e["why"] for e in publisher.on("alerts.released")] == ["unit_unavailable"]
    await handlers.replace_grid(d, row_grid((1, 1, 1)))  # G4 leaves the grid
    with pytest.raises(NotFound):
        await handlers.set_unit_status(d, "G4", "available")
    assert [e["grid_version"] for e in publisher.on("grid.replaced")] == [1, 2]


async def test_nothing_is_read_from_the_queue_while_no_unit_has_room():
    d, _, _ = await _dispatch(capacities=(1,))
    await _receive(d, "held")
    for k in range(5):
        await _receive(d, f"w{k}")
    reads = []
    real_waiting = d.alerts.waiting

    async def waiting(**kwargs):
        page = await real_waiting(**kwargs)
        reads.extend(doc["_id"] for doc in page)
        return page

    d.alerts.waiting = waiting
    assert await offer_waiting(d.placement) == (0, "") and await DutyDesk(d.placement).sweep() == 0
    assert reads == []
    await handlers.close(d, "held", unit_id="G1", **CLOSE)
    assert (await offer_waiting(d.placement))[0] == 1 and reads == ["w0"]  # one place, one alert read
