"""Hazards and key persons, pure: deadlines per severity and review cadences pinned to the second, every
refused move, what each command records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.domain import HistoryEntry
from community.domain import events as ev
from community.domain.hazards import DEFAULT_DEADLINE_DAYS, Hazard, HazardRefused, deadline_for
from community.domain.keypersons import KeyPerson, KeyPersonRefused, Note, Review

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def hazard(severity: str = "serious") -> Hazard:
    return Hazard.report(hazard_id="H-1", source="informant", reported_by="信息员", reported_at=T0, place="某厂",
                         hazard_kind="fire", severity=severity, responsible_unit="某厂")


@pytest.mark.parametrize(("severity", "days"), [("major", 3), ("serious", 7), ("minor", 15)])
def test_the_deadline_follows_the_severity_and_a_station_may_set_its_own(severity: str, days: int) -> None:
    assert hazard(severity).due_at == T0 + timedelta(days=days) == deadline_for(severity, T0)
    assert deadline_for(severity, T0, {severity: 0.5}) == T0 + timedelta(hours=12)
    assert deadline_for(severity, T0, {}) == T0 + timedelta(days=DEFAULT_DEADLINE_DAYS[severity])


def test_an_unknown_severity_or_source_is_refused() -> None:
    with pytest.raises(HazardRefused, match="severity"):
        hazard("urgent")
    with pytest.raises(HazardRefused, match="source"):
        Hazard.report(hazard_id="H-2", source="web", reported_by="x", reported_at=T0, place="p", hazard_kind="k",
                      severity="minor", responsible_unit="u")


def test_overdue_fires_at_the_deadline_to_the_second_once_and_not_after_rectification() -> None:
    h = hazard("major")
    assert h.check_deadlines(h.due_at - timedelta(seconds=1)) == []
    [fired] = h.check_deadlines(h.due_at)
    assert isinstance(fired, ev.HazardOverdue) and (fired.due_at, fired.severity) == (h.due_at, "major")
    assert h.check_deadlines(h.due_at + timedelta(days=1)) == [] and h.next_due_at is None
    fixed = hazard("major")
    fixed.assign(now=T0, actor="所长", officer_id="P1")
    fixed.rectify(now=T0 + timedelta(hours=1), actor="厂")
    assert fixed.next_due_at is None and fixed.check_deadlines(fixed.due_at) == []


def test_verification_is_late_only_when_rectified_at_or_after_the_deadline() -> None:
    for rectified_at, late in ((timedelta(days=7, seconds=-1), False), (timedelta(days=7), True)):
        h = hazard()
        h.assign(now=T0, actor="所长", officer_id="P1")
        h.rectify(now=T0 + rectified_at, actor="厂")
        h.verify(now=T0 + timedelta(days=8), actor="P1", passed=True)
        assert (h.state, h.events[-1].late, h.events[-1].officer_id) == ("verified", late, "P1")


def test_a_failed_check_needs_a_reason_and_goes_back_to_the_assigned_officer() -> None:
    h = hazard()
    h.assign(now=T0, actor="所长", officer_id="P1")
    h.rectify(now=T0, actor="厂")
    with pytest.raises(HazardRefused, match="reason"):
        h.verify(now=T0, actor="P1", passed=False, reason=" ")
    h.verify(now=T0, actor="P1", passed=False, reason="灭火器过期")
    assert (h.state, h.rectified_at, h.next_due_at) == ("assigned", None, h.due_at)
    assert [e.action for e in h.history] == ["report", "assign", "rectify", "reject"]


@pytest.mark.parametrize(("command", "state"), [("rectify", "reported"), ("verify", "reported"),
                                                ("assign", "verified"), ("rectify", "verified")])
def test_a_move_outside_its_states_is_refused_naming_the_state(command: str, state: str) -> None:
    h = hazard()
    if state == "verified":
        h.assign(now=T0, actor="a", officer_id="P1")
        h.rectify(now=T0, actor="a")
        h.verify(now=T0, actor="a", passed=True)
    calls = {"assign": lambda: h.assign(now=T0, actor="a", officer_id="P2"),
             "rectify": lambda: h.rectify(now=T0, actor="a"),
             "verify": lambda: h.verify(now=T0, actor="a", passed=True)}
    with pytest.raises(HazardRefused, match=f"cannot {command} hazard H-1: it is {state}"):
        calls[command]()


def person(level: str = "high", **extra) -> KeyPerson:
    return KeyPerson.register(person_id="K-1", name="李某", category="社区矫正", risk_level=level, officer_id="P1",
                              now=T0, **extra)


@pytest.mark.parametrize(("level", "days"), [("high", 30), ("medium", 90), ("low", 180)])
def test_the_review_cadence_follows_the_risk_level_unless_the_register_sets_one(level: str, days: int) -> None:
    assert person(level).next_review_due_at == T0 + timedelta(days=days)
    assert person(level, cadence_days=7).next_review_due_at == T0 + timedelta(days=7)
    assert person(level, cadences={level: 1}).next_review_due_at == T0 + timedelta(days=1)


def test_a_review_overdue_fires_once_per_due_review_to_the_second() -> None:
    p = person()
    due = p.next_review_due_at
    assert p.check_deadlines(due - timedelta(seconds=1)) == []
    [fired] = p.check_deadlines(due)
    assert (fired.due_at, fired.officer_id, p.overdue) == (due, "P1", True)
    assert p.check_deadlines(due + timedelta(days=1)) == []
    p.review(now=due + timedelta(days=1), actor="P1", risk_level="low")
    assert (p.overdue, p.next_review_due_at) == (False, due + timedelta(days=181))
    assert len(p.check_deadlines(p.next_review_due_at)) == 1


def test_register_refuses_an_unknown_level_or_a_zero_cadence_and_notes_from_one_finding_are_kept_once() -> None:
    with pytest.raises(KeyPersonRefused, match="risk level"):
        person("extreme")
    with pytest.raises(KeyPersonRefused, match="a review cadence is at least 1 day"):
        person(cadence_days=0)
    assert person(cadence_days=1).next_review_due_at == T0 + timedelta(days=1)
    p = person()
    p.note(now=T0, actor="P1", text="情绪不稳", source="visit", source_ref="V-1.0")
    p.note(now=T0, actor="P1", text="情绪不稳", source="visit", source_ref="V-1.0")
    p.note(now=T0, actor="P1", text="本人来所报到")
    assert [n.source_ref for n in p.notes] == ["V-1.0", None]
    with pytest.raises(KeyPersonRefused, match="text"):
        p.note(now=T0, actor="P1", text=" ")
    assert [e.action for e in p.history] == ["register", "note", "note"]
    assert KeyPerson.from_dict(p.to_dict()).to_dict() == p.to_dict()


def test_each_hazard_command_records_its_history_entry_and_its_event_whole() -> None:
    h = Hazard.report(hazard_id="H-1", source="visit", source_ref="V-1", reported_by="P1", reported_at=T0,
                      place="某厂", lon=118.9, lat=25.2, unit_id="G1", hazard_kind="fire", severity="major",
                      responsible_unit="某厂")
    due = T0 + timedelta(days=3)
    assert (h.source, h.source_ref, h.lon, h.lat, h.unit_id, h.state, h.officer_id, h.overdue) == \
        ("visit", "V-1", 118.9, 25.2, "G1", "reported", None, False)
    steps = [(T0 + timedelta(hours=1), lambda t: h.assign(now=t, actor="所长", officer_id="P2")),
             (T0 + timedelta(hours=2), lambda t: h.assign(now=t, actor="所长", officer_id="P3")),
             (T0 + timedelta(hours=3), lambda t: h.rectify(now=t, actor="某厂", note="已整改")),
             (T0 + timedelta(hours=4), lambda t: h.verify(now=t, actor="P3", passed=False, reason="未到位")),
             (T0 + timedelta(hours=5), lambda t: h.rectify(now=t, actor="某厂")),
             (T0 + timedelta(hours=6), lambda t: h.verify(now=t, actor="P3", passed=True, reason="复查合格"))]
    for at, step in steps:
        step(at)
    hours = [T0 + timedelta(hours=n) for n in range(7)]
    assert h.history == [
        HistoryEntry(hours[0], "P1", "report", None, "reported", "source: visit"),
        HistoryEntry(hours[1], "所长", "assign", "reported", "assigned", "P2"),
        HistoryEntry(hours[2], "所长", "assign", "assigned", "assigned", "P3"),
        HistoryEntry(hours[3], "某厂", "rectify", "assigned", "rectified", "已整改"),
        HistoryEntry(hours[4], "P3", "reject", "rectified", "assigned", "未到位"),
        HistoryEntry(hours[5], "某厂", "rectify", "assigned", "rectified", ""),
        HistoryEntry(hours[6], "P3", "verify", "rectified", "verified", "复查合格"),
    ]
    assert h.events == [
        ev.HazardReported("H-1", hours[0]),
        ev.HazardAssigned("H-1", hours[1], "P2", "所长", due),
        ev.HazardAssigned("H-1", hours[2], "P3", "所长", due),
        ev.HazardRectified("H-1", hours[3], "某厂", "P3", "已整改"),
        ev.HazardRejected("H-1", hours[4], "P3", "P3", "未到位"),
        ev.HazardRectified("H-1", hours[5], "某厂", "P3", ""),
        ev.HazardVerified("H-1", hours[6], "P3", "P3", "某厂", "major", False),
    ]
    assert (h.state, h.officer_id, h.rectified_at, h.verified_at) == ("verified", "P3", hours[5], hours[6])
    assert Hazard.from_dict(h.to_dict()).to_dict() == h.to_dict()


def test_the_overdue_hazard_records_its_entry_and_event_whole() -> None:
    h = hazard("minor")
    h.assign(now=T0, actor="所长", officer_id="P2")
    [fired] = h.check_deadlines(h.due_at + timedelta(seconds=5))
    assert fired == ev.HazardOverdue("H-1", h.due_at + timedelta(seconds=5), h.due_at, "minor", "某厂", "P2")
    assert h.history[-1] == HistoryEntry(h.due_at + timedelta(seconds=5), "system", "overdue", "assigned", "assigned",
                                         "not rectified by the deadline")
    assert (h.overdue, h.events[-1]) == (True, fired)


def test_each_key_person_command_records_its_entry_and_event_whole() -> None:
    p = KeyPerson.register(person_id="K-1", name="李某", category="吸毒", risk_level="medium", officer_id="P1",
                           now=T0, id_number="350322199001011234", phone="13900139000", address="某村5号",
                           unit_id="G1")
    t1, t2, t3 = (T0 + timedelta(days=n) for n in (1, 2, 100))
    p.review(now=t1, actor="P1", note="谈话", risk_level="high")
    p.review(now=t2, actor="P2")
    p.note(now=t2, actor="P1", text="见面", source="visit", source_ref="V-9.1")
    [overdue] = p.check_deadlines(t3)
    assert (p.name, p.id_number, p.phone, p.address, p.category, p.unit_id, p.registered_at) == \
        ("李某", "350322199001011234", "13900139000", "某村5号", "吸毒", "G1", T0)
    assert p.reviews == [Review(t1, "P1", "high", "谈话"), Review(t2, "P2", "high", "")]
    assert p.notes == [Note(t2, "P1", "visit", "V-9.1", "见面")]
    assert p.history == [
        HistoryEntry(T0, "P1", "register", None, "registered", "吸毒"),
        HistoryEntry(t1, "P1", "review", "registered", "registered", "high"),
        HistoryEntry(t2, "P2", "review", "registered", "registered", "high"),
        HistoryEntry(t2, "P1", "note", "registered", "registered", "visit"),
        HistoryEntry(t3, "system", "review_overdue", "registered", "registered", ""),
    ]
    assert p.events == [
        ev.KeyPersonRegistered("K-1", T0, "吸毒", "medium", "P1", "G1", T0 + timedelta(days=90)),
        ev.KeyPersonReviewed("K-1", t1, "P1", "high", t1 + timedelta(days=30)),
        ev.KeyPersonReviewed("K-1", t2, "P2", "high", t2 + timedelta(days=30)),
        ev.KeyPersonNoted("K-1", t2, "P1", "visit", "V-9.1"),
        ev.KeyPersonReviewOverdue("K-1", t3, t2 + timedelta(days=30), "high", "P1"),
    ]
    assert overdue == p.events[-1] and p.to_dict()["overdue"] is True
    assert KeyPerson.from_dict(p.to_dict()).to_dict() == p.to_dict()
    assert str(pytest.raises(KeyPersonRefused, person, "x").value) == \
        "unknown risk level 'x'; expected one of low, medium, high"
    assert str(pytest.raises(HazardRefused, deadline_for, "x", T0).value) == \
        "unknown severity 'x'; expected one of minor, serious, major"


def test_a_cadence_left_out_of_the_stations_settings_keeps_its_default() -> None:
    assert person("low", cadences={"high": 7}).next_review_due_at == T0 + timedelta(days=180)
