"""Notify and rating through `fengqiao up`: a closed alert surveys its caller through notify's embedded
gateway, the reply posted to notify's inbound is a rating the weekly report counts; an accepted case's
callback SMS is in the gateway's outbox."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.timefmt import iso_week
from rating.domain import survey_id
from tests.e2e.up import Up, until

pytestmark = pytest.mark.e2e

#: surveys and callbacks may go out at any hour here, so the test does not depend on when it runs
ALL_DAY = {"FQ_RATING_SEND_FROM": "00:00", "FQ_RATING_SEND_UNTIL": "23:59:59",
           "FQ_NOTIFY_SMS_ALLOWED_FROM": "00:00:00", "FQ_NOTIFY_SMS_ALLOWED_UNTIL": "23:59:59.999999"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    saved = {k: os.environ.get(k) for k in ALL_DAY}
    os.environ.update(ALL_DAY)
    try:
        up = Up(tmp_path_factory.mktemp("station"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.stop()


def test_a_closed_alert_surveys_the_caller_and_the_reply_is_counted(platform: Up, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    closed = {
        "alert_id": "110-E2E-R1", "at": now.isoformat(), "received_at": now.isoformat(), "unit_id": "G1",
        "officer_id": "P1001", "officers": ["P1001", "P1002", "P1003"], "disposition": "resolved_on_scene",
        "category": "noise", "priority": 3, "location": {"lon": 118.9651, "lat": 25.2284},
        "caller_phone": "13700137000",
    }
    platform.publish(tmp_path, "alerts.closed", closed)
    the_id = survey_id("alert", "110-E2E-R1", "13700137000")
    survey = until(lambda: _found(platform, f"/v1/surveys/{the_id}", state="sent"))
    [sent] = until(lambda: _outbox(platform, "13700137000"))  # notify's embedded gateway sent it
    assert survey["code"] in sent["text"] and "1满意" in sent["text"]
    status, _ = platform.call("POST", "notify", "/v1/sms/inbound",
                              {"from": "13700137000", "text": f"1 谢谢 {survey['code']}"})
    assert status == 202
    [rating] = until(lambda: _listed(platform, "/v1/ratings?subject_id=110-E2E-R1"))
    assert (rating["level"], rating["channel"], rating["phone"]) == ("satisfied", "sms", "137****7000")
    week = iso_week(datetime.fromisoformat(rating["at"]), datetime.fromisoformat(rating["at"]).tzinfo)  # type: ignore[arg-type]
    # the report's roll-up takes the rating just after the rating is stored (its own write)
    total = until(lambda: _counted(platform, week))
    assert (total["satisfied"], total["surveyed"], total["answered"]) == (1, 1, 1)


def test_an_accepted_case_sends_each_party_its_callback_sms(platform: Up, tmp_path: Path) -> None:
    case = {"case_id": "A2026-E2E-1", "kind": "administrative", "accepted_at": datetime.now(UTC).isoformat(),
            "officer_id": "P1001", "unit_id": "G1",
            "parties": [{"party_id": "p1", "name": "王某", "phone": "13600136001", "role": "victim"}]}
    platform.publish(tmp_path, "cases.accepted", case)
    [sms] = until(lambda: _outbox(platform, "13600136001"))
    assert "A2026-E2E-1" in sms["text"]
    [callback] = until(lambda: _listed(platform, "/v1/callbacks?case_id=A2026-E2E-1", service="notify"))
    assert (callback["rule"], callback["party_id"]) == ("unsolved_7d", "p1")


def _counted(platform: Up, week: str) -> dict | None:
    status, report = platform.call("GET", "rating", f"/v1/reports/weekly?week={week}&by=station")
    total = next(r for r in report["rows"] if r["channel"] == "all") if status == 200 else None  # type: ignore[index]
    return total if total and total["satisfied"] == 1 else None


def _outbox(platform: Up, phone: str) -> list | None:
    status, body = platform.call("GET", "notify", f"/v1/sms/outbox?phone={phone}")
    return body if status == 200 and body else None  # type: ignore[return-value]


def _found(platform: Up, path: str, **expected: str) -> dict | None:
    status, body = platform.call("GET", "rating", path)
    if status != 200 or any(body.get(k) != v for k, v in expected.items()):  # type: ignore[union-attr]
        return None
    return body  # type: ignore[return-value]


def _listed(platform: Up, path: str, service: str = "rating") -> list | None:
    status, body = platform.call("GET", service, path)
    return body if status == 200 and body else None  # type: ignore[return-value]


def test_a_callback_answered_3_is_done_rated_objected_and_followed_up_and_asked_nothing_more(
        platform: Up, tmp_path: Path) -> None:
    phone = "13500135001"
    case = {"case_id": "A2026-E2E-2", "kind": "criminal", "accepted_at": datetime.now(UTC).isoformat(),
            "officer_id": "P2001", "unit_id": "G2",
            "parties": [{"party_id": "p1", "name": "李某", "phone": phone, "role": "victim"}]}
    platform.publish(tmp_path, "cases.accepted", case)
    [sms] = until(lambda: _outbox(platform, phone))
    assert "1满意" in sms["text"] and "回访码" in sms["text"]
    status, _ = platform.call("POST", "notify", "/v1/sms/inbound", {"from": phone, "text": "3 处理太慢"})
    assert status == 202
    [callback] = until(lambda: _listed(platform, "/v1/callbacks?case_id=A2026-E2E-2&state=done", service="notify"))
    assert (callback["channel"], callback["level"], callback["objection"]) == ("sms", "dissatisfied", "open")
    [rating] = until(lambda: _listed(platform, f"/v1/ratings?subject_id={callback['callback_id']}"))
    assert (rating["subject_type"], rating["level"], rating["channel"], rating["officer_id"]) == (
        "callback", "dissatisfied", "sms", "P2001")
    week = iso_week(datetime.fromisoformat(rating["at"]), datetime.fromisoformat(rating["at"]).tzinfo)  # type: ignore[arg-type]
    officer = until(lambda: _row(platform, week, "P2001"))
    assert (officer["dissatisfied"], officer["rated"]) == (1, 1)
    objections = until(lambda: _listed(platform, "/v1/objections?state=open", service="notify"))
    assert [o["officer_id"] for o in objections if o["callback_id"] == callback["callback_id"]] == ["P2001"]
    followups = until(lambda: _listed(platform, "/v1/followups?state=open"))
    assert [f["reason"] for f in followups if f["rating_id"] == rating["rating_id"]] == ["dissatisfied"]
    time.sleep(3)  # rating had every chance to survey the party: it must not
    assert [s["sms_id"] for s in _outbox(platform, phone) or []] == [sms["sms_id"]]


def test_with_a_callback_and_a_survey_open_one_reply_changes_one_record_and_a_code_picks(
        platform: Up, tmp_path: Path) -> None:
    phone = "13500135002"
    case = {"case_id": "A2026-E2E-3", "kind": "administrative", "accepted_at": datetime.now(UTC).isoformat(),
            "officer_id": "P2002", "unit_id": "G2",
            "parties": [{"party_id": "p1", "name": "赵某", "phone": phone, "role": "victim"}]}
    platform.publish(tmp_path, "cases.accepted", case)
    [callback_sms] = until(lambda: _outbox(platform, phone))
    now = datetime.now(UTC)
    closed = {"alert_id": "110-E2E-R3", "at": now.isoformat(), "received_at": now.isoformat(), "unit_id": "G2",
              "officer_id": "P2002", "officers": ["P2002"], "disposition": "resolved_on_scene", "category": "noise",
              "priority": 3, "location": {"lon": 118.9651, "lat": 25.2284}, "caller_phone": phone}
    platform.publish(tmp_path, "alerts.closed", closed)
    until(lambda: (found := _outbox(platform, phone)) and len(found) == 2)
    the_survey = survey_id("alert", "110-E2E-R3", phone)
    # no code: the newest open question (the survey) takes it, the callback is untouched
    platform.call("POST", "notify", "/v1/sms/inbound", {"from": phone, "text": "1"})
    until(lambda: _found(platform, f"/v1/surveys/{the_survey}", state="answered"))
    [callback] = until(lambda: _listed(platform, "/v1/callbacks?case_id=A2026-E2E-3", service="notify"))
    assert callback["state"] in ("sent", "delivered")
    # the callback's code picks the callback
    code = callback_sms["text"].split("回访码")[1][:4]
    platform.call("POST", "notify", "/v1/sms/inbound", {"from": phone, "text": f"{code.lower()} 2 还行"})
    [done] = until(lambda: _listed(platform, "/v1/callbacks?case_id=A2026-E2E-3&state=done", service="notify"))
    assert done["level"] == "basically"
    survey = _found(platform, f"/v1/surveys/{the_survey}")
    assert survey is not None and survey["level"] == "satisfied" and len(survey["replies"]) == 1


def _row(platform: Up, week: str, officer_id: str) -> dict | None:
    status, report = platform.call("GET", "rating", f"/v1/reports/weekly?week={week}&by=officer")
    if status != 200:
        return None
    return next((r for r in report["rows"] if r["key"] == officer_id and r["channel"] == "all"), None)  # type: ignore[index]
