"""The station's own work in dispatch's rules: the dispatcher's word, those who join the scene, the on-scene form."""

from __future__ import annotations

import pytest

from dispatch.domain.alerts import (
    MAX_ASSISTANTS,
    ON_SCENE,
    AlertAssigned,
    AlertAssisted,
    AlertClosed,
    AlertRefused,
    on_scene_form_problem,
)
from dispatch.domain.assignment import Candidate
from dispatch.domain.stats import scene_stats
from tests.unit.dispatch.test_alerts import ACK, SIGNED, acknowledged, assigned, at, at_duty_desk, closed, new_alert

ORDER = {"by": "D001", "reason": "熟悉当事人", "distance_m": 120.0, "place": 0, "forced": False, "ack_timeout": ACK}


def test_an_order_takes_the_alert_from_the_duty_desk_to_the_named_unit_and_says_who_and_why():
    alert = at_duty_desk()
    alert.order("G3", **ORDER, now=at(40))
    assert (alert.state, alert.unit_id, alert.reason, alert.ack_due_at) == ("assigned", "G3", "ordered", at(40) + ACK)
    assert alert.assignments[-2].end == "reassigned" and alert.assignments[-2].ended_at == at(40)
    last = alert.assignments[-1]
    assert (last.ordered_by, last.order_reason, last.forced, last.distance_m) == ("D001", "熟悉当事人", False, 120.0)
    (event,) = [e for e in alert.events if isinstance(e, AlertAssigned) and e.reason == "ordered"]
    assert (event.ordered_by, event.order_reason, event.forced, event.previous_unit_id, event.attempt) == (
        "D001", "熟悉当事人", False, None, 2)
    assert (alert.history[-1].actor, alert.history[-1].note, alert.history[-1].from_state) == (
        "D001", "熟悉当事人", "unassigned")


def test_an_order_takes_an_acknowledged_alert_from_its_unit_and_the_new_unit_acknowledges_again():
    alert = acknowledged()
    alert.events.clear()
    alert.order("G2", **{**ORDER, "place": 1, "forced": True}, now=at(60))
    assert (alert.unit_id, alert.place, alert.acknowledged_at, alert.assignments[-1].forced) == ("G2", 1, None, True)
    assert alert.events[-1].previous_unit_id == "G1" and alert.events[-1].forced
    assert "beyond its capacity" in alert.history[-1].action
    assert alert.placement() == alert.events[-1]  # a redelivery tells the same fact


def test_an_order_ignores_a_unit_that_let_the_acknowledgement_time_out():
    alert = assigned()
    alert.release(at(62), "ack_timeout")
    alert.order("G1", **ORDER, now=at(63))  # the dispatcher's word, not the ranking's
    assert alert.unit_id == "G1"


@pytest.mark.parametrize(("change", "words"), [
    ({"by": "  "}, "who gave it"),
    ({"reason": ""}, "reason"),
    ({"place": -1}, "numbered from 0"),
])
def test_an_order_is_refused_without_who_or_why_or_a_place(change, words):
    alert = at_duty_desk()
    with pytest.raises(AlertRefused, match=words):
        alert.order("G2", **{**ORDER, **change}, now=at(5))
    assert alert.state == "unassigned" and len(alert.assignments) == 1 and alert.history == []


def test_an_order_to_the_unit_holding_it_or_of_a_closed_alert_is_refused():
    with pytest.raises(AlertRefused, match="holds this alert already"):
        assigned().order("G1", **ORDER, now=at(5))
    with pytest.raises(AlertRefused, match="allowed when received, assigned, acknowledged, unassigned"):
        closed().order("G2", **ORDER, now=at(1000))


def test_those_who_join_the_scene_are_recorded_once_each_by_id_or_name():
    alert = assigned()
    alert.events.clear()
    alert.assist(role="community_officer", officer_id="P9", name=None, by="P100", now=at(10))
    alert.assist(role="assisting_officer", officer_id="P9", name=None, by="P100", now=at(11))  # the same officer
    alert.assist(role="village_cadre", officer_id=None, name=" 林主任 ", by="P100", now=at(12))
    alert.assist(role="village_cadre", officer_id=None, name="林主任", by="P101", now=at(13))  # again
    assert [(a.role, a.officer_id, a.name) for a in alert.assistants] == [
        ("community_officer", "P9", None), ("village_cadre", None, "林主任")]
    assert [type(e) for e in alert.events] == [AlertAssisted, AlertAssisted]
    assert alert.events[0] == AlertAssisted(alert.alert_id, "G1", "community_officer", "P9", None, "P100", at(10))


@pytest.mark.parametrize(("person", "words"), [
    ({"role": "community_officer", "officer_id": None, "name": "张警官"}, "named by officer_id"),
    ({"role": "assisting_officer", "officer_id": " ", "name": None}, "named by officer_id"),
    ({"role": "village_cadre", "officer_id": None, "name": "  "}, "by name or officer_id"),
    ({"role": "volunteer", "officer_id": "V1", "name": None}, "role must be one of"),
])
def test_who_joined_is_named_as_the_role_needs(person, words):
    with pytest.raises(AlertRefused, match=words):
        assigned().assist(**person, by="P100", now=at(10))


