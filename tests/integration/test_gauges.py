"""The gauges on /metrics are read from the store off the request path: a waiting alert shows at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from common.timefmt import epoch_ms
from tests.support import PUBLISH_TIMEOUT_S, eventually

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


def _sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_an_alert_no_unit_can_take_is_counted_waiting_with_its_age(run_service, nc) -> None:
    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, gauges_interval_s=0.2) as disp:  # no grid: nobody can take it
        alert = {
            "alert_id": "110-20261123-000777", "received_at": (NOW - timedelta(seconds=90)).isoformat(),
            "category": "theft", "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇"},
            "caller_phone": "13800138000", "summary": "电动车被盗", "source": "110",
        }
        await nc.jetstream().publish(ALERTS_RECEIVED, json.dumps(alert, ensure_ascii=False).encode(),
                                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]})

        pending = 'fengqiao_consumer_pending_messages{consumer="dispatch-alerts-received"}'

        async def waiting() -> str | None:
            text = (await disp.http.get("/metrics")).text
            # the consumer's figure first shows at the refresh after the consumer is made (it may miss the first)
            shown = _sample(text, "fengqiao_alerts_waiting") == 1.0 and _sample(text, pending) is not None
            return text if shown else None

        text = await eventually(waiting)
        assert _sample(text, "fengqiao_alerts_waiting_oldest_seconds") == pytest.approx(90.0)
        assert _sample(text, 'fengqiao_ready{dependency="mongodb"}') == 1.0


# --- the counts that move with the clock, each through an index of its own -------------------

#: 15:30 in the station (Asia/Shanghai); its day ends at 00:00 local = 16:00 UTC
AFTERNOON = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SECOND, HOUR = timedelta(seconds=1), timedelta(hours=1)


async def _reads(svc, expected: dict[str, float]) -> None:
    """Wait until /metrics shows every expected value (the gauges are refreshed every 0.2 s)."""

    async def shown() -> bool:
        text = (await svc.http.get("/metrics")).text
        return all(_sample(text, name) == value for name, value in expected.items())

    try:
        await eventually(shown, timeout=30.0)
    except AssertionError:
        text = (await svc.http.get("/metrics")).text
        assert {name: _sample(text, name) for name in expected} == expected


def _dispute(n: int, due: datetime):
    from mediation.domain import Dispute, Party

    dispute = Dispute.open(dispute_id=f"D-{n}", source="visit", reported_at=AFTERNOON - 2 * HOUR, reported_by="P1001",
                           category="neighbour", summary="两户居民为停车位争吵", parties=[Party("p1", "王某")])
    dispute.first_contact_due_at = due
    return dispute


async def test_disputes_awaiting_first_contact_are_counted_due_tonight_or_overdue_at_the_edges(run_service) -> None:
    from mediation.adapters.store import MongoDisputes

    clock = FakeClock(AFTERNOON)
    async with run_service("mediation", clock, gauges_interval_s=0.2) as svc:
        store = MongoDisputes(svc.runtime.db)
        awaited = [AFTERNOON - SECOND, AFTERNOON, AFTERNOON + SECOND, MIDNIGHT - SECOND, MIDNIGHT, MIDNIGHT + SECOND]
        disputes = [_dispute(i, due) for i, due in enumerate(awaited)]
        flagged = _dispute(10, AFTERNOON - HOUR)  # the sweep flagged it: still not contacted
        flagged.check_deadlines(AFTERNOON - HOUR)
        contacted = _dispute(11, MIDNIGHT)
        contacted.contact(now=AFTERNOON - HOUR, actor="P1001")
        contacted_late = _dispute(12, AFTERNOON - HOUR)
        contacted_late.contact(now=AFTERNOON - SECOND, actor="P1001")
        closed = _dispute(13, AFTERNOON - HOUR)  # referred on before anyone called: no longer awaited
        closed.close_unresolved(now=AFTERNOON - 2 * HOUR, actor="P1001", reason="当事人起诉", referred_to="court")
        assert contacted_late.overdue and flagged.overdue and not closed.first_contact_awaited
        for dispute in [*disputes, flagged, contacted, contacted_late, closed]:
            await store.add(dispute, [])

        # overdue: due 1 s ago, due now, flagged; tonight: due in 1 s, 1 s before midnight, at midnight
        await _reads(svc, {"fengqiao_disputes_overdue": 3.0, "fengqiao_disputes_first_contact_due_tonight": 3.0})

        clock.advance(MIDNIGHT - AFTERNOON)  # a new station day: the day's deadlines have all passed
        await _reads(svc, {"fengqiao_disputes_overdue": 6.0, "fengqiao_disputes_first_contact_due_tonight": 1.0})

        stored = await store.get("D-4")
        stored.aggregate.contact(now=MIDNIGHT, actor="P1001")  # contacted late: leaves the count
        await store.save(stored, [])
        await _reads(svc, {"fengqiao_disputes_overdue": 5.0})


def _callback(n: int, due: datetime):
    from notify.domain import Callback
    from notify.domain.schedule import SendPolicy

    return Callback.schedule(now=AFTERNOON - 2 * HOUR, case_id=f"A2026-{n:04d}", party_id="p1", rule="unsolved_7d",
                             start_at=AFTERNOON - 72 * HOUR, due_at=due, policy=SendPolicy())  # no phone: manual


def _sms(n: int, handed: datetime | None):
    from notify.sms.domain.messages import OutboundMessage

    message = OutboundMessage.request(sms_id=f"S-{n}", phone="13800138000", text="您好", purpose="callback",
                                      requested_by="notify", ref=None, requested_at=AFTERNOON - 5 * HOUR,
                                      not_before=None, now=AFTERNOON - 5 * HOUR)
    if handed is not None:
        message.accepted(handed, "embedded")
    return message


async def test_callbacks_due_today_open_objections_and_sms_without_receipt_are_counted_at_the_edges(
    run_service,
) -> None:
    from notify.adapters.store import MongoCallbacks
    from notify.sms.adapters.store import MongoMessages

    clock = FakeClock(AFTERNOON)
    async with run_service("notify", clock, gauges_interval_s=0.2) as svc:
        callbacks, messages = MongoCallbacks(svc.runtime.db), MongoMessages(svc.runtime.db)
        dues = [AFTERNOON - SECOND, AFTERNOON, AFTERNOON + SECOND, MIDNIGHT - SECOND, MIDNIGHT, MIDNIGHT + SECOND]
        open_ones = [_callback(i, due) for i, due in enumerate(dues)]
        done = _callback(10, MIDNIGHT)
        done.complete(now=AFTERNOON - HOUR, channel="phone", reached=True, completed_by="P1001", level="dissatisfied",
                      objection_within=timedelta(days=3))  # done today: its objection is open
        objected = _callback(11, AFTERNOON - 24 * HOUR)
        objected.complete(now=AFTERNOON - 30 * HOUR, channel="visit", reached=True, completed_by="P1001",
                          objection=True, objection_within=timedelta(days=3))
        explained = _callback(12, AFTERNOON - 24 * HOUR)
        explained.complete(now=AFTERNOON - 30 * HOUR, channel="phone", reached=True, completed_by="P1001",
                           level="dissatisfied", objection_within=timedelta(days=3))
        explained.explain_objection(now=AFTERNOON - HOUR, by="P1002", how="当面解释处理经过", outcome="accepted")
        handed_on = _callback(13, AFTERNOON - 24 * HOUR)
        handed_on.complete(now=AFTERNOON - 30 * HOUR, channel="phone", reached=True, completed_by="P1001",
                           level="dissatisfied", objection_within=timedelta(hours=1))
        handed_on.check_deadlines(AFTERNOON - 28 * HOUR)  # not explained in time: escalated to leadership
        assert (done.objection, objected.objection, explained.objection, handed_on.objection) == (
            "open", "open", "explained", "escalated")
        for callback in [*open_ones, done, objected, explained, handed_on]:
            await callbacks.add(callback, [])

        ago = AFTERNOON - HOUR
        sms = [_sms(i, at) for i, at in enumerate([ago - SECOND, ago, ago + SECOND, AFTERNOON - 3 * HOUR])]
        sms.append(_sms(10, None))  # still queued: not handed to the gateway
        delivered, failed = _sms(11, AFTERNOON - 3 * HOUR), _sms(12, AFTERNOON - 3 * HOUR)
        delivered.receipt(AFTERNOON - 2 * HOUR, delivered=True)
        failed.receipt(AFTERNOON - 2 * HOUR, delivered=False)
        for message in [*sms, delivered, failed]:
            await messages.add(message, [])

        await _reads(svc, {
            "fengqiao_callbacks_due_today": 3.0,  # due in 1 s, 1 s before midnight, at midnight
            "fengqiao_objections_open": 2.0,
            "fengqiao_sms_undelivered": 2.0,  # handed 1 h 1 s and 3 h ago; exactly 1 h ago is not over an hour
        })

        clock.advance(SECOND)
        await _reads(svc, {"fengqiao_callbacks_due_today": 2.0, "fengqiao_sms_undelivered": 3.0})
        clock.advance(MIDNIGHT - AFTERNOON - SECOND)  # the next station day: only the one due 1 s after midnight
        await _reads(svc, {"fengqiao_callbacks_due_today": 1.0, "fengqiao_sms_undelivered": 4.0})


# --- the counts that followed a state, now each a range of a key held only while the record is counted ------


def _waiting(n: int, received_at: datetime, priority: int = 2):
    from dispatch.domain.alerts import Alert

    return Alert.receive(alert_id=f"110-20261123-{n:06d}", received_at=received_at, category="theft",
                         priority=priority, lon=118.9651, lat=25.2284, address="枫亭镇", caller_phone=None,
                         summary="电动车被盗", source="110")


async def test_alerts_waiting_and_the_oldest_follow_the_queue_key_as_alerts_enter_and_leave_it(run_service) -> None:
    from dispatch.adapters.store import AlertStore
    from dispatch.domain.assignment import Candidate
    from dispatch.domain.grid import DUTY_DESK

    clock = FakeClock(NOW)
    async with run_service("dispatch", clock, gauges_interval_s=0.2) as svc:  # no grid: nothing is placed
        store = AlertStore(svc.runtime.db)
        urgent = _waiting(1, NOW - 10 * SECOND, priority=1)
        routine = _waiting(2, NOW - 40 * SECOND, priority=3)
        beyond = _waiting(3, NOW - 30 * SECOND)
        held = _waiting(4, NOW - HOUR)  # older than all, but a unit holds it
        held.assign(Candidate("G1", "zone", 120.0), NOW - HOUR, HOUR * 2)
        closed = _waiting(5, NOW - 2 * HOUR)
        closed.send_to_duty_desk(NOW - 2 * HOUR)
        closed.close(DUTY_DESK, "P1001", "no_action", "误报", {}, NOW - HOUR)
        for alert in (urgent, routine, beyond):
            alert.send_to_duty_desk(NOW - 5 * SECOND, beyond_reach=alert is beyond)
        for alert in (urgent, routine, beyond, held, closed):
            await store.add(alert, [])

        # the oldest waiting is the routine one, behind the urgent in the queue and beyond the held one's age
        await _reads(svc, {"fengqiao_alerts_waiting": 3.0, "fengqiao_alerts_waiting_oldest_seconds": 40.0})

        stored = await store.get(routine.alert_id)
        stored.aggregate.close(DUTY_DESK, "P1001", "no_action", "重复报警", {}, NOW)  # leaves the queue
        await store.save(stored, [])
        await _reads(svc, {"fengqiao_alerts_waiting": 2.0, "fengqiao_alerts_waiting_oldest_seconds": 30.0})

        stored = await store.get(held.alert_id)
        stored.aggregate.release(NOW, "unit_unavailable")  # waits again: received an hour ago
        await store.save(stored, [])
        await _reads(svc, {"fengqiao_alerts_waiting": 3.0, "fengqiao_alerts_waiting_oldest_seconds": 3600.0})


def _texted(n: int, due: datetime):
    from notify.domain import Callback
    from notify.domain.schedule import SendPolicy

    return Callback.schedule(now=AFTERNOON - 2 * HOUR, case_id=f"A2026-{n:04d}", party_id="p1", rule="unsolved_7d",
                             start_at=AFTERNOON - 72 * HOUR, due_at=due, policy=SendPolicy(), phone="13800138000")


async def test_manual_and_overdue_callbacks_are_counted_as_they_enter_and_leave_at_the_deadline(run_service) -> None:
    from notify.adapters.store import MongoCallbacks

    clock = FakeClock(AFTERNOON)
    async with run_service("notify", clock, gauges_interval_s=0.2) as svc:
        callbacks = MongoCallbacks(svc.runtime.db)
        late, due_now, next_second = (_callback(i, due) for i, due in
                                      enumerate([AFTERNOON - SECOND, AFTERNOON, AFTERNOON + SECOND]))
        flagged = _callback(3, AFTERNOON - HOUR)
        flagged.check_deadlines(AFTERNOON - HOUR)  # the sweep flagged it: overdue, no longer manual
        texted = _texted(4, AFTERNOON + 72 * HOUR)
        done_late = _callback(5, AFTERNOON - HOUR)
        done_late.complete(now=AFTERNOON - SECOND, channel="visit", reached=True, completed_by="P1001",
                           level="satisfied", objection_within=timedelta(days=3))
        assert [c.state for c in (late, due_now, next_second, flagged, texted, done_late)] == [
            "manual", "manual", "manual", "overdue", "scheduled", "done"]
        for callback in (late, due_now, next_second, flagged, texted, done_late):
            await callbacks.add(callback, [])

        # overdue: due 1 s ago and due now (not flagged yet), flagged; not the one due in a second
        await _reads(svc, {"fengqiao_callbacks_manual": 3.0, "fengqiao_callbacks_overdue": 3.0})

        clock.advance(SECOND)  # the next one's deadline
        await _reads(svc, {"fengqiao_callbacks_manual": 3.0, "fengqiao_callbacks_overdue": 4.0})

        stored = await callbacks.get(late.callback_id)
        stored.aggregate.complete(now=clock.now(), channel="phone", reached=True, completed_by="P1001",
                                  level="satisfied", objection_within=timedelta(days=3))  # done late: leaves both
        await callbacks.save(stored, [])
        stored = await callbacks.get(texted.callback_id)
        stored.aggregate.open_manual(now=clock.now(), reason="短信无法送达，改为电话")  # enters the manual count
        await callbacks.save(stored, [])
        await _reads(svc, {"fengqiao_callbacks_manual": 3.0, "fengqiao_callbacks_overdue": 3.0})


def _followup(n: int):
    from rating.domain.model import Followup, Rating

    rating = Rating.record(rating_id=f"r-{n}", channel="on_site", level="dissatisfied", subject_type="service",
                           subject_id=f"W-{n}", officer_id="P1002", unit_id="G2", at=AFTERNOON - 100 * HOUR,
                           zone=ZoneInfo("Asia/Shanghai"), entered_by="desk-1")
    return Followup.open(rating, now=AFTERNOON - 100 * HOUR)


async def test_followups_not_done_are_counted_open_or_overdue_and_leave_when_done(run_service) -> None:
    from rating.adapters.store import MongoFollowups

    clock = FakeClock(AFTERNOON)
    async with run_service("rating", clock, gauges_interval_s=0.2) as svc:
        followups = MongoFollowups(svc.runtime.db)
        still_open, overdue, done = _followup(1), _followup(2), _followup(3)
        overdue.check_deadline(AFTERNOON - HOUR)
        done.complete(now=AFTERNOON - 2 * HOUR, actor="leader", findings="已核实", actions="已回访")
        assert [f.state for f in (still_open, overdue, done)] == ["open", "overdue", "done"]
        for f in (still_open, overdue, done):
            await followups.add(f, [])
        await _reads(svc, {"fengqiao_followups_open": 2.0})

        stored = await followups.get(overdue.followup_id)
        stored.aggregate.complete(now=AFTERNOON, actor="leader", findings="民警态度生硬", actions="批评教育")
        await followups.save(stored, [])
        await followups.add(_followup(4), [])  # a new one enters as the overdue one leaves
        await _reads(svc, {"fengqiao_followups_open": 2.0})
        stored = await followups.get(still_open.followup_id)
        stored.aggregate.complete(now=AFTERNOON, actor="leader", findings="已核实", actions="已回访")
        await followups.save(stored, [])
        await _reads(svc, {"fengqiao_followups_open": 1.0})


async def test_records_stored_before_the_keys_get_them_once_at_start_before_the_indexes(
    store_server, db_name: str,
) -> None:
    from common.mongo import client, ensure_indexes
    from notify.adapters import store as notify_store
    from rating.adapters import store as rating_store

    mongo = client(store_server.url)
    try:
        db = mongo[db_name]
        manual, done = _callback(1, AFTERNOON + HOUR), _callback(2, AFTERNOON + HOUR)
        done.complete(now=AFTERNOON, channel="phone", reached=True, completed_by="P1001", level="satisfied",
                      objection_within=timedelta(days=3))
        for n, callback in enumerate((manual, done)):
            doc = {k: v for k, v in notify_store.CallbackCodec().to_document(callback).items()
                   if k not in notify_store.GAUGE_KEYS}  # as a version before the keys stored it
            await db["callbacks"].insert_one({**doc, "_id": callback.callback_id, "version": n + 1, "outbox": {}})
        undone = _followup(1)
        doc = {k: v for k, v in rating_store.FOLLOWUPS.to_document(undone).items() if k != rating_store.UNDONE_SINCE_MS}
        await db["followups"].insert_one({**doc, "_id": undone.followup_id, "version": 1, "outbox": {}})

        assert await notify_store.key_before_gauges(db) == 1  # the manual one; the done one has none to get
        assert await rating_store.key_before_gauge(db) == 1
        got = await db["callbacks"].find_one({"_id": manual.callback_id})
        assert (got[notify_store.MANUAL_SINCE_MS], got[notify_store.OPEN_DUE_MS]) == (
            epoch_ms(manual.manual_at), epoch_ms(AFTERNOON + HOUR))
        assert notify_store.MANUAL_SINCE_MS not in await db["callbacks"].find_one({"_id": done.callback_id})
        assert (await db["followups"].find_one({"_id": undone.followup_id}))[rating_store.UNDONE_SINCE_MS] == epoch_ms(
            AFTERNOON - 100 * HOUR)

        await ensure_indexes(db, notify_store.INDEXES)
        await ensure_indexes(db, rating_store.INDEXES)
        assert await notify_store.key_before_gauges(db) == 0  # with the index there: once only, nothing read
        assert await rating_store.key_before_gauge(db) == 0
    finally:
        mongo.close()
