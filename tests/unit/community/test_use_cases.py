"""community's use cases on in-memory adapters: visits, findings, hazards, key persons, the monthly sheet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts import community as contract
from common.contracts.alerts import AlertAcknowledged, AlertAssigned, GridReplaced
from common.contracts.callbacks import CallbackCompleted, CallbackOverdue
from common.contracts.disputes import DisputeResolved
from common.contracts.ratings import RatingReceived
from common.errors import Conflict, Invalid, NotFound, Refused
from community import handlers
from community.domain.visits import Finding, Party
from community.handlers import Community

from .conftest import G1, START, sample_grid


async def visit(c: Community, **overrides) -> tuple:
    told = {"officer_id": "P1001", "visited_at": START - timedelta(hours=1), "household": "王某家",
            "address": "洗耳池小区3栋201", "lon": G1[0], "lat": G1[1], "met": ["王某", "王某之妻"],
            "opinions": "楼上烧烤排烟，邻里吵架"}
    return await handlers.record_visit(c, **(told | overrides))


def published(c: Community, subject: str) -> list[dict]:
    return c.publisher.on(subject)  # type: ignore[attr-defined]


async def test_a_visit_is_put_in_the_unit_whose_zone_holds_it_and_published_once_per_request_id(c: Community) -> None:
    first, new = await visit(c, request_id="app-1")
    again, new_again = await visit(c, request_id="app-1")
    assert (new, new_again, again.visit_id) == (True, False, first.visit_id)
    assert first.unit_id == "G1"
    [event] = published(c, "visits.recorded")
    assert (event["visit_id"], event["unit_id"], event["month"], event["officer_id"]) == \
        (first.visit_id, "G1", "2026-11", "P1001")


async def test_a_household_outside_every_zone_or_in_another_units_zone_is_refused_naming_the_field(
        c: Community) -> None:
    with pytest.raises(Invalid) as outside:
        await visit(c, lon=100.0, lat=30.0)
    with pytest.raises(Invalid) as other:
        await visit(c, unit_id="G2")
    assert (outside.value.field, other.value.field) == ("lon", "unit_id")


async def test_no_grid_yet_is_a_conflict_not_a_crash(clock: FakeClock) -> None:
    from common.fakes import FakePublisher
    from community.bootstrap import wire_in_memory
    from community.settings import CommunitySettings

    bare = wire_in_memory(CommunitySettings(environment="test"), clock, FakePublisher())
    with pytest.raises(Conflict, match="grid"):
        await visit(bare)


async def test_a_visit_in_the_future_or_older_than_a_week_is_refused(c: Community) -> None:
    with pytest.raises(Invalid, match="future"):
        await visit(c, visited_at=START + timedelta(minutes=5, seconds=1))
    await visit(c, visited_at=START + timedelta(minutes=5))
    with pytest.raises(Invalid, match="within 7 days"):
        await visit(c, visited_at=START - timedelta(days=7, seconds=1))
    await visit(c, visited_at=START - timedelta(days=7))


async def test_findings_open_a_hazard_and_note_a_key_person_once_however_often_the_visit_comes(c: Community) -> None:
    person, _ = await handlers.register_key_person(c, name="李某", category="社区矫正", risk_level="high",
                                                   officer_id="P1001")
    findings = [
        Finding("dispute", "两户为烧烤排烟争吵，一方扬言动刀", "neighbour", (Party("p1", "宋某", "13800138002"),)),
        Finding("hazard", "楼道堆放电瓶车充电", hazard_kind="electric", severity="serious",
                responsible_unit="洗耳池小区物业"),
        Finding("key_person", "近期情绪不稳，与家人争吵", person_id=person.person_id),
    ]
    v, _ = await visit(c, findings=findings)
    event = contract.VisitRecorded.model_validate(published(c, "visits.recorded")[0])
    await handlers.follow_findings(c, event)
    await handlers.follow_findings(c, event)  # redelivered
    hazard = await c.hazard_uow.get(handlers.hazard_id_for_finding(v.visit_id, 1))
    assert (hazard.source, hazard.source_ref, hazard.unit_id, hazard.due_at) == \
        ("visit", v.visit_id, "G1", v.visited_at + timedelta(days=7))
    noted = await c.person_uow.get(person.person_id)
    assert [(n.source, n.source_ref) for n in noted.notes] == [("visit", f"{v.visit_id}.2")]
    assert len(published(c, "hazards.reported")) == 1 and len(published(c, "keypersons.noted")) == 1


async def test_a_finding_about_an_unregistered_person_is_refused_naming_it(c: Community) -> None:
    with pytest.raises(Invalid) as refused:
        await visit(c, findings=[Finding("key_person", "见到了", person_id="K-nobody")])
    assert refused.value.field == "findings.0.person_id"


async def test_the_quota_progress_counts_the_officers_visits_of_the_month(c: Community) -> None:
    for i in range(3):
        await visit(c, request_id=f"r{i}")
    await visit(c, officer_id="P1002")
    progress = await handlers.visit_progress(c, "P1001", "2026-11")
    assert progress == {"officer_id": "P1001", "month": "2026-11", "visits": 3, "quota": 60, "remaining": 57,
                        "reached": False}
    assert (await handlers.visit_progress(c, "P1001", "2026-10"))["visits"] == 0


async def test_a_hazard_goes_from_reported_to_verified_and_one_left_open_falls_overdue_once(
        c: Community, clock: FakeClock) -> None:
    fixed, _ = await handlers.report_hazard(c, reported_by="信息员-张", place="枫亭镇某厂", kind="fire",
                                            severity="major", responsible_unit="某厂")
    left, _ = await handlers.report_hazard(c, reported_by="信息员-张", place="某村", kind="gas", severity="major",
                                           responsible_unit="某村委")
    await handlers.act_on_hazard(c, fixed.hazard_id, lambda h, now: h.assign(now=now, actor="所长", officer_id="P1001"))
    await handlers.act_on_hazard(c, fixed.hazard_id, lambda h, now: h.rectify(now=now, actor="某厂"))
    with pytest.raises(Refused):
        await handlers.act_on_hazard(c, fixed.hazard_id, lambda h, now: h.rectify(now=now, actor="某厂"))
    done = await handlers.act_on_hazard(c, fixed.hazard_id,
                                        lambda h, now: h.verify(now=now, actor="P1001", passed=True))
    assert done.state == "verified"
    clock.set(START + timedelta(days=3) - timedelta(seconds=1))
    assert await handlers.sweep_deadlines(c) == 0
    clock.set(START + timedelta(days=3))
    assert await handlers.sweep_deadlines(c) == 1
    assert await handlers.sweep_deadlines(c) == 0
    [overdue] = published(c, "hazards.overdue")
    assert overdue["hazard_id"] == left.hazard_id
    assert [r["responsible_unit"] for r in await handlers.hazard_counts(c, "2026-11")] == ["某厂", "某村委"]
    counts = {r["responsible_unit"]: r for r in await handlers.hazard_counts(c, "2026-11")}
    assert (counts["某厂"]["verified"], counts["某村委"]["overdue"]) == (1, 1)
    assert await handlers.hazard_counts(c, "2026-11", "unit_id") == [
        {"unit_id": "-", "reported": 2, "assigned": 0, "rectified": 0, "verified": 1, "overdue": 1}]


async def test_a_key_persons_review_falls_overdue_once_and_a_review_sets_the_next_by_the_cadence(
        c: Community, clock: FakeClock) -> None:
    person, _ = await handlers.register_key_person(c, name="李某", id_number="350322199001011234",
                                                   category="社区矫正", risk_level="high", officer_id="P1002")
    assert (person.unit_id, person.next_review_due_at) == ("G1", START + timedelta(days=30))
    clock.set(START + timedelta(days=30))
    assert await handlers.sweep_deadlines(c) == 1
    assert await handlers.sweep_deadlines(c) == 0
    [overdue] = published(c, "keypersons.review_overdue")
    assert (overdue["person_id"], overdue["officer_id"]) == (person.person_id, "P1002")
    reviewed = await handlers.act_on_key_person(c, person.person_id, lambda p, now: p.review(
        now=now, actor="P1002", risk_level="medium"))
    assert (reviewed.overdue, reviewed.next_review_due_at) == (False, clock.now() + timedelta(days=90))
    assert "李某" not in str(published(c, "keypersons.registered"))


async def test_every_read_of_the_register_is_recorded(c: Community) -> None:
    person, _ = await handlers.register_key_person(c, name="李某", category="吸毒", risk_level="low", officer_id="P1")
    await handlers.read_key_persons(c, [person], who="dev-…", roles={"viewer"}, route="/v1/keypersons", whole=False)
    [read] = c.audit.reads  # type: ignore[attr-defined]
    assert (read.ids, read.roles, read.whole) == ((person.person_id,), ("viewer",), False)


def _event(model, **body):
    return model.model_validate(body)


async def test_the_sheet_counts_each_fact_of_each_service_once_in_the_month_it_happened(c: Community) -> None:
    at = "2026-11-20T10:00:00+08:00"
    facts = [
        _event(CallbackCompleted, callback_id="cb-1", case_id="A1", party_id="p1", at=at, officer_id="P1001",
               rule="solved_3d", channel="phone", reached=True, completed_by="P1001", late=False),
        _event(CallbackOverdue, callback_id="cb-2", case_id="A1", party_id="p2", at=at, officer_id="P1001",
               rule="solved_3d", due_at=at),
        _event(CallbackCompleted, callback_id="cb-2", case_id="A1", party_id="p2", at=at, officer_id="P1001",
               rule="solved_3d", channel="phone", reached=True, completed_by="P1001", late=True),
        _event(RatingReceived, rating_id="r1", at=at, officer_id="P1001", subject_type="alert", subject_id="a1",
               channel="sms", level="basically", week="2026-W47"),
        _event(RatingReceived, rating_id="r2", at=at, officer_id="P1001", subject_type="alert", subject_id="a2",
               channel="sms", level="dissatisfied", week="2026-W47"),
        _event(DisputeResolved, dispute_id="D-1", at=at, actor="村调委", level="village", followup_due_at=at,
               officer_id="P1001"),
        _event(AlertAssigned, alert_id="110-1", at=at, unit_id="G1", reason="zone", distance_m=10, attempt=1,
               ack_due_at=at, officers=["P1001", "P1002", "P1003"], category="noise", priority=2,
               location={"lon": 118.96, "lat": 25.22}),
        _event(AlertAcknowledged, alert_id="110-1", at=at, unit_id="G1", seconds_to_ack=20,
               officers=["P1001", "P1002", "P1003"]),
        _event(contract.HazardVerified, hazard_id="H-1", at=at, actor="P1001", officer_id="P1001",
               responsible_unit="某厂", severity="minor", late=False),
    ]
    handle = {CallbackCompleted: handlers.count_callback, CallbackOverdue: handlers.count_callback,
              RatingReceived: handlers.count_rating, DisputeResolved: handlers.count_settlement,
              AlertAssigned: handlers.count_assignment, AlertAcknowledged: handlers.count_acknowledgement,
              contract.HazardVerified: handlers.count_rectification}
    for fact in facts + facts:  # every fact delivered twice
        await handle[type(fact)](c, fact)
    await visit(c)
    await handlers.count_visit(c, contract.VisitRecorded.model_validate(published(c, "visits.recorded")[0]))
    sheets = await c.sheets.of_month("2026-11")
    assert sheets["P1001"] == {"callbacks_due": 2, "callbacks_in_time": 1, "ratings": 2, "ratings_satisfied": 1,
                               "disputes_village": 1, "alerts_assigned": 1, "alerts_acked": 1,
                               "hazards_rectified": 1, "visits": 1}
    rows = {r.ident: r for r in await handlers.scorecard(c, "2026-11", "officer")}
    assert {"P1001", "P1002", "P1003", "P1006"} <= set(rows)  # every officer of the grid, with or without facts
    items = {i.key: i for i in rows["P1001"].items}
    assert (items["visits"].value, items["visits"].of, items["callbacks"].ratio, items["satisfaction"].ratio,
            items["disputes"].value, items["alerts"].ratio, items["hazards"].value) == (1, 60, 0.5, 0.5, 1, 1.0, 1)
    assert rows["P1001"].total == round(30 / 60 + 7.5 + 10 + 7.5 + 10 + 5, 2)
    units = {r.ident: r for r in await handlers.scorecard(c, "2026-11", "unit")}
    assert units["G1"].members == 3 and {i.key: i for i in units["G1"].items}["visits"].of == 180


async def test_a_fact_without_an_officer_is_not_counted_and_an_older_grid_is_not_kept(c: Community) -> None:
    await handlers.count_rating(c, _event(RatingReceived, rating_id="r9", at="2026-11-20T10:00:00+08:00",
                                          subject_type="alert", subject_id="a9", channel="sms", level="satisfied",
                                          week="2026-W47"))
    assert await c.sheets.of_month("2026-11") == {}
    await handlers.keep_grid(c, GridReplaced(grid_version=0, units=0, at=START, grid={"features": []}))
    assert (await c.grid.current()).version == 1
    with pytest.raises(Invalid):
        await handlers.keep_grid(c, GridReplaced(grid_version=2, units=1, at=START,
                                                 grid={"features": [{"properties": {}}]}))
    assert len((await c.grid.current()).units) == len(sample_grid()["features"])


async def test_a_note_on_a_person_not_in_the_register_is_not_found_after_the_visits_hazards_are_open(
        c: Community) -> None:
    event = contract.VisitRecorded.model_validate({
        "visit_id": "V-1", "at": "2026-11-23T09:00:00+08:00", "visited_at": "2026-11-23T08:00:00+08:00",
        "month": "2026-11", "officer_id": "P1001", "unit_id": "G1", "household": "户", "address": "某地",
        "lon": G1[0], "lat": G1[1], "findings": [
            {"kind": "key_person", "summary": "见到", "person_id": "K-gone"},
            {"kind": "hazard", "summary": "电线老化", "hazard_kind": "electric", "severity": "minor",
             "responsible_unit": "物业"}]})
    with pytest.raises(NotFound):
        await handlers.follow_findings(c, event)
    assert (await c.hazard_uow.get("H-V-1.1")).source_ref == "V-1"


async def test_the_scorecards_totals_follow_each_sheet_save_and_a_crash_before_them_is_relayed(
        c: Community) -> None:
    at = "2026-11-20T10:00:00+08:00"
    rating = {"at": at, "officer_id": "P1001", "subject_type": "alert", "subject_id": "a1", "channel": "sms",
              "level": "satisfied", "week": "2026-W47"}
    await handlers.count_rating(c, RatingReceived.model_validate({**rating, "rating_id": "r1"}))
    assert await c.totals.of_month("2026-11") == {"P1001": {"ratings": 1, "ratings_satisfied": 1}}
    await c.totals.put("P1001", "2026-11", {"ratings": 0}, 1)  # an older version's copy arriving late
    assert (await c.totals.of_month("2026-11"))["P1001"]["ratings"] == 1
    kept = c.totals

    class Away:
        async def put(self, *args: object) -> None:
            raise ConnectionError("the store is away")

    c.totals = Away()  # type: ignore[assignment]  # the save lands, its effect cannot: it stays staged
    await handlers.count_rating(c, RatingReceived.model_validate({**rating, "rating_id": "r2"}))
    c.totals = kept
    assert (await c.totals.of_month("2026-11"))["P1001"]["ratings"] == 1
    assert await c.sheet_uow.relay(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert (await c.totals.of_month("2026-11"))["P1001"]["ratings"] == 2
