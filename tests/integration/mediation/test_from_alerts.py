"""alerts.closed as referred_to_mediation opens one dispute, whatever the deliveries; bad ones are dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from common.contracts.alerts import AlertClosed
from common.contracts.subjects import ALERTS_CLOSED, deadletter_subject
from mediation import handlers
from tests.support import PUBLISH_TIMEOUT_S

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


def closed_alert(alert_id: str, **changes: object) -> dict:
    body = {
        "alert_id": alert_id, "at": "2026-11-23T08:40:00+08:00", "received_at": "2026-11-23T08:15:00+08:00",
        "unit_id": "G1", "officer_id": "P1001", "officers": ["P1001", "P1002", "P1003"],
        "disposition": "referred_to_mediation", "note": "双方同意调解", "signatures": {},
        "category": "dispute", "priority": 2,
        "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇东沙村12号"},
        "summary": "邻居因烧烤排烟争吵", "caller_phone": "13800138000",
        "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}],
    }
    return body | changes


async def publish(nc, body: dict | bytes, msg_id: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    await nc.jetstream().publish(ALERTS_CLOSED, data, timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})


async def dispute_of(med, dispute_id: str) -> dict | None:
    response = await med.http.get(f"/v1/disputes/{dispute_id}")
    return response.json() if response.status_code == 200 else None


async def test_a_referral_opens_a_dispute_at_the_scene_and_a_duplicate_opens_nothing(
    run_service, nc, published, wait_for
) -> None:
    async with run_service("mediation", FakeClock(START)) as med:
        await publish(nc, closed_alert("110-1"), "110-1/closed")
        dispute = await wait_for(lambda: dispute_of(med, "D-110-1"))
        assert (dispute["source"], dispute["source_ref"]) == ("alert", "110-1")
        assert (dispute["level"], dispute["state"]) == ("scene", "reported")
        assert (dispute["unit_id"], dispute["officer_id"], dispute["reported_by"]) == ("G1", "P1001", "P1001")
        assert (dispute["address"], dispute["lon"], dispute["lat"]) == ("枫亭镇东沙村12号", 118.9651, 25.2284)
        assert dispute["summary"] == "邻居因烧烤排烟争吵；双方同意调解"
        assert dispute["reported_at"] == "2026-11-23T08:40:00+08:00"

        # the same alert again, past JetStream's duplicate window (another msg id), and a redelivery race
        await publish(nc, closed_alert("110-1"), "110-1/closed/again")
        await publish(nc, closed_alert("110-1", note="another officer's note"), "110-1/closed/third")
        await wait_for(lambda: _consumed(med, 3))
        assert (await dispute_of(med, "D-110-1")) == dispute
        assert len((await med.http.get("/v1/disputes")).json()) == 1

    opened = await published("disputes.>")
    assert [(e.subject, e.msg_id) for e in opened] == [("disputes.opened", "D-110-1/opened/1")]


async def _consumed(med, count: int) -> bool:
    info = await med.runtime.js.consumer_info("ALERTS", "mediation-alerts-closed")
    return info.delivered.consumer_seq >= count and info.num_ack_pending == 0


async def test_a_redelivery_after_a_crash_publishes_what_was_staged_with_the_same_msg_ids(
    run_service, nc, published, wait_for
) -> None:
    """The crash: the dispute was saved with its events staged, and the process died before publishing."""
    async with run_service("mediation", FakeClock(START)) as med:
        m = med.parts.context
        event = AlertClosed.model_validate(closed_alert("110-2", summary="对方扬言要用刀砍他"))
        dispute = handlers.report_of_alert(event).open("D-110-2", event.at, None, None)
        await m.disputes.add(dispute, handlers.public_events(dispute, m.station))
        assert await published("disputes.>") == []

        await publish(nc, closed_alert("110-2", summary="对方扬言要用刀砍他"), "110-2/closed")
        await wait_for(lambda: _consumed(med, 1))
        stored = await m.disputes.collection.find_one({"_id": "D-110-2"})
        assert stored["outbox"] == {} and stored["version"] == 1

    assert [(e.subject, e.msg_id) for e in await published("disputes.>")] == [
        ("disputes.opened", "D-110-2/opened/2"), ("disputes.escalated", "D-110-2/escalated/2")]
    raised = await published("alerts.received")
    assert [(e.msg_id, e.data["source"], e.data["priority"]) for e in raised] == [("MED-D-110-2", "mediation", 1)]


async def test_other_dispositions_are_not_ours_and_the_caller_stands_in_for_missing_parties(
    run_service, nc, wait_for
) -> None:
    async with run_service("mediation", FakeClock(START)) as med:
        for n, disposition in enumerate(("resolved_on_scene", "converted_to_case", "no_action")):
            await publish(nc, closed_alert(f"110-x{n}", disposition=disposition), f"x{n}")
        await publish(nc, closed_alert("110-3", parties=[]), "110-3/closed")
        dispute = await wait_for(lambda: dispute_of(med, "D-110-3"))
        assert dispute["parties"] == [{"party_id": "caller", "name": "报警人", "phone": "13800138000",
                                       "id_number": None, "role": "caller"}]
        await wait_for(lambda: _consumed(med, 4))
        assert [d["dispute_id"] for d in (await med.http.get("/v1/disputes")).json()] == ["D-110-3"]


async def test_a_second_dispute_of_the_same_people_within_90_days_is_a_recurrence(run_service, nc, wait_for) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        await publish(nc, closed_alert("110-4"), "110-4/closed")
        await wait_for(lambda: dispute_of(med, "D-110-4"))
        later = (START + timedelta(days=40)).isoformat()
        village = {"lon": 118.97, "lat": 25.23, "address": "枫亭镇某村"}
        await publish(nc, closed_alert("110-5", at=later, location=village), "110-5/closed")
        far = (START + timedelta(days=200)).isoformat()
        stranger = closed_alert("110-6", at=far, parties=[], caller_phone="13999999999", location=village)
        await publish(nc, stranger, "110-6/closed")
        assert (await wait_for(lambda: dispute_of(med, "D-110-5")))["recurrence_of"] == "D-110-4"
        assert (await wait_for(lambda: dispute_of(med, "D-110-6")))["recurrence_of"] is None
        clock.set(START + timedelta(days=41))
        assert (await med.http.get("/v1/stats")).json()["recurrences"] == 1


async def test_a_malformed_alerts_closed_goes_to_the_dead_letters_and_the_consumer_goes_on(
    run_service, nc, published, wait_for
) -> None:
    async with run_service("mediation", FakeClock(START)) as med:
        await publish(nc, b"{not json", "bad-1")
        await publish(nc, closed_alert("110-7", disposition="sent_home"), "bad-2")
        await publish(nc, closed_alert("110-8", parties=[{"party_id": "witness", "name": "x"}]), "refused-1")
        await publish(nc, closed_alert("110-9"), "good-1")
        await wait_for(lambda: dispute_of(med, "D-110-9"))
        letters = await wait_for(lambda: _letters(published, 3))

    by_id = {x.data["msg_id"]: x.data for x in letters}
    assert by_id["bad-1"]["reason"] == "invalid payload" and by_id["bad-1"]["data"] == "{not json"
    assert [e["loc"] for e in by_id["bad-2"]["errors"]] == ["disposition"]
    assert by_id["refused-1"]["reason"].startswith("rejected: ")
    assert {x["consumer"] for x in by_id.values()} == {"mediation-alerts-closed"}


async def _letters(published, count: int) -> list:
    letters = await published(deadletter_subject(ALERTS_CLOSED))
    return letters if len(letters) >= count else []
