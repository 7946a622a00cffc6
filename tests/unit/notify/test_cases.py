from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from notify.domain import (
    CallbackRules,
    Case,
    CaseAccepted,
    CaseParty,
    CaseSolved,
    ChineseCalendar,
    callback_id_for,
    on_case_accepted,
    on_case_solved,
)
from tests.unit.notify.station_time import sh

RULES = CallbackRules()


P1 = CaseParty("p1", "王某", "13800138001", "victim")
P2 = CaseParty("p2", "李某", None, "suspect")
P3 = CaseParty("p3", "张某", "13800138003", "victim")


ACCEPTED_AT, SOLVED_AT = sh(2026, 11, 20, 10, 0), sh(2026, 11, 22, 15, 0)


def accepted(at: datetime = ACCEPTED_AT, parties=(P1, P2)) -> CaseAccepted:
    return CaseAccepted("A2026-0042", "criminal", at, "P1001", "G1", tuple(parties))


def solved(at: datetime = SOLVED_AT, parties=(P1, P3)) -> CaseSolved:
    return CaseSolved("A2026-0042", at, tuple(parties))


def test_accepted_schedules_one_7_day_callback_per_party():
    plan = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 10, 0, 2), rules=RULES)
    assert [(c.party_id, c.rule, c.state) for c in plan.schedule] == [
        ("p1", "unsolved_7d", "scheduled"),
        ("p2", "unsolved_7d", "manual"),  # no phone
    ]
    assert all(c.due_at == sh(2026, 11, 28, 0, 0) for c in plan.schedule)
    assert all((c.officer_id, c.unit_id) == ("P1001", "G1") for c in plan.schedule)
    assert plan.schedule[0].callback_id == callback_id_for("A2026-0042", "p1", "unsolved_7d")
    assert plan.case.accepted and not plan.case.solved
    assert (plan.case.officer_id, plan.case.kind, plan.case.parties) == ("P1001", "criminal", (P1, P2))
    assert plan.changed and plan.warnings == [] and plan.superseded == [] and plan.assign == []


def test_a_duplicate_accepted_schedules_nothing():
    first = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 10, 0), rules=RULES)
    again = on_case_accepted(first.case, accepted(parties=(P1, P3)), now=sh(2026, 11, 20, 11, 0), rules=RULES)
    assert again.schedule == [] and not again.changed
    assert again.case == first.case


def test_a_party_named_twice_gets_one_callback():
    plan = on_case_accepted(None, accepted(parties=(P1, P1)), now=sh(2026, 11, 20, 10, 0), rules=RULES)
    assert [c.party_id for c in plan.schedule] == ["p1"]


def test_an_opted_out_phone_goes_manual():
    plan = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 10, 0), rules=RULES, opted_out={"13800138001", ""})
    assert [c.state for c in plan.schedule] == ["manual", "manual"]
    assert plan.schedule[0].manual_reason == "the party opted out of SMS"
    assert plan.schedule[1].manual_reason == "the party has no phone number"


def test_a_case_accepted_more_than_7_days_ago_is_overdue_at_once():
    plan = on_case_accepted(None, accepted(at=sh(2026, 11, 10, 10, 0)), now=sh(2026, 11, 20, 10, 0), rules=RULES)
    assert [c.state for c in plan.schedule] == ["overdue", "overdue"]
    assert all(c.overdue for c in plan.schedule)


def test_solved_supersedes_open_7_day_callbacks_and_schedules_3_day_ones_for_both_sides():
    first = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 10, 0), rules=RULES)
    p1_7d, p2_7d = first.schedule
    p1_7d.complete(now=sh(2026, 11, 21, 9, 0), channel="phone", reached=True, completed_by="P1001")
    other_case = on_case_accepted(
        None,
        CaseAccepted("A2026-0043", "criminal", sh(2026, 11, 20, 10, 0), "P1001", "G1", (P1,)),
        now=sh(2026, 11, 20, 10, 0),
        rules=RULES,
    ).schedule[0]
    plan = on_case_solved(
        first.case, solved(), now=sh(2026, 11, 22, 15, 0, 1), rules=RULES, open_unsolved=[p1_7d, p2_7d, other_case]
    )
    assert [(c.party_id, c.rule, c.state) for c in plan.schedule] == [
        ("p1", "solved_3d", "scheduled"),
        ("p3", "solved_3d", "scheduled"),  # named only by the solved event
        ("p2", "solved_3d", "manual"),  # named only by the accepted event, no phone
    ]
    assert all(c.due_at == sh(2026, 11, 26, 0, 0) for c in plan.schedule)
    assert all(c.officer_id == "P1001" for c in plan.schedule)
    assert plan.superseded == [p2_7d]  # the done one stays done, another case's is not touched
    assert p2_7d.state == "superseded"
    assert p2_7d.superseded_by == callback_id_for("A2026-0042", "p2", "solved_3d")
    assert p1_7d.state == "done" and other_case.state == "scheduled"
    assert plan.case.solved and plan.case.solved_at == sh(2026, 11, 22, 15, 0)
    assert [p.party_id for p in plan.case.parties] == ["p1", "p2", "p3"]


