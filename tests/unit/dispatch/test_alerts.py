from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.domain.alerts import (
    DUTY_DESK,
    Alert,
    AlertAcknowledged,
    AlertAssigned,
    AlertClosed,
    AlertRefused,
    AlertReleased,
    AlertUnassigned,
    Assignment,
    DomainError,
    desk_order,
)
from dispatch.domain.assignment import Candidate

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 8, 15, tzinfo=SHANGHAI)
ACK = timedelta(seconds=60)
SIGNED = {"party": "王某", "officer": "林凡", "witness": "陈某"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_alert() -> Alert:
    return Alert.receive(
        alert_id="110-20261123-000123", received_at=T0, category="dispute", priority=2, lon=118.9651, lat=25.2284,
        address="枫亭镇某村", caller_phone="13800138000", summary="邻居因烧烤排烟争吵", source="110",
        parties=[{"party_id": "p1", "name": "王某"}],
    )


def assigned(unit_id="G1", reason="zone", distance_m=215.0, seconds=2) -> Alert:
    alert = new_alert()
    alert.assign(Candidate(unit_id, reason, distance_m), at(seconds), ACK)
    return alert


def acknowledged() -> Alert:
    alert = assigned()
    alert.acknowledge("G1", at(30))
    return alert


def closed() -> Alert:
    alert = acknowledged()
    alert.close("G1", "P1001", "no_action", "误报", {}, at(900))
    return alert


def at_duty_desk() -> Alert:
    alert = new_alert()
    alert.send_to_duty_desk(at(1))
    return alert


def refused(move, *words):
    with pytest.raises(AlertRefused) as caught:
        move()
    for word in words:
        assert word in caught.value.reason
    return caught.value


def test_a_received_alert_waits_for_a_unit():
    alert = new_alert()

    assert (alert.state, alert.unit_id, alert.reason, alert.flagged) == ("received", None, None, False)
    assert alert.assignments == []
    assert alert.events == [] and alert.version == 0


def test_received_at_must_carry_a_zone():
    refused(lambda: Alert.receive(
        alert_id="a", received_at=datetime(2026, 11, 23, 8, 15), category="other", priority=2, lon=0, lat=0,
        address=None, caller_phone=None, summary="", source="110"), "time zone")


def test_refusals_are_domain_errors():
    assert isinstance(refused(lambda: closed().acknowledge("G1", at(1000))), DomainError)


def test_assign_hands_the_alert_to_one_unit_with_a_deadline():
    alert = assigned(seconds=2)

    assert (alert.state, alert.unit_id, alert.reason, alert.distance_m) == ("assigned", "G1", "zone", 215.0)
    assert (alert.assigned_at, alert.ack_due_at) == (at(2), at(62))
    assert alert.assignments == [Assignment("G1", "zone", 215.0, at(2))]
    assert alert.events == [AlertAssigned(
        "110-20261123-000123", "G1", "zone", 215.0, 1, at(2), at(62), "dispute", 2, 118.9651, 25.2284, "枫亭镇某村")]


@pytest.mark.parametrize(("make", "words"), [
    (assigned, ("held by unit G1", "released first")),
    (acknowledged, ("acknowledged", "G1")),
    (closed, ("closed",)),
])
def test_an_alert_is_never_held_by_two_units(make, words):
    alert = make()

    refused(lambda: alert.assign(Candidate("G2", "nearest", 900.0), at(100), ACK), *words)
    assert alert.unit_id == "G1"


def test_acknowledge_by_the_holder():
    alert = assigned(seconds=2)
    alert.events.clear()

    alert.acknowledge("G1", at(32))

    assert (alert.state, alert.acknowledged_at) == ("acknowledged", at(32))
    assert alert.assignments[-1].end == "acknowledged" and alert.assignments[-1].ended_at == at(32)
    assert alert.events == [AlertAcknowledged("110-20261123-000123", "G1", 1, at(32), 30.0)]


def test_a_repeated_acknowledgement_changes_nothing():
    alert = acknowledged()
    before = alert.to_dict()
    alert.events.clear()

    alert.acknowledge("G1", at(40))

    assert alert.to_dict() == before and alert.events == []


@pytest.mark.parametrize(("make", "unit_id", "words"), [
    (assigned, "G2", ("G2 cannot acknowledge", "held by unit G1")),
    (acknowledged, "G2", ("G2 cannot acknowledge",)),
    (new_alert, "G1", ("alert is received",)),
    (at_duty_desk, "G1", ("alert is unassigned",)),
    (closed, "G1", ("alert is closed",)),
])
def test_acknowledge_is_refused_to_anyone_but_the_holder(make, unit_id, words):
    refused(lambda: make().acknowledge(unit_id, at(50)), *words)


def test_a_late_acknowledgement_counts_until_the_alert_is_released():
    alert = assigned(seconds=0)

    assert not alert.ack_overdue(at(59)) and alert.ack_overdue(at(60))
    alert.acknowledge("G1", at(75))

    assert alert.state == "acknowledged" and not alert.ack_overdue(at(200))


def test_release_after_the_ack_timeout_and_reassign_to_the_next_best():
    alert = assigned(seconds=0)
    alert.events.clear()

    refused(lambda: alert.release(at(59), "ack_timeout"), "G1 still has until")
    released = alert.release(at(60), "ack_timeout")

    assert released == "G1"
    assert alert.state == "received"
    assert (alert.unit_id, alert.reason, alert.distance_m, alert.ack_due_at) == (None, None, None, None)
    assert alert.assignments[0] == Assignment("G1", "zone", 215.0, at(0), at(60), "ack_timeout")
    assert alert.events == [AlertReleased("110-20261123-000123", "G1", "ack_timeout", 1, at(60))]
    assert alert.excluded_units() == frozenset({"G1"})
    refused(lambda: alert.assign(Candidate("G1", "zone", 215.0), at(61), ACK), "G1", "time out")

    alert.assign(Candidate("G3", "nearest", 2598.0), at(61), ACK)

    assert (alert.state, alert.unit_id, alert.reason, alert.distance_m) == ("assigned", "G3", "nearest", 2598.0)
    assert alert.events[-1].attempt == 2 and alert.events[-1].ack_due_at == at(121)


def test_a_unit_going_off_duty_releases_at_once_without_being_excluded():
    alert = assigned()

    assert alert.release(at(10), "unit_unavailable") == "G1"

    assert alert.assignments[-1].end == "unit_unavailable" and alert.excluded_units() == frozenset()
    alert.assign(Candidate("G1", "zone", 215.0), at(400), ACK)
    assert alert.unit_id == "G1"


@pytest.mark.parametrize(("make", "end", "words"), [
    (assigned, "closed", ("ack_timeout, unit_unavailable",)),
    (acknowledged, "unit_unavailable", ("nothing to release", "acknowledged")),
    (new_alert, "ack_timeout", ("nothing to release", "received")),
    (at_duty_desk, "unit_unavailable", ("nothing to release", "unassigned")),
    (closed, "ack_timeout", ("nothing to release", "closed")),
])
def test_release_is_refused(make, end, words):
    refused(lambda: make().release(at(1000), end), *words)


def test_no_unit_within_reach_sends_it_to_the_duty_desk_flagged():
    alert = at_duty_desk()

    assert (alert.state, alert.unit_id, alert.distance_m) == ("unassigned", None, None)
    assert (alert.reason, alert.flagged) == ("overflow", True)
    assert alert.assignments == [Assignment(None, "overflow", None, at(1))]
    assert alert.events == [
        AlertUnassigned("110-20261123-000123", 1, at(1), "dispute", 2, 118.9651, 25.2284, "枫亭镇某村")]


def test_after_every_unit_timed_out_the_duty_desk_takes_it():
    alert = assigned(seconds=0)
    alert.release(at(60), "ack_timeout")

    alert.send_to_duty_desk(at(60))

    assert alert.state == "unassigned" and alert.events[-1].attempt == 2


@pytest.mark.parametrize(("make", "words"), [
    (assigned, ("held by unit G1",)), (at_duty_desk, ("unassigned",)), (closed, ("closed",)),
])
def test_send_to_duty_desk_is_refused(make, words):
    refused(lambda: make().send_to_duty_desk(at(100)), *words)


def test_a_unit_can_later_take_an_alert_from_the_duty_desk():
    alert = at_duty_desk()

    alert.assign(Candidate("G2", "nearest", 1200.0), at(300), ACK)

    assert alert.state == "assigned" and alert.flagged
    assert alert.assignments[0] == Assignment(None, "overflow", None, at(1), at(300), "reassigned")
    assert alert.events[-1].attempt == 2


def test_close_by_the_holder_after_acknowledging():
    alert = acknowledged()
    alert.events.clear()

    alert.close("G1", "P1001", "resolved_on_scene", "双方握手言和", SIGNED, at(900))

    assert (alert.state, alert.closed_at, alert.ack_due_at) == ("closed", at(900), None)
    assert alert.closure.disposition == "resolved_on_scene" and alert.closure.signatures == SIGNED
    assert alert.assignments[-1].end == "acknowledged"  # the attempt ended when it was acknowledged
    assert alert.events == [AlertClosed(
        "110-20261123-000123", "G1", "P1001", "resolved_on_scene", "双方握手言和", SIGNED, "dispute", 2, 118.9651,
        25.2284, "枫亭镇某村", "邻居因烧烤排烟争吵", "13800138000", [{"party_id": "p1", "name": "王某"}], T0, at(900))]


def test_close_without_acknowledging_ends_the_attempt():
    alert = assigned()

    alert.close("G1", "P1002", "converted_to_case", "", {}, at(600))

    assert alert.state == "closed" and alert.assignments[-1].end == "closed"


def test_the_duty_desk_closes_what_it_holds():
    alert = at_duty_desk()

    alert.close(DUTY_DESK, "P0001", "referred_to_mediation", "转调解", {}, at(600))

    assert alert.closure.unit_id == DUTY_DESK and alert.assignments[-1].end == "closed"
    assert alert.events[-1].unit_id == DUTY_DESK


@pytest.mark.parametrize(("make", "unit_id", "words"), [
    (assigned, "G2", ("G2 cannot close", "held by unit G1")),
    (acknowledged, DUTY_DESK, ("cannot close", "held by unit G1")),
    (at_duty_desk, "G1", ("G1 cannot close", "duty desk holds")),
    (new_alert, "G1", ("alert is received",)),
])
def test_only_the_holder_closes(make, unit_id, words):
    refused(lambda: make().close(unit_id, "P1001", "no_action", "", {}, at(600)), *words)


def test_close_needs_a_known_disposition_and_an_officer():
    refused(lambda: acknowledged().close("G1", "P1001", "solved", "", {}, at(600)), "disposition", "resolved_on_scene")
    refused(lambda: acknowledged().close("G1", " ", "no_action", "", {}, at(600)), "officer_id")


@pytest.mark.parametrize(("signatures", "missing"), [
    ({}, "party, officer, witness"),
    ({"party": "王某", "officer": "林凡"}, "of witness"),
    ({"party": "王某", "officer": "  ", "witness": "陈某"}, "of officer"),
])
def test_resolved_on_scene_needs_three_signatures(signatures, missing):
    alert = acknowledged()

    refused(lambda: alert.close("G1", "P1001", "resolved_on_scene", "", signatures, at(600)),
            missing, "处警现场处结备案单")
    assert alert.state == "acknowledged"


def test_closing_again_the_same_way_changes_nothing():
    alert = closed()
    before = alert.to_dict()
    alert.events.clear()

    alert.close("G1", "P1001", "no_action", "误报", {}, at(1000))

    assert alert.to_dict() == before and alert.events == []
    refused(lambda: alert.close("G1", "P1001", "converted_to_case", "", {}, at(1000)), "already closed as no_action")


@pytest.mark.parametrize("make", [new_alert, assigned, acknowledged, closed, at_duty_desk])
def test_plain_data_round_trip(make):
    alert = make()
    data = alert.to_dict()

    again = Alert.from_dict(data)

    assert again == alert and again.events == []
    assert "events" not in data
    assert all(isinstance(a["at"], datetime) for a in data["assignments"])
    assert isinstance(data["received_at"], datetime)


def test_from_dict_ignores_store_keys_and_reads_naive_times_as_utc():
    data = {**closed().to_dict(), "_id": "110-20261123-000123", "outbox": {}}
    data["received_at"] = T0.astimezone(UTC).replace(tzinfo=None)
    data["assignments"][0]["at"] = at(2).astimezone(UTC).replace(tzinfo=None)

    again = Alert.from_dict(data)

    assert again.received_at == T0 and again.received_at.tzinfo is not None
    assert again.assignments[0].at == at(2)
    assert again.closure == closed().closure


def test_an_alert_holds_one_place_of_its_unit_only_while_the_unit_holds_it():
    alert = new_alert()
    alert.assign(Candidate("G1", "zone", 215.0), at(2), ACK, place=3)
    assert (alert.unit_id, alert.place) == ("G1", 3)
    alert.acknowledge("G1", at(10))
    assert alert.place == 3  # acknowledged: still the unit's
    alert.close("G1", "P100", "no_action", "", {}, at(60))
    assert alert.place is None

    released = assigned()
    released.release(at(62), "ack_timeout")
    assert released.place is None
    released.send_to_duty_desk(at(62))
    assert released.place is None
    with pytest.raises(AlertRefused, match="numbered from 0"):
        new_alert().assign(Candidate("G1", "zone", 1.0), at(1), ACK, place=-1)
    assert Alert.from_dict({k: v for k, v in assigned().to_dict().items() if k != "place"}).place is None


def test_an_alert_beyond_every_units_reach_waits_so_until_a_grid_brings_it_within():
    alert = new_alert()
    alert.send_to_duty_desk(at(1), beyond_reach=True)
    assert alert.beyond_reach and at_duty_desk().beyond_reach is False

    assert alert.note_reach(within=False) is False  # nothing new
    assert alert.note_reach(within=True) is True and alert.beyond_reach is False
    assert alert.note_reach(within=False) is True and alert.beyond_reach is True
    alert.assign(Candidate("G9", "zone", 10.0), at(5), ACK)
    assert alert.beyond_reach is False
    assert alert.note_reach(within=False) is False and alert.beyond_reach is False  # only a waiting alert
    assert Alert.from_dict({k: v for k, v in at_duty_desk().to_dict().items() if k != "beyond_reach"}).beyond_reach \
        is False  # stored before reach was kept


def _ranked(alert_id: str, priority: int, received_at: datetime) -> str:
    alert = Alert.receive(alert_id=alert_id, received_at=received_at, category="dispute", priority=priority,
                          lon=0.0, lat=0.0, address=None, caller_phone=None, summary="", source="110")
    return desk_order(alert)


def test_the_desk_order_sorts_by_priority_then_age_then_id():
    ranks = [
        _ranked("b", 1, T0), _ranked("a", 1, T0 + timedelta(milliseconds=1)), _ranked("z", 1, T0 + timedelta(days=400)),
        _ranked("a", 2, T0 - timedelta(days=3650)), _ranked("a", 2, T0), _ranked("b", 2, T0), _ranked("a", 3, T0),
    ]
    assert sorted(ranks) == ranks
    assert ranks[0] == "1:001795392900000:b"  # 2026-11-23 00:15 UTC in ms, zero-padded: the string sorts as the time
    assert _ranked("old", 1, datetime(1969, 12, 31, tzinfo=UTC)).startswith("1:000000000000000:")
