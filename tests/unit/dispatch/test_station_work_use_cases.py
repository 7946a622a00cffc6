"""The station's own work as use cases, on the in-memory stores, a fake publisher and a fake clock."""

from __future__ import annotations

import pytest

from common.errors import Invalid, NotFound, Refused
from dispatch import handlers
from tests.unit.dispatch.test_handlers import CLOSE, _dispatch, _receive

ORDER = {"reason": "熟悉当事人", "by": "D001"}


async def test_an_order_respects_capacity_and_force_takes_the_one_place_beyond_once():
    d, _, publisher = await _dispatch()
    await _receive(d, "held", unit=0)
    await _receive(d, "other", unit=0)  # G1 full: placed with the nearest
    assert (await handlers.load(d, "other")).unit_id == "G2"
    with pytest.raises(Refused, match="force"):
        await handlers.assign(d, "other", unit_id="G1", **ORDER)
    ordered = await handlers.assign(d, "other", unit_id="G1", **ORDER, force=True)
    assert (ordered.unit_id, ordered.place, ordered.assignments[-1].forced) == ("G1", 1, True)
    assert [(u.unit_id, u.load) for u in await handlers.units(d, include_retired=False)][:2] == [("G1", 2), ("G2", 0)]
    told = publisher.on("alerts.assigned")[-1]
    assert (told["reason"], told["ordered_by"], told["forced"], told["previous_unit_id"], told["attempt"]) == (
        "ordered", "D001", True, "G2", 2)
    assert publisher.msg_ids[-1] == "other/assigned/2"
    await _receive(d, "third", unit=1)
    with pytest.raises(Refused, match="one beyond already"):
        await handlers.assign(d, "third", unit_id="G1", **ORDER, force=True)


async def test_a_forced_order_takes_a_free_place_first_and_is_then_not_forced():
    d, _, _ = await _dispatch((2, 1, 1, 1))
    await _receive(d, "a1", unit=1)
    ordered = await handlers.assign(d, "a1", unit_id="G1", **ORDER, force=True)
    assert (ordered.place, ordered.assignments[-1].forced) == (0, False)


async def test_an_order_names_a_unit_of_the_grid_on_duty_and_an_alert_that_exists():
    d, _, _ = await _dispatch()
    await _receive(d, "a1", unit=0)
    with pytest.raises(Invalid) as bad:
        await handlers.assign(d, "a1", unit_id="G9", **ORDER)
    assert bad.value.field == "unit_id"
    await handlers.set_unit_status(d, "G3", "off_duty")
    with pytest.raises(Refused, match="off duty"):
        await handlers.assign(d, "a1", unit_id="G3", **ORDER)
    with pytest.raises(NotFound):
        await handlers.assign(d, "nobody", unit_id="G2", **ORDER)
    assert (await handlers.load(d, "a1")).unit_id == "G1"


async def test_an_alert_waiting_at_the_duty_desk_is_ordered_out_of_its_queue():
    d, _, _ = await _dispatch()
    for k in range(4):
        await _receive(d, f"held-{k}", unit=k)
    await _receive(d, "waiting", unit=0)
    assert [a.alert_id for a in (await handlers.duty_desk_queue(d, after="", limit=10))[0]] == ["waiting"]
    await handlers.assign(d, "waiting", unit_id="G4", **ORDER, force=True)
    assert (await handlers.duty_desk_queue(d, after="", limit=10))[0] == []
    closed = await handlers.close(d, "waiting", unit_id="G4", **CLOSE)
    assert closed.state == "closed" and (await handlers.unit(d, "G4")).load == 1


async def test_who_joined_is_told_once_each_and_rides_on_the_closing_record():
    d, _, publisher = await _dispatch()
    await _receive(d, "a1", unit=0)
    for _ in range(2):
        await handlers.assist(d, "a1", role="community_officer", officer_id="P9", name=None, by="P100")
    await handlers.assist(d, "a1", role="village_cadre", officer_id=None, name="林主任", by="P100")
    assert [e["role"] for e in publisher.on("alerts.assisted")] == ["community_officer", "village_cadre"]
    assert publisher.msg_ids[-2:] == ["a1/assisted/1", "a1/assisted/2"]
    await handlers.close(d, "a1", unit_id="G1", **{**CLOSE, "disposition": "statement_refused",
                                                    "signatures": {"officer": "P100", "witness": "陈某"}},
                         refused_to_sign=["party"])
    (closed,) = publisher.on("alerts.closed")
    assert closed["refused_to_sign"] == ["party"]
    assert [(a["role"], a["officer_id"], a["name"], a["by"]) for a in closed["assistants"]] == [
        ("community_officer", "P9", None, "P100"), ("village_cadre", None, "林主任", "P100")]
    stats = await handlers.weekly_stats(d, "2026-W48")
    assert (stats["scene"]["community_officer_joined"], stats["scene"]["community_officer_share"]) == (1, 1.0)


async def test_an_order_of_a_closed_alert_is_refused_as_closed_even_when_the_unit_is_full():
    d, _, _ = await _dispatch()
    await _receive(d, "held", unit=1)
    await _receive(d, "done", unit=0)
    await handlers.close(d, "done", unit_id="G1", **CLOSE)
    await _receive(d, "full", unit=0)
    with pytest.raises(Refused, match="closed"):
        await handlers.assign(d, "done", unit_id="G2", **ORDER)
    assert (await handlers.unit(d, "G2")).load == 1  # nothing reserved was left behind
