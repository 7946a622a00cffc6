"""notify's callback use cases on in-memory stores, a fake publisher and a fake clock (ms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.cases import CaseAccepted, CaseSolved
from common.contracts.sms import SmsAnsweredNotify, SmsDeliveryNotify
from common.errors import NotFound, Refused
from common.fakes import FakePublisher
from common.repository import RELAY_GRACE
from notify import handlers
from notify.adapters.store import CallbackQuery, InMemoryCallbacks, memory_cases
from notify.domain import UNASSIGNED, callback_id_for
from notify.handlers import Notify
from notify.settings import NotifySettings
from tests.unit.notify.station_time import sh

CASE = "A2026-0042"
P1 = {"party_id": "p1", "name": "王某", "phone": "13800138001", "role": "victim"}
P2 = {"party_id": "p2", "name": "李某", "phone": "13800138002", "role": "suspect"}
NO_PHONE = {"party_id": "p3", "name": "张某", "role": "witness"}


@pytest.fixture
def n() -> Notify:
    settings = NotifySettings(officers={"P1001": {"name": "张伟", "phone": "13900000001"}})
    return Notify(settings, FakeClock(sh(2026, 11, 20, 10, 0)), FakePublisher(), InMemoryCallbacks(), memory_cases())


def accepted(at: str = "2026-11-20T10:00:00+08:00", parties=(P1, P2), case_id: str = CASE) -> CaseAccepted:
    return CaseAccepted.model_validate({"case_id": case_id, "kind": "criminal", "accepted_at": at,
                                        "officer_id": "P1001", "unit_id": "G1", "parties": list(parties)})


def solved(at: str = "2026-11-22T15:00:00+08:00", parties=(P1, P2)) -> CaseSolved:
    return CaseSolved.model_validate({"case_id": CASE, "solved_at": at, "parties": list(parties)})


def cb(party: str, rule: str = "unsolved_7d") -> str:
    return callback_id_for(CASE, party, rule)


def delivery(sms_id: str, status: str, detail: str = "", **extra) -> SmsDeliveryNotify:
    body = {"sms_id": sms_id, "phone": "13800138001", "status": status, "purpose": "callback",
            "requested_by": "notify", "ref": sms_id.rsplit(".", 1)[0], "at": "2026-11-20T10:00:05+08:00",
            "detail": detail}
    return SmsDeliveryNotify.model_validate(body | extra)


async def test_accepted_schedules_one_callback_per_party_once_whatever_the_duplicates(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    await handlers.case_accepted(n, accepted())  # redelivered, or resent under a new msg id
    scheduled = n.publisher.on("callbacks.scheduled")
    assert sorted(e["party_id"] for e in scheduled) == ["p1", "p2"]
    assert {e["due_at"] for e in scheduled} == {"2026-11-27T16:00:00Z"}  # end of 11-27 local, start day not counted
    assert {e["send_at"] for e in scheduled} == {"2026-11-20T02:00:00Z"}
    p1 = await handlers.load(n, cb("p1"))
    assert (p1.state, p1.officer_id, p1.unit_id, p1.version) == ("scheduled", "P1001", "G1", 1)
    assert len(n.publisher.published) == 2


async def test_the_sms_goes_once_inside_the_allowed_hours_as_a_staged_command(n: Notify) -> None:
    n.clock.set(sh(2026, 11, 20, 23, 0))
    await handlers.case_accepted(n, accepted("2026-11-20T23:00:00+08:00", parties=(P1,)))
    assert await handlers.sweep(n) == 0 and n.publisher.on("sms.send") == []
    n.clock.set(sh(2026, 11, 21, 7, 59, 59))
    assert await handlers.sweep(n) == 0
    n.clock.set(sh(2026, 11, 21, 8, 0))
    assert await handlers.sweep(n) == 1
    assert await handlers.sweep(n) == 0  # fired once: nothing is due any more
    [send] = n.publisher.on("sms.send")
    assert send["sms_id"] == f"{cb('p1')}.1" and send["ref"] == cb("p1")
    assert (send["purpose"], send["requested_by"], send["phone"]) == ("callback", "notify", "13800138001")
    assert send["not_before"] == "2026-11-21T00:00:00Z"
    assert "【枫亭派出所】王某您好" in send["text"] and "正在办理中" in send["text"] and "张伟" in send["text"]
    assert "13900000001" in send["text"]
    [sent] = n.publisher.on("callbacks.sent")
    assert (sent["message_id"], sent["attempt"]) == (f"{cb('p1')}.1", 1)
    assert n.publisher.msg_ids[-1] == f"{cb('p1')}.1"  # the command's msg id is its sms_id


async def test_delivery_reports_move_the_callback_and_foreign_ones_change_nothing(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    await handlers.sweep(n)
    sms_id = f"{cb('p1')}.1"
    await handlers.sms_delivery(n, delivery(sms_id, "sent"))
    await handlers.sms_delivery(n, delivery(sms_id, "delivered", requested_by="rating", purpose="survey"))
    assert (await handlers.load(n, cb("p1"))).state == "sent"
    await handlers.sms_delivery(n, delivery(sms_id, "delivered"))
    await handlers.sms_delivery(n, delivery(sms_id, "delivered"))  # doubled: once
    assert (await handlers.load(n, cb("p1"))).state == "delivered"
    assert [e["message_id"] for e in n.publisher.on("callbacks.delivered")] == [sms_id]
    with pytest.raises(NotFound):
        await handlers.sms_delivery(n, delivery("cb-000000000000000000000000.1", "delivered"))


async def test_a_failed_send_is_retried_with_backoff_then_undeliverable_opens_a_manual_task(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    await handlers.sweep(n)
    await handlers.sms_delivery(n, delivery(f"{cb('p1')}.1", "failed", "gateway_down_gave_up"))
    retried = await handlers.load(n, cb("p1"))
    assert (retried.state, retried.send_at) == ("scheduled", sh(2026, 11, 20, 10, 1))
    n.clock.advance(seconds=59)
    assert await handlers.sweep(n) == 0
    n.clock.advance(seconds=1)
    await handlers.sweep(n)
    assert [s["sms_id"] for s in n.publisher.on("sms.send")] == [f"{cb('p1')}.1", f"{cb('p1')}.2"]
    await handlers.sms_delivery(n, delivery(f"{cb('p1')}.1", "failed", "undeliverable"))  # stale: ignored
    assert (await handlers.load(n, cb("p1"))).state == "sent"
    await handlers.sms_delivery(n, delivery(f"{cb('p1')}.2", "failed", "undeliverable: absent subscriber"))
    manual = await handlers.load(n, cb("p1"))
    assert manual.state == "manual" and "cannot be delivered" in manual.manual_reason
    [task] = n.publisher.on("callbacks.manual")
    assert (task["officer_id"], task["due_at"]) == ("P1001", "2026-11-27T16:00:00Z")


async def test_opted_out_is_manual_at_once_and_rate_limited_waits_for_the_next_morning(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    await handlers.sweep(n)
    await handlers.sms_delivery(n, delivery(f"{cb('p1')}.1", "failed", "opted_out"))
    await handlers.sms_delivery(n, delivery(f"{cb('p2')}.1", "failed", "rate_limited"))
    assert (await handlers.load(n, cb("p1"))).state == "manual"
    later = await handlers.load(n, cb("p2"))
    assert (later.state, later.send_at) == ("scheduled", sh(2026, 11, 21, 8, 0))


async def test_a_party_without_a_phone_is_a_manual_task_for_the_officer_today(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1, NO_PHONE)))
    manual = await handlers.load(n, cb("p3"))
    assert manual.state == "manual" and manual.manual_reason == "the party has no phone number"
    today = await handlers.officers_day(n, "P1001")
    assert [c.callback_id for c in today] == [cb("p3")]  # p1's SMS has days left
    n.clock.set(sh(2026, 11, 26, 23, 59))
    assert len(await handlers.officers_day(n, "P1001")) == 1
    n.clock.set(sh(2026, 11, 27, 0, 0))  # the last day: p1's SMS gave way to the officer at midnight
    assert {c.callback_id for c in await handlers.officers_day(n, "P1001")} == {cb("p1"), cb("p3")}
    assert await handlers.officers_day(n, UNASSIGNED) == []


async def test_solved_supersedes_the_open_7_day_callbacks_with_3_day_ones(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    n.clock.set(sh(2026, 11, 22, 15, 0, 5))
    await handlers.case_solved(n, solved(parties=(P1, NO_PHONE)))
    await handlers.case_solved(n, solved(parties=(P1, NO_PHONE)))  # a duplicate: the first solving counts
    listed = await handlers.find(n, CallbackQuery(case_id=CASE), limit=50, offset=0)
    states = {(c.party_id, c.rule): c.state for c in listed}
    assert states == {("p1", "unsolved_7d"): "superseded", ("p2", "unsolved_7d"): "superseded",
                      ("p1", "solved_3d"): "scheduled", ("p2", "solved_3d"): "scheduled",
                      ("p3", "solved_3d"): "manual"}
    three_day = await handlers.load(n, cb("p1", "solved_3d"))
    assert three_day.due_at == sh(2026, 11, 26, 0, 0) and three_day.officer_id == "P1001"
    assert sorted(e["superseded_by"] for e in n.publisher.on("callbacks.superseded")) == [
        cb("p1", "solved_3d"), cb("p2", "solved_3d")]
    with pytest.raises(Refused, match="superseded by"):
        await handlers.complete(n, cb("p1"), channel="phone", reached=True, opinion="", completed_by="P1001")


async def test_a_3_day_callback_is_written_only_once_its_7_day_one_is_superseded(n: Notify) -> None:
    """Whoever reads a party's solved_3d callback (the console, the officer's day) reads its 7-day
    one closed: the supersede is written before the new callback, never the other way round."""
    await handlers.case_accepted(n, accepted())
    seen: dict[str, str] = {}
    add = n.callbacks.add

    async def watching_add(aggregate, events):
        if aggregate.rule == "solved_3d":
            seen[aggregate.party_id] = (await handlers.load(n, cb(aggregate.party_id))).state
        return await add(aggregate, events)

    n.callbacks.add = watching_add  # type: ignore[method-assign]
    n.clock.set(sh(2026, 11, 22, 15, 0, 5))
    await handlers.case_solved(n, solved())
    assert seen == {"p1": "superseded", "p2": "superseded"}


async def test_solved_before_accepted_schedules_no_7_day_callback_and_names_the_officer_later(n: Notify) -> None:
    await handlers.case_solved(n, solved(parties=(P1,)))
    assert (await handlers.load(n, cb("p1", "solved_3d"))).officer_id is None
    await handlers.case_accepted(n, accepted(parties=(P1, P2)))
    listed = await handlers.find(n, CallbackQuery(case_id=CASE), limit=50, offset=0)
    assert sorted((c.party_id, c.rule) for c in listed) == [("p1", "solved_3d"), ("p2", "solved_3d")]
    assert {c.officer_id for c in listed} == {"P1001"}


async def test_overdue_once_with_an_event_for_leadership_and_a_late_case_is_overdue_at_once(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(NO_PHONE,)))
    n.clock.set(sh(2026, 11, 27, 23, 59, 59))
    await handlers.sweep(n)
    assert n.publisher.on("callbacks.overdue") == []
    n.clock.set(sh(2026, 11, 28, 0, 0))
    await handlers.sweep(n)
    await handlers.sweep(n)
    [overdue] = n.publisher.on("callbacks.overdue")
    assert (overdue["callback_id"], overdue["officer_id"], overdue["unit_id"]) == (cb("p3"), "P1001", "G1")
    leadership = await handlers.find(n, CallbackQuery(state="overdue"), limit=10, offset=0)
    assert [c.callback_id for c in leadership] == [cb("p3")]
    await handlers.case_accepted(n, accepted("2026-11-19T10:00:00+08:00", parties=(P1,), case_id="A2026-0001"))
    late = await handlers.load(n, callback_id_for("A2026-0001", "p1", "unsolved_7d"))
    assert late.state == "overdue" and len(n.publisher.on("callbacks.overdue")) == 2


async def test_complete_records_the_callback_and_refuses_a_second_time_with_when(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    n.clock.set(sh(2026, 11, 21, 9, 0))
    done = await handlers.complete(n, cb("p1"), channel="phone", reached=True, opinion="满意", completed_by="P1001")
    assert (done.state, done.late, done.channel) == ("done", False, "phone")
    [event] = n.publisher.on("callbacks.completed")
    assert (event["opinion"], event["late"], event["completed_by"]) == ("满意", False, "P1001")
    with pytest.raises(Refused, match="already done at 2026-11-21 01:00:00"):
        await handlers.complete(n, cb("p1"), channel="visit", reached=True, opinion="", completed_by="P1002")
    with pytest.raises(NotFound):
        await handlers.complete(n, "cb-nope", channel="phone", reached=True, opinion="", completed_by="P1001")
    assert await handlers.sweep(n) == 0  # a done callback has nothing left to fire


async def test_weekly_figures_count_in_time_late_and_overdue_by_unit_and_officer(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    n.clock.set(sh(2026, 11, 23, 0, 0))  # Monday of 2026-W48, local
    await handlers.complete(n, cb("p1"), channel="visit", reached=True, opinion="", completed_by="P1001")
    n.clock.set(sh(2026, 11, 28, 0, 0))
    await handlers.sweep(n)
    n.clock.set(sh(2026, 11, 30, 9, 0))  # the next week: made up late
    await handlers.complete(n, cb("p2"), channel="phone", reached=False, opinion="", completed_by="P1001")
    [w48] = await handlers.figures(n, "2026-W48", "unit")
    [w49] = await handlers.figures(n, "2026-W49", "officer")
    assert (w48.key, w48.done_in_time, w48.done_late, w48.overdue) == ("G1", 1, 0, 1)
    assert (w49.key, w49.done_in_time, w49.done_late, w49.overdue) == ("P1001", 0, 1, 0)


async def test_the_sweep_reads_only_what_is_due_up_to_its_limit_per_batch(n: Notify) -> None:
    n.settings.sweep_limit = 2
    for i in range(5):
        await handlers.case_accepted(n, accepted(parties=(P1,), case_id=f"A-{i}"))
    assert await handlers.sweep(n, batches=1) == 2
    assert await handlers.sweep(n) == 3  # full batches follow each other within one tick
    assert len(n.publisher.on("sms.send")) == 5 and await handlers.sweep(n) == 0


async def test_a_broker_outage_keeps_the_sms_command_staged_until_the_relay(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    n.publisher.away = True
    await handlers.sweep(n)
    assert n.callbacks.staged_now(cb("p1")) and n.publisher.on("sms.send") == []
    n.publisher.away = False
    assert await n.uow.relay(now=datetime.now(UTC) + RELAY_GRACE)  # the relay keeps wall time == 2
    assert [s["sms_id"] for s in n.publisher.on("sms.send")] == [f"{cb('p1')}.1"]


def answered(text: str, callback_id: str, phone: str = "13800138001", opt_out: bool = False) -> SmsAnsweredNotify:
    return SmsAnsweredNotify.model_validate({
        "inbound_id": f"in-{len(text)}", "question_id": callback_id, "kind": "callback", "subject_id": callback_id,
        "phone": phone, "text": text, "received_at": "2026-11-20T10:05:00+08:00", "matched_by": "latest",
        "opt_out": opt_out})


async def test_the_partys_answer_completes_the_callback_with_its_level_and_td_makes_it_manual(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    await handlers.sweep(n)
    [sms] = [s for s in n.publisher.on("sms.send") if s["ref"] == cb("p1")]
    assert sms["question"]["question_id"] == cb("p1") and sms["question"]["code"] in sms["text"]
    await handlers.callback_answered(n, answered("1 满意，民警很负责", cb("p1")))
    await handlers.callback_answered(n, answered("ＴＤ", cb("p2"), phone="13800138002", opt_out=True))
    done = await handlers.load(n, cb("p1"))
    assert (done.state, done.channel, done.reached, done.opinion, done.level) == (
        "done", "sms", True, "1 满意，民警很负责", "satisfied")
    assert done.completed_by == "party-sms-reply" and done.objection is None
    assert (await handlers.load(n, cb("p2"))).state == "manual"
    await handlers.callback_answered(n, answered("2", cb("p1")))  # answered already: changes nothing
    [completed] = n.publisher.on("callbacks.completed")
    assert (completed["level"], completed["objection"]) == ("satisfied", False)


async def test_a_dissatisfied_answer_opens_an_objection_explained_or_escalated(n: Notify) -> None:
    await handlers.case_accepted(n, accepted())
    await handlers.sweep(n)
    await handlers.callback_answered(n, answered("3 处理太慢", cb("p1")))
    [opened] = n.publisher.on("callbacks.objection_opened")
    assert (opened["callback_id"], opened["why"], opened["comment"], opened["officer_id"]) == (
        cb("p1"), "dissatisfied", "3 处理太慢", "P1001")
    [listed] = await handlers.objections(n, "open", 10)
    assert listed.callback_id == cb("p1")
    explained = await handlers.explain_objection(n, opened["objection_id"], by="P1001", how="说明办案进度与法律依据",
                                                 outcome="still_objects", explained_at=None)
    assert (explained.objection, explained.escalation) == ("escalated", "still_objects")
    [escalated] = n.publisher.on("callbacks.objection_escalated")
    assert escalated["why"] == "still_objects"
    with pytest.raises(Refused):
        await handlers.explain_objection(n, opened["objection_id"], by="P1001", how="再次", outcome="accepted",
                                         explained_at=None)


async def test_an_unreadable_answer_gets_one_re_prompt_on_the_same_question(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    await handlers.sweep(n)
    await handlers.callback_answered(n, answered("1 不满意", cb("p1")))
    assert (await handlers.load(n, cb("p1"))).state == "sent"
    [_, again] = n.publisher.on("sms.send")
    assert (again["sms_id"], again["purpose"], again["question"]["question_id"]) == (
        f"{cb('p1')}.r", "reprompt", cb("p1"))
    await handlers.callback_answered(n, answered("满意…不满意", cb("p1")))  # unreadable again: done, no level
    done = await handlers.load(n, cb("p1"))
    assert (done.state, done.level, done.objection) == ("done", None, None)


async def test_a_long_failure_detail_still_makes_a_manual_task_event(n: Notify) -> None:
    n.settings.sms_retry_delays_s = []
    n.rules = handlers.callback_rules(n.settings)
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    await handlers.sweep(n)
    await handlers.sms_delivery(n, delivery(f"{cb('p1')}.1", "failed", "gateway_down_gave_up " + "x" * 470))
    [task] = n.publisher.on("callbacks.manual")
    assert task["reason"].startswith("SMS not delivered after 1 attempt(s): gateway_down_gave_up")


async def test_an_objection_not_explained_in_3_days_goes_to_leadership_once(n: Notify) -> None:
    await handlers.case_accepted(n, accepted(parties=(P1,)))
    await handlers.sweep(n)
    await handlers.complete(n, cb("p1"), channel="phone", reached=True, opinion="还是不满意", completed_by="P1001",
                            level="basically", objection=True)
    [opened] = n.publisher.on("callbacks.objection_opened")
    assert (opened["why"], opened["due_at"]) == ("recorded", "2026-11-23T02:00:00Z")  # 3 days after 10:00 local
    n.clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC) - timedelta(seconds=1))
    await handlers.sweep(n)
    assert n.publisher.on("callbacks.objection_escalated") == []
    n.clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # the deadline itself: missed
    await handlers.sweep(n)
    await handlers.sweep(n)
    [escalated] = n.publisher.on("callbacks.objection_escalated")
    assert (escalated["why"], escalated["objection_id"]) == ("deadline_missed", opened["objection_id"])
    assert [c.callback_id for c in await handlers.objections(n, "escalated", 10)] == [cb("p1")]
    rows = await handlers.figures(n, "2026-W47", "officer")
    assert (rows[0].basically, rows[0].objections_opened, rows[0].satisfaction_rate) == (1, 1, 1.0)
    assert (await handlers.figures(n, "2026-W48", "officer"))[0].objections_escalated == 1