def test_at_most_so_many_join_and_only_while_a_unit_or_the_desk_holds_the_alert():
    alert = acknowledged()
    for k in range(MAX_ASSISTANTS):
        alert.assist(role="village_cadre", officer_id=None, name=f"干部{k}", by="P100", now=at(40))
    with pytest.raises(AlertRefused, match=f"at most {MAX_ASSISTANTS}"):
        alert.assist(role="village_cadre", officer_id=None, name="one more", by="P100", now=at(41))
    at_duty_desk().assist(role="village_cadre", officer_id=None, name="林主任", by="D001", now=at(5))
    for make in (new_alert, closed):
        with pytest.raises(AlertRefused, match="allowed when assigned, acknowledged, unassigned"):
            make().assist(role="village_cadre", officer_id=None, name="林主任", by="D001", now=at(2000))


@pytest.mark.parametrize("disposition", ON_SCENE)
def test_every_close_on_the_scene_needs_the_form(disposition):
    assert on_scene_form_problem(disposition, SIGNED, []) is None
    assert on_scene_form_problem(disposition, {**SIGNED, "party": ""}, ["party"]) is None  # refused, witnessed
    assert "party, officer, witness" in on_scene_form_problem(disposition, {}, [])
    assert "or the party's refusal" in on_scene_form_problem(disposition, {"officer": "x", "witness": "y"}, [])
    assert "signatures of witness" in on_scene_form_problem(disposition, {"officer": "x"}, ["party"])
    assert "signatures of officer" in on_scene_form_problem(disposition, {**SIGNED, "officer": "  "}, [])
    assert "both signed and refused" in on_scene_form_problem(disposition, SIGNED, ["party"])
    assert "only the party may refuse" in on_scene_form_problem(disposition, SIGNED, ["witness"])
    assert "only the party may refuse" in on_scene_form_problem(disposition, SIGNED, ["officer", "party"])


@pytest.mark.parametrize("disposition", ["referred_to_mediation", "converted_to_case", "no_action"])
def test_a_close_off_the_scene_needs_no_form_and_takes_no_refusal(disposition):
    assert on_scene_form_problem(disposition, {}, []) is None
    assert "on-scene form only" in on_scene_form_problem(disposition, {}, ["party"])


def test_the_closing_record_carries_the_refusal_and_who_joined():
    alert = acknowledged()
    alert.assist(role="community_officer", officer_id="P9", name=None, by="P100", now=at(40))
    alert.events.clear()
    alert.close("G1", "P1001", "help_given_on_scene", "", {"officer": "林凡", "witness": "陈某"}, at(900),
                refused_to_sign=["party"])
    (event,) = alert.events
    assert isinstance(event, AlertClosed) and event.refused_to_sign == ["party"]
    assert [(a["role"], a["officer_id"]) for a in event.assistants] == [("community_officer", "P9")]
    assert alert.closure.refused_to_sign == ["party"]
    with pytest.raises(AlertRefused, match="statement_refused needs"):
        acknowledged().close("G1", "P1001", "statement_refused", "", {}, at(900))


def test_a_round_trip_keeps_orders_assistants_refusals_and_the_history():
    alert = at_duty_desk()
    alert.order("G3", **ORDER, now=at(40))
    alert.assist(role="village_cadre", officer_id=None, name="林主任", by="D001", now=at(50))
    alert.close("G3", "P1001", "statement_refused", "", {"officer": "x", "witness": "y"}, at(90),
                refused_to_sign=["party"])
    again = type(alert).from_dict(alert.to_dict())
    assert again == alert and again.history == alert.history and len(again.history) == 3


def test_scene_figures_count_orders_and_who_joined_for_the_station_and_each_unit():
    assert scene_stats([]) == {"alerts": 0, "ordered": 0, "forced": 0, "assisted": 0, "community_officer_joined": 0,
                               "village_cadre_joined": 0, "community_officer_share": None, "units": []}
    joined, ordered, plain = assigned(), at_duty_desk(), assigned("G2", "nearest")
    joined.assist(role="community_officer", officer_id="P9", name=None, by="P100", now=at(10))
    joined.assist(role="village_cadre", officer_id=None, name="林主任", by="P100", now=at(10))
    ordered.order("G1", **{**ORDER, "forced": True, "place": 1}, now=at(20))
    figures = scene_stats([joined, ordered, plain, new_alert()])  # the last was never given to anyone
    assert {k: v for k, v in figures.items() if k != "units"} == {
        "alerts": 4, "ordered": 1, "forced": 1, "assisted": 1, "community_officer_joined": 1,
        "village_cadre_joined": 1, "community_officer_share": 0.25}
    assert [(u["unit_id"], u["alerts"], u["ordered"], u["community_officer_joined"]) for u in figures["units"]] == [
        ("G1", 2, 1, 1), ("G2", 1, 0, 0)]