def test_a_duplicate_solved_changes_nothing():
    first = on_case_solved(None, solved(), now=sh(2026, 11, 22, 15, 0), rules=RULES)
    again = on_case_solved(first.case, solved(at=sh(2026, 11, 23, 9, 0)), now=sh(2026, 11, 23, 9, 0), rules=RULES)
    assert not again.changed and again.case == first.case


def test_a_case_solved_the_day_it_was_accepted():
    first = on_case_accepted(None, accepted(at=sh(2026, 11, 20, 9, 0)), now=sh(2026, 11, 20, 9, 0), rules=RULES)
    plan = on_case_solved(
        first.case,
        solved(at=sh(2026, 11, 20, 17, 0), parties=(P1, P2)),
        now=sh(2026, 11, 20, 17, 0),
        rules=RULES,
        open_unsolved=first.schedule,
    )
    assert [c.state for c in first.schedule] == ["superseded", "superseded"]
    assert [c.due_at for c in plan.schedule] == [sh(2026, 11, 24, 0, 0)] * 2


def test_solved_before_accepted_then_the_late_accepted_creates_no_7_day_callback():
    early = on_case_solved(None, solved(), now=sh(2026, 11, 22, 15, 0), rules=RULES)
    assert early.case.solved and not early.case.accepted
    assert [(c.party_id, c.officer_id) for c in early.schedule] == [("p1", None), ("p3", None)]
    late = on_case_accepted(early.case, accepted(), now=sh(2026, 11, 22, 15, 5), rules=RULES)
    assert all(c.rule == "solved_3d" for c in late.schedule)
    assert [c.party_id for c in late.schedule] == ["p2"]  # only the accepted event names p2
    assert late.schedule[0].due_at == sh(2026, 11, 26, 0, 0)  # from the solving, not the acceptance
    assert late.schedule[0].officer_id == "P1001"
    assert late.assign == [callback_id_for("A2026-0042", p, "solved_3d") for p in ("p1", "p3")]
    assert late.case.accepted and late.case.solved and late.case.officer_id == "P1001"
    assert [p.party_id for p in late.case.parties] == ["p1", "p3", "p2"]
    # and the accepted event again: nothing
    assert not on_case_accepted(late.case, accepted(), now=sh(2026, 11, 22, 16, 0), rules=RULES).changed


def test_holiday_warnings_are_returned_for_the_caller_to_log():
    rules = CallbackRules(holiday_extension=True, calendars=(ChineseCalendar(),))
    plan = on_case_accepted(None, accepted(at=sh(2026, 12, 28, 10, 0)), now=sh(2026, 12, 28, 10, 0), rules=rules)
    assert len(plan.warnings) == 1 and "2027" in plan.warnings[0]
    assert plan.schedule[0].due_at == sh(2027, 1, 5, 0, 0)


def test_holiday_extension_applies_to_the_case_rules():
    rules = CallbackRules(holiday_extension=True, calendars=(ChineseCalendar(),))
    plan = on_case_accepted(None, accepted(at=sh(2026, 9, 24, 10, 0)), now=sh(2026, 9, 24, 10, 0), rules=rules)
    assert plan.schedule[0].due_at == sh(2026, 10, 9, 0, 0)


def test_case_record_round_trip_with_naive_datetimes():
    plan = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 10, 0), rules=RULES)
    doc = plan.case.to_dict()
    doc["accepted_at"] = doc["accepted_at"].astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    loaded = Case.from_dict(doc)
    assert loaded == plan.case
    assert Case.from_dict({"case_id": "A1"}) == Case("A1")


def test_now_and_start_differ_the_send_time_follows_now():
    plan = on_case_accepted(None, accepted(), now=sh(2026, 11, 20, 23, 0), rules=RULES)
    assert plan.schedule[0].send_at == sh(2026, 11, 21, 8, 0)
    assert plan.schedule[0].start_at == sh(2026, 11, 20, 10, 0)
    assert plan.schedule[0].due_at - plan.schedule[0].start_at == timedelta(days=7, hours=14)
