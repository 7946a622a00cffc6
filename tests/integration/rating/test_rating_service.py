"""Rating on real nats-server and nx-27017: a closed alert asks notify for the survey SMS, the reply notify
publishes becomes a rating the weekly report counts; duplicates, a second replica, bad events and the rebuild."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from common.contracts.subjects import (
    ALERTS_CLOSED,
    RATINGS_REQUESTED,
    SMS_ANSWERED_RATING,
    SMS_SEND,
    deadletter_subject,
)
from common.settings import DEVELOPMENT_TOKEN
from rating import handlers
from tests.support import Recorder, eventually, publish

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 08:00 in the station
PHONE = "13800138000"
TOKENS = {DEVELOPMENT_TOKEN: ["admin"], "viewer-token-0001": ["viewer"]}


def closed_alert(alert_id: str, phone: str | None = PHONE) -> dict:
    return {
        "alert_id": alert_id, "at": "2026-11-23T08:00:00+08:00", "received_at": "2026-11-23T07:40:00+08:00",
        "unit_id": "G1", "officer_id": "P1001", "officers": ["P1001", "P1002", "P1003"],
        "disposition": "resolved_on_scene", "category": "dispute", "priority": 2,
        "location": {"lon": 118.9651, "lat": 25.2284}, "caller_phone": phone,
    }


def inbound(n: int, text: str, survey: str, phone: str = PHONE) -> dict:
    """An answer to a survey as notify's gateway tells it to rating (matched to the survey's question)."""
    return {"inbound_id": f"mo-{n}", "question_id": survey, "kind": "survey", "subject_id": "110-1", "phone": phone,
            "text": text, "received_at": "2026-11-23T08:30:00+08:00", "matched_by": "latest"}


async def consumed(svc, durable: str, stream: str, count: int) -> bool:
    info = await svc.runtime.js.consumer_info(stream, durable)
    return info.delivered.stream_seq >= count and info.num_ack_pending == 0


async def test_a_closed_alert_to_a_counted_rating_and_a_followup(run_service, nc) -> None:
    recorder = await Recorder().start(nc, "sms.>")
    ratings = await Recorder().start(nc, "ratings.>")
    async with run_service("rating", FakeClock(START), tokens=TOKENS) as svc:
        await publish(nc, ALERTS_CLOSED, closed_alert("110-1"), "110-1/closed")
        [command] = await eventually(lambda: recorder.on(SMS_SEND))
        assert (command["purpose"], command["requested_by"], command["phone"]) == ("survey", "rating", PHONE)
        code = command["ref"]

        await publish(nc, SMS_ANSWERED_RATING, inbound(1, "3 态度差，等了很久", code), "mo-1")  # as notify would
        found = await eventually(lambda: _json(svc.http.get("/v1/ratings", params={"subject_id": "110-1"})))
        [rating] = found
        assert (rating["level"], rating["channel"], rating["comment"]) == ("dissatisfied", "sms", "态度差,等了很久")
        assert rating["phone"] == "138****8000" and rating["survey_id"] == code  # masked in every list

        report = (await svc.http.get("/v1/reports/weekly", params={"week": "2026-W48", "by": "officer"})).json()
        total = next(r for r in report["rows"] if r["key"] == "P1001" and r["channel"] == "all")
        assert (total["dissatisfied"], total["surveyed"], total["answered"], total["response_rate"]) == (1, 1, 1, 1.0)
        csv = await svc.http.get("/v1/reports/weekly", params={"week": "2026-W48"}, headers={"Accept": "text/csv"})
        assert csv.headers["content-type"].startswith("text/csv") and "不满意" in csv.content.decode("utf-8-sig")

        [followup] = await eventually(lambda: _json(svc.http.get("/v1/followups", params={"state": "open"})))
        detail = (await svc.http.get(f"/v1/followups/{followup['followup_id']}")).json()
        assert detail["rating"]["phone"] == PHONE  # whole for those who call back
        viewer = {"Authorization": "Bearer viewer-token-0001"}
        seen = (await svc.http.get(f"/v1/ratings/{rating['rating_id']}", headers=viewer)).json()
        assert seen["phone"] == "138****8000"
        done = await svc.http.post(f"/v1/followups/{followup['followup_id']}/complete",
                                   json={"actor": "所长", "findings": "民警解释不耐心", "actions": "已约谈"})
        assert done.status_code == 200 and done.json()["state"] == "done"

    # a core subscriber sees a staged event again when a redelivery publishes it before the first unstaged it;
    # the stream keeps one (the same msg id)
    assert {b["rating_id"]: b["level"] for b in ratings.on("ratings.received")} == {rating["rating_id"]: "dissatisfied"}
    assert len({b["rating_id"] for b in ratings.on("ratings.dissatisfied")}) == 1
    assert len({b["survey_id"] for b in ratings.on("ratings.survey_sent")}) == 1


async def _json(response_coroutine):
    response = await response_coroutine
    return response.json() if response.status_code == 200 else None


async def test_duplicate_events_and_a_second_replica_send_one_survey(run_service, nc, published) -> None:
    recorder = await Recorder().start(nc, "sms.send")
    clock = FakeClock(START)
    async with run_service("rating", clock) as one, run_service("rating", clock) as two:
        for n in range(4):
            await publish(nc, ALERTS_CLOSED, closed_alert("110-2"), f"110-2/closed/{n}")
        request = {"request_id": "win-1", "subject_type": "alert", "subject_id": "110-2", "phone": "+8613800138000",
                   "officer_id": "P1001", "requested_at": "2026-11-23T08:00:00+08:00"}
        await publish(nc, RATINGS_REQUESTED, request, "win-1")
        await eventually(lambda: consumed(one, "rating-alerts-closed", "ALERTS", 4))
        await eventually(lambda: consumed(two, "rating-requested", "RATINGS", 1))
        await handlers.sweep_surveys(one.parts.context)
        await handlers.sweep_surveys(two.parts.context)
        await asyncio.sleep(0.3)
        # replicas racing on one survey may publish its staged command again: the stream keeps one
        assert {c["sms_id"] for c in recorder.on(SMS_SEND)} == {f"{recorder.on(SMS_SEND)[0]['ref']}:survey"}
        assert len(await published(SMS_SEND)) == 1  # the stream drops a repeated msg id; a core subscriber would not
        report = (await one.http.get("/v1/reports/weekly", params={"week": "2026-W48", "by": "station"})).json()
        assert [r["surveyed"] for r in report["rows"] if r["channel"] == "all"] == [1]


async def test_bad_events_go_to_the_dead_letter_subject_and_no_reply_text_crashes_anything(run_service, nc) -> None:
    letters = await Recorder().start(nc, "deadletter.>")
    recorder = await Recorder().start(nc, "sms.send")
    async with run_service("rating", FakeClock(START)) as svc:
        await publish(nc, ALERTS_CLOSED, closed_alert("110-3"), "110-3/closed")
        [asked] = await eventually(lambda: recorder.on(SMS_SEND))
        await publish(nc, RATINGS_REQUESTED, b"{not json", "bad-1")
        await publish(nc, RATINGS_REQUESTED, {"request_id": "r 2", "subject_type": "window"}, "bad-2")
        await publish(nc, SMS_ANSWERED_RATING, b'{"inbound_id": "mo-9", "phone": "1380\xff", "text": "\xfe"}', "bad-3")
        weird = "\x00\u202e\U0001f9ff?" * 300 + "\ufffd" * 400
        await publish(nc, SMS_ANSWERED_RATING, inbound(2, weird, asked["ref"]), "mo-2")
        await eventually(lambda: len(recorder.on(SMS_SEND)) == 2)  # the one re-prompt
        await publish(nc, SMS_ANSWERED_RATING, inbound(3, "不太满意", asked["ref"]), "mo-3")
        await eventually(lambda: len(letters.on(deadletter_subject(RATINGS_REQUESTED))) == 2)
        [bad_sms] = await eventually(lambda: letters.on(deadletter_subject(SMS_ANSWERED_RATING)))
        assert bad_sms["reason"] == "invalid payload"
        second = letters.on(deadletter_subject(RATINGS_REQUESTED))[1]
        assert {e["loc"] for e in second["errors"]} >= {"request_id", "subject_type", "subject_id"}
        [rating] = await eventually(lambda: _json(svc.http.get("/v1/ratings", params={"subject_id": "110-3"})))
        assert rating["level"] == "dissatisfied"
        assert [c["purpose"] for c in recorder.on(SMS_SEND)] == ["survey", "reprompt"]
        assert (await svc.http.get("/readyz")).status_code == 200


async def test_an_invalid_rating_body_is_422_naming_the_field_and_a_retry_stores_one(run_service) -> None:
    async with run_service("rating", FakeClock(START)) as svc:
        body = {"channel": "phone", "level": "satisfied", "subject_type": "service", "subject_id": "W-1",
                "officer_id": "P1002", "entered_by": "辅警李四", "phone": "13900139000", "request_id": "tablet-1"}
        bad = await svc.http.post("/v1/ratings", json=body | {"level": "很好", "comment": "x" * 501})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["detail"]} == {"level", "comment"}
        assert (await svc.http.post("/v1/ratings", json=body)).status_code == 201
        assert (await svc.http.post("/v1/ratings", json=body)).status_code == 200
        reused = await svc.http.post("/v1/ratings", json=body | {"level": "dissatisfied"})
        assert reused.status_code == 409 and "request_id tablet-1" in reused.json()["detail"]
        for at in ("0001-01-01T00:00:00Z", "0003-01-01T00:00:00Z", 0, "2026-11-23T00:06:00Z"):  # now is 00:00Z
            bad_at = await svc.http.post("/v1/ratings", json=body | {"request_id": "tablet-2", "at": at})
            assert bad_at.status_code == 422 and bad_at.json()["detail"][0]["field"] == "at", at
        full_width = await svc.http.get("/v1/reports/weekly", params={"week": "２０２６-W49"})
        assert full_width.status_code == 422
        assert len((await svc.http.get("/v1/ratings", params={"officer_id": "P1002"})).json()) == 1
        weeks = await svc.http.get("/v1/reports/weekly", params={"week": "2025-W53"})
        assert weeks.status_code == 422 and weeks.json()["detail"][0]["field"] == "query.week"
        assert (await svc.http.get("/v1/reports/weekly", params={"week": "2026-W53"})).status_code == 200


async def test_the_rebuild_command_gives_the_roll_ups_kept_as_things_happened(run_service, nc, store_server,
                                                                              db_name) -> None:
    recorder = await Recorder().start(nc, "sms.send")
    async with run_service("rating", FakeClock(START)) as svc:
        for n, text in enumerate(("1", "2 还行", "3")):
            await publish(nc, ALERTS_CLOSED, closed_alert(f"110-4{n}", phone=f"1390013900{n}"), f"c-{n}")
            await eventually(lambda n=n: len(recorder.on(SMS_SEND)) == n + 1)
            await publish(nc, SMS_ANSWERED_RATING, inbound(10 + n, text, recorder.on(SMS_SEND)[n]["ref"],
                                                          phone=f"1390013900{n}"), f"mo-1{n}")
        await eventually(lambda: _count(svc.http.get("/v1/ratings", params={"officer_id": "P1001"}), 3))
        await eventually(lambda: consumed(svc, "rating-sms-answered", "SMS", 6))  # 3 sms.send, 3 answers
        before = await _reports(svc)
        env = os.environ | {"FQ_RATING_MONGO_URL": store_server.url, "FQ_RATING_MONGO_DB": f"{db_name}_rating",
                            "FQ_RATING_LOG_JSON": "true"}
        done = subprocess.run([sys.executable, "-m", "rating", "rebuild-rollups"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "rebuilt 3 roll-up cells" in done.stdout  # the officer's, the unit's and the station's, SMS
        assert await _reports(svc) == before
        total = next(r for r in before["station"] if r["channel"] == "all")
        assert (total["satisfied"], total["basically"], total["dissatisfied"], total["surveyed"]) == (1, 1, 1, 3)


async def _count(response, n: int) -> bool:
    return len((await response).json()) == n


async def _reports(svc) -> dict:
    found = {}
    for by in ("officer", "unit", "station"):
        found[by] = (await svc.http.get("/v1/reports/weekly", params={"week": "2026-W48", "by": by})).json()["rows"]
    return found