def test_an_automatic_assignment_is_not_an_order():
    alert = new_alert()
    alert.assign(Candidate("G1", "zone", 10.0), at(1), ACK)
    assert alert.placement().ordered_by is None and not alert.assignments[-1].forced


def test_an_order_records_the_assignment_and_the_history_entry_whole():
    alert = new_alert()  # received, never given to anyone
    alert.beyond_reach = True
    alert.order("G2", **ORDER, now=at(7))
    (only,) = alert.assignments
    assert (only.unit_id, only.reason, only.at, only.end) == ("G2", "ordered", at(7), None)
    assert not alert.beyond_reach
    entry = alert.history[-1]
    assert (entry.at, entry.actor, entry.action, entry.from_state, entry.to_state, entry.note) == (
        at(7), "D001", "ordered to G2", "received", "assigned", "熟悉当事人")
    with pytest.raises(AlertRefused, match="holds this alert already"):
        acknowledged().order("G1", **ORDER, now=at(60))


def test_a_record_of_who_joined_is_whole_and_its_refusals_say_why():
    alert = at_duty_desk()
    alert.assist(role="village_cadre", officer_id=None, name="林主任", by="D001", now=at(5))
    entry, person = alert.history[-1], alert.assistants[-1]
    assert (entry.at, entry.actor, entry.action, entry.from_state) == (at(5), "D001", "joined by village_cadre 林主任",
                                                                       "unassigned")
    assert (person.by, person.at) == ("D001", at(5))
    assert alert.events[-1] == AlertAssisted(alert.alert_id, None, "village_cadre", None, "林主任", "D001", at(5))
    with pytest.raises(AlertRefused, match="^cannot record who joined the scene of alert "):
        closed().assist(role="village_cadre", officer_id=None, name="林主任", by="D001", now=at(2000))
    with pytest.raises(AlertRefused, match="^the record names who made it \\(by\\)$"):
        assigned().assist(role="village_cadre", officer_id=None, name="林主任", by=" ", now=at(5))
    with pytest.raises(AlertRefused, match="^a village cadre is named by name or officer_id$"):
        assigned().assist(role="village_cadre", officer_id=None, name=None, by="D001", now=at(5))
    with pytest.raises(AlertRefused, match="^role must be one of community_officer, assisting_officer, village_cadre"):
        assigned().assist(role="cadre", officer_id=None, name="x", by="D001", now=at(5))


def test_the_forms_problems_are_said_exactly():
    assert on_scene_form_problem("statement_refused", {"officer": "x"}, ["party"]) == (
        "statement_refused needs the signatures of witness (处警现场处结备案单)")
    assert on_scene_form_problem("resolved_on_scene", {"officer": "x", "witness": "y"}, []) == (
        "resolved_on_scene needs the signatures of party (or the party's refusal to sign, recorded)"
        " (处警现场处结备案单)")
    assert on_scene_form_problem("help_given_on_scene", SIGNED, ["party", "officer", "witness"]) == (
        "only the party may refuse to sign, not officer, party, witness")
    assert on_scene_form_problem("help_given_on_scene", SIGNED, ["party"]) == "party both signed and refused to sign"


def test_scene_figures_tell_the_roles_apart_and_round_the_share_to_four_places():
    cadre_only, plain, other = assigned(), assigned("G2", "nearest"), assigned("G3", "nearest")
    cadre_only.assist(role="village_cadre", officer_id=None, name="林主任", by="P100", now=at(10))
    other.assist(role="community_officer", officer_id="P9", name=None, by="P100", now=at(10))
    figures = scene_stats([cadre_only, plain, other])
    assert (figures["community_officer_joined"], figures["village_cadre_joined"], figures["assisted"]) == (1, 1, 2)
    assert figures["community_officer_share"] == 0.3333
    assert [(u["unit_id"], u["community_officer_joined"], u["village_cadre_joined"]) for u in figures["units"]] == [
        ("G1", 0, 1), ("G2", 0, 0), ("G3", 1, 0)]


@pytest.mark.parametrize(("change", "reason"), [
    ({"by": ""}, "an order names who gave it (by)"),
    ({"reason": " "}, "an order gives its reason"),
])
def test_an_orders_refusals_say_exactly_why(change, reason):
    with pytest.raises(AlertRefused) as refused:
        at_duty_desk().order("G2", **{**ORDER, **change}, now=at(5))
    assert refused.value.reason == reason
    with pytest.raises(AlertRefused) as refused:
        closed().order("G2", **ORDER, now=at(1000))
    assert refused.value.reason.startswith("cannot assign alert 110-20261123-000123: it is closed")


def test_a_forced_order_says_so_in_the_history():
    alert = at_duty_desk()
    alert.order("G2", **{**ORDER, "forced": True, "place": 1}, now=at(5))
    assert alert.history[-1].action == "ordered to G2 beyond its capacity"
