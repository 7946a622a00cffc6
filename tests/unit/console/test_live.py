"""The live fan-out: one frame per event whatever the number of browsers, each browser only its families."""

from __future__ import annotations

import asyncio
import json

import pytest

from console import access, live


def _data(frame: bytes) -> dict:
    event, data = frame.decode().strip().split("\n")
    return {"event": event.removeprefix("event: "), **json.loads(data.removeprefix("data: "))}


def test_a_frame_names_its_family_and_masks_phones_even_in_a_summary() -> None:
    family, frame = live.frame("alerts.received", {
        "alert_id": "A1", "caller_phone": "13800138000", "summary": "回电13900139000", "priority": 1,
        "location": {"lon": 1.0, "lat": 2.0, "address": "x"}, "parties": [{"phone": "13800138001"}]})
    data = _data(frame)
    assert family == "alerts" and data["event"] == "alerts" and data["subject"] == "alerts.received"
    assert "caller_phone" not in data and "parties" not in data  # never sent to a browser
    assert data["summary"] == "回电139****9000" and data["location"]["lon"] == 1.0


async def test_every_browser_of_the_family_gets_the_same_bytes_and_others_none() -> None:
    hub = live.Hub()
    desk = hub.stream(frozenset({"alerts"}))
    mediator = hub.stream(frozenset({"disputes"}))
    assert await anext(desk) == await anext(mediator) == b"retry: 1000\n: connected\n\n"
    family, frame = live.frame("alerts.assigned", {"alert_id": "A1", "unit_id": "G1"})
    hub.publish(family, frame)
    assert await asyncio.wait_for(anext(desk), 1) == frame
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(mediator), 0.05)
    assert hub.events == 1


async def test_a_browser_too_slow_is_dropped_and_the_others_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "QUEUE_LIMIT", 2)
    hub = live.Hub()
    slow, fast = hub.stream(frozenset({"alerts"})), hub.stream(frozenset({"alerts"}))
    await anext(slow), await anext(fast)
    frames = [live.frame("alerts.received", {"alert_id": f"A{i}"}) for i in range(3)]
    hub.publish(*frames[0])
    assert await anext(fast) == frames[0][1]
    hub.publish(*frames[1])
    hub.publish(*frames[2])  # slow holds two: the third drops it
    assert len(hub.listeners) == 1
    with pytest.raises(StopAsyncIteration):  # what it held is not sent: its page reconnects and reloads
        await anext(slow)
    assert await anext(fast) == frames[1][1] + frames[2][1]  # what waited goes out as one write


async def test_a_message_that_is_not_json_is_not_sent() -> None:
    hub = live.Hub()

    class Msg:
        subject, data = "alerts.received", b"{not json"

    await hub._on_message(Msg())
    assert hub.events == 0


def test_families_follow_what_each_role_may_read() -> None:
    assert access.families(["viewer"]) == set(access.FAMILY_NEEDS)
    assert access.families(["mediator"]) == {"disputes", "ratings"}
    assert access.families(["integration"]) == frozenset()
    assert access.families(["integration", "admin"]) == set(access.FAMILY_NEEDS)


def test_what_a_role_may_do_is_what_the_services_accept() -> None:
    assert access.may(["duty_desk"], "alerts.act") and not access.may(["viewer"], "alerts.act")
    assert not access.may(["leadership"], "alerts.act") and access.may(["leadership"], "followups.read")
    assert access.may(["mediator"], "disputes.act") and not access.may(["mediator"], "callbacks.act")


def test_the_vendored_files_are_those_the_pins_give() -> None:
    """services/console/vendor.py --check: every vendored file has the checksum recorded for its pinned version."""
    from console import vendor

    assert vendor.check() == 0
