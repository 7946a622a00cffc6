"""mediation's use cases on in-memory adapters, a fake publisher and a fake clock: no servers, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.alerts import AlertClosed
from common.contracts.community import VisitRecorded
from common.errors import Invalid, NotFound, Refused
from common.fakes import FakePublisher
from common.repository import RELAY_GRACE
from mediation import domain, handlers
from mediation.bootstrap import wire_in_memory
from mediation.handlers import Mediation, Report
from mediation.settings import MediationSettings

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)  # 08:15 at the station


@pytest.fixture
def m() -> Mediation:
    return wire_in_memory(MediationSettings(), FakeClock(START), FakePublisher())


def report(**overrides) -> Report:
    told = {
        "source": "visit", "reported_by": "P1001", "category": "neighbour", "summary": "两户居民为烧烤排烟争吵",
        "parties": (domain.Party("p1", "王某", phone="13800138001"), domain.Party("p2", "宋某", phone="13800138002")),
        "address": "洗耳池小区3栋", "unit_id": "G1", "officer_id": "P1001",
    }
    return Report(**(told | overrides))


def closed_alert(alert_id: str, **overrides) -> AlertClosed:
    body = {
        "alert_id": alert_id, "at": "2026-11-23T09:00:00+08:00", "unit_id": "G1", "officer_id": "P101",
        "officers": [],
        "disposition": "referred_to_mediation", "category": "dispute", "priority": 2,
        "location": {"lon": 118.96, "lat": 25.23, "address": "枫亭镇某村"}, "summary": "邻居因烧烤排烟争吵",
        "caller_phone": "13800138000", "received_at": "2026-11-23T08:50:00+08:00",
    }
    return AlertClosed.model_validate(body | overrides)


async def test_a_report_opens_once_per_request_id_and_is_published(m: Mediation) -> None:
    dispute, opened = await handlers.report_dispute(m, report(), "req-1")
    again, opened_again = await handlers.report_dispute(m, report(), "req-1")
    assert opened and not opened_again and again.dispute_id == dispute.dispute_id
    assert m.publisher.msg_ids == [f"{dispute.dispute_id}/opened/1"]
    assert m.publisher.on("disputes.opened")[0]["first_contact_due_at"] == "2026-11-23T16:00:00Z"  # 24:00 local


async def test_actions_record_history_publish_in_order_and_refusals_change_nothing(m: Mediation) -> None:
    dispute, _ = await handlers.report_dispute(m, report())
    ident = dispute.dispute_id
    with pytest.raises(Refused, match="it is reported"):
        await handlers.resolve(m, ident, actor="P1001", terms="x", signatures={})
    m.clock.advance(hours=2)
    await handlers.contact(m, ident, actor="P1001", note="上门")
    escalated = await handlers.escalate(m, ident, actor="P1001", to_level=None, reason="社区调解未果")
    assert (escalated.state, escalated.level, escalated.version) == ("escalated", "village", 3)
    assert m.publisher.msg_ids == [f"{ident}/opened/1", f"{ident}/contacted/2", f"{ident}/escalated/3"]
    with pytest.raises(NotFound, match="dispute 'D-nope' not found"):
        await handlers.contact(m, "D-nope", actor="P1001", note="")


async def test_a_followup_visit_is_saved_though_it_publishes_nothing(m: Mediation) -> None:
    dispute, _ = await handlers.report_dispute(m, report())
    ident = dispute.dispute_id
    await handlers.contact(m, ident, actor="P1001", note="")
    signatures = {"p1": "王某", "p2": "宋某", "mediator": "翟文杰", "witness": "李某"}
    await handlers.resolve(m, ident, actor="P1001", terms="加装排烟管道", signatures=signatures)
    published = len(m.publisher.published)
    visited = await handlers.record_followup(m, ident, actor="P1001", note="回访，双方满意")
    assert visited.followup_done_at == START and len(m.publisher.published) == published
    assert (await handlers.load(m, ident)).followup_done_at == START


async def test_parties_that_cannot_open_a_dispute_are_invalid_naming_the_field(m: Mediation) -> None:
    twins = (domain.Party("p1", "王某"), domain.Party("p1", "宋某"))
    with pytest.raises(Invalid) as refused:
        await handlers.report_dispute(m, report(parties=twins))
    assert refused.value.field == "parties" and "unique" in refused.value.reason
    assert m.disputes.documents == {}


async def test_the_first_contact_deadline_fires_once_at_the_second_and_survives_a_broker_outage(m: Mediation) -> None:
    dispute, _ = await handlers.report_dispute(m, report())
    ident = dispute.dispute_id
    end_of_day = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 24:00 at the station, the day it was reported
    assert dispute.first_contact_due_at == end_of_day
    m.clock.set(end_of_day - timedelta(seconds=1))
    assert await handlers.sweep_deadlines(m) == 0
    m.publisher.away = True
    m.clock.set(end_of_day)
    assert await handlers.sweep_deadlines(m) == 1
    assert await handlers.sweep_deadlines(m) == 0  # flagged once: no longer due
    assert (await m.disputes.get(ident)).aggregate.overdue
    m.publisher.away = False
    assert await m.uow.relay(now=datetime.now(UTC) + RELAY_GRACE) == 1
    assert m.publisher.msg_ids[-1].startswith(f"{ident}/overdue/")


async def test_a_dispute_reported_at_21_is_overdue_at_12_00_01_the_next_day_not_at_11_59_59(m: Mediation) -> None:
    m.clock.set(datetime(2026, 11, 23, 13, 0, tzinfo=UTC))  # 21:00 at the station
    dispute, _ = await handlers.report_dispute(m, report())
    noon = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 the next day at the station
    m.clock.set(noon - timedelta(seconds=1))
    assert await handlers.sweep_deadlines(m) == 0
    assert not (await m.disputes.get(dispute.dispute_id)).aggregate.overdue
    m.clock.set(noon + timedelta(seconds=1))
    assert await handlers.sweep_deadlines(m) == 1
    overdue = m.publisher.on("disputes.overdue")
    assert [(e["dispute_id"], e["due_at"]) for e in overdue] == [(dispute.dispute_id, "2026-11-24T04:00:00Z")]


async def test_the_evening_hours_are_settings(m: Mediation) -> None:
    m.settings = m.settings.model_copy(update={"first_contact_evening_from": time(18, 0),
                                               "first_contact_next_day_by": time(9, 30)})
    m.clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))  # 18:00 at the station
    dispute, _ = await handlers.report_dispute(m, report())
    assert dispute.first_contact_due_at == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 09:30 the next day


async def test_an_alert_referred_to_mediation_opens_one_dispute_and_a_threat_raises_an_alert(m: Mediation) -> None:
    await handlers.open_from_alert(m, closed_alert("110-1", summary="对方扬言要用刀砍他"))
    await handlers.open_from_alert(m, closed_alert("110-1", summary="对方扬言要用刀砍他"))  # redelivered
    await handlers.open_from_alert(m, closed_alert("110-2", disposition="no_action"))
    assert list(m.disputes.documents) == ["D-110-1"]
    raised = m.publisher.on("alerts.received")
    assert [(a["alert_id"], a["priority"], a["source"]) for a in raised] == [("MED-D-110-1", 1, "mediation")]
    dispute = await handlers.load(m, "D-110-1")
    assert (dispute.level, dispute.high_risk) == ("community", True)


async def test_a_second_dispute_of_the_same_people_within_90_days_is_a_recurrence(m: Mediation) -> None:
    first, _ = await handlers.report_dispute(m, report())
    m.clock.advance(days=89)
    second, _ = await handlers.report_dispute(m, report(address="别处"))
    m.clock.advance(days=2)
    third, _ = await handlers.report_dispute(m, report(parties=(domain.Party("p9", "李某", phone="13900000000"),),
                                                       address="另一处"))
    assert second.recurrence_of == first.dispute_id
    assert third.recurrence_of is None


async def test_a_visits_dispute_findings_open_one_dispute_each_at_the_community_gate_whatever_the_deliveries(
        m: Mediation) -> None:
    visit = VisitRecorded.model_validate({
        "visit_id": "V-20261123-0a1b2c3d", "at": "2026-11-23T09:00:00+08:00",
        "visited_at": "2026-11-23T08:30:00+08:00", "month": "2026-11", "officer_id": "P1001", "unit_id": "G1",
        "household": "王某家", "address": "洗耳池小区3栋201", "lon": 118.9655, "lat": 25.2265,
        "findings": [
            {"kind": "hazard", "summary": "电瓶车楼道充电", "hazard_kind": "electric", "severity": "minor",
             "responsible_unit": "物业"},
            {"kind": "dispute", "summary": "楼上楼下为烧烤排烟争吵", "category": "neighbour",
             "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}]},
        ]})
    await handlers.open_from_visit(m, visit)
    await handlers.open_from_visit(m, visit)  # redelivered
    dispute = await handlers.load(m, handlers.dispute_id_for_finding(visit.visit_id, 1))
    assert (dispute.source, dispute.source_ref, dispute.level, dispute.unit_id, dispute.officer_id) == \
        ("visit", visit.visit_id, "community", "G1", "P1001")
    assert (dispute.address, dispute.reported_at) == ("洗耳池小区3栋201", visit.at)
    assert [e["dispute_id"] for e in m.publisher.on("disputes.opened")] == [dispute.dispute_id]
