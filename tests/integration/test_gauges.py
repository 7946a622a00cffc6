"""The gauges on /metrics are read from the store off the request path: a waiting alert shows at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from tests.support import eventually

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
                                     headers={"Nats-Msg-Id": alert["alert_id"]})

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
        await eventually(shown, timeout=5.0)
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
