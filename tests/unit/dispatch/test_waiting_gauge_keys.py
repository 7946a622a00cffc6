"""The duty desk's gauges read the queue's key: only a waiting alert holds one, and it tells when the alert came in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch.adapters.store import WAITING, AlertCodec, InMemoryAlerts, next_run, waiting_received_at
from dispatch.domain.alerts import Alert
from dispatch.domain.assignment import Candidate
from dispatch.domain.grid import DUTY_DESK

T0 = datetime(2026, 11, 23, 0, 15, 0, 250_000, tzinfo=UTC)


def _alert(n: int, received_at: datetime, priority: int = 2) -> Alert:
    return Alert.receive(alert_id=f"110-20261123-{n:06d}", received_at=received_at, category="theft",
                         priority=priority, lon=118.9651, lat=25.2284, address="枫亭镇", caller_phone=None,
                         summary="电动车被盗", source="110")


def _in_range(key: str | None) -> bool:
    bounds = WAITING["waiting_key"]
    return key is not None and bounds["$gte"] <= key < bounds["$lt"]


def test_an_alert_holds_a_waiting_key_in_the_counted_range_only_while_no_unit_holds_it() -> None:
    codec, alert = AlertCodec(), _alert(1, T0)
    at_desk = _alert(2, T0)
    at_desk.send_to_duty_desk(T0, beyond_reach=True)  # beyond every unit's reach: still waiting
    assert _in_range(codec.to_document(alert).get("waiting_key"))  # received, no unit yet
    assert _in_range(codec.to_document(at_desk).get("waiting_key"))
    alert.assign(Candidate("G1", "zone", 120.0), T0 + timedelta(seconds=1), timedelta(seconds=60))
    assert "waiting_key" not in codec.to_document(alert)
    alert.release(T0 + timedelta(seconds=61), "ack_timeout")  # waits again for the next-best unit
    assert _in_range(codec.to_document(alert).get("waiting_key"))
    at_desk.close(DUTY_DESK, "P1001", "no_action", "误报", {}, T0 + timedelta(minutes=5))
    assert "waiting_key" not in codec.to_document(at_desk)


def test_the_key_tells_when_the_alert_came_in_to_the_millisecond() -> None:
    key = AlertCodec().to_document(_alert(3, T0, priority=1))["waiting_key"]
    assert waiting_received_at(key) == T0
    assert waiting_received_at(AlertCodec().to_document(_alert(4, T0 + timedelta(milliseconds=1)))["waiting_key"]) \
        == T0 + timedelta(milliseconds=1)


def test_the_next_run_starts_right_after_every_key_of_the_reach_and_priority() -> None:
    key = AlertCodec().to_document(_alert(5, T0, priority=2))["waiting_key"]
    run_end = next_run(key)
    assert run_end == key[:2] + ";"
    assert key < run_end < "a3:" and run_end > "a2:999999999999999:~"  # the whole run of a2, then a3's


async def test_the_oldest_waiting_is_the_earliest_received_whatever_its_priority_or_reach() -> None:
    alerts = InMemoryAlerts()
    assert await alerts.oldest_waiting() is None
    urgent, old, oldest_beyond = _alert(1, T0, 1), _alert(2, T0 - timedelta(seconds=30), 3), _alert(
        3, T0 - timedelta(seconds=31), 2)
    oldest_beyond.send_to_duty_desk(T0, beyond_reach=True)
    held = _alert(4, T0 - timedelta(hours=1))
    held.assign(Candidate("G1", "zone", 120.0), T0, timedelta(seconds=60))
    for alert in (urgent, old, oldest_beyond, held):
        await alerts.add(alert, [])
    assert await alerts.oldest_waiting() == T0 - timedelta(seconds=31)
