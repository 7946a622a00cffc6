"""The mediation API on real servers: a dispute from report to signed agreement, refusals, bad input."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest

from common.clock import FakeClock
from mediation import handlers

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)  # 08:15 at the station
REPORT = {
    "source": "visit",
    "reported_by": "P1001",
    "category": "neighbour",
    "summary": "楼上楼下两户居民为烧烤排烟问题经常吵架",
    "parties": [
        {"party_id": "p1", "name": "王某", "phone": "138-0013-8001", "role": "complainant"},
        {"party_id": "p2", "name": "宋某", "phone": "13800138002", "role": "respondent"},
    ],
    "address": "洗耳池小区3栋",
    "unit_id": "G1",
    "officer_id": "P1001",
}
SIGNED = {"p1": "王某", "p2": "宋某", "mediator": "翟文杰", "witness": "社居委李某"}


def resolve(
    terms: str = "加装排烟管道,双方互不追究", signatures: dict[str, str] = SIGNED, actor: str = "镇调委会"
) -> dict:
    return {"action": "resolve", "actor": actor, "agreement": {"terms": terms, "signatures": signatures}}


async def test_a_dispute_from_report_through_the_gates_to_a_signed_agreement(run_service, published) -> None:
    clock = FakeClock(START)
    timings: list[float] = []

    async with run_service("mediation", clock) as med:

        async def act(dispute_id: str, body: dict, expect: int = 200) -> dict:
            started = time.perf_counter()
            response = await med.http.post(f"/v1/disputes/{dispute_id}/actions", json=body)
            timings.append(time.perf_counter() - started)
            assert response.status_code == expect, response.text
            return response.json()

        created = await med.http.post("/v1/disputes", json=REPORT)
        assert created.status_code == 201, created.text
        dispute = created.json()
        dispute_id = dispute["dispute_id"]
        assert dispute_id.startswith("D-20261123-")
        assert (dispute["state"], dispute["level"], dispute["high_risk"]) == ("reported", "community", False)
        assert dispute["reported_at"] == "2026-11-23T08:15:00+08:00"
        assert dispute["first_contact_due_at"] == "2026-11-24T00:00:00+08:00"  # before the reporting day ends
        assert dispute["parties"][0]["phone"] == "13800138001"

        refused = await act(dispute_id, resolve(), 409)
        assert "it is reported" in refused["detail"]

        clock.advance(hours=2)
        contacted = await act(dispute_id, {"action": "contact", "actor": "P1001", "note": "上门了解双方诉求"})
        assert contacted["state"] == "mediating"
        await act(dispute_id, {"action": "reopen", "actor": "P1001", "reason": "?"}, 409)

        clock.advance(days=1)
        village = await act(dispute_id, {"action": "escalate", "actor": "P1001", "reason": "社区调解未果"})
        assert (village["state"], village["level"]) == ("escalated", "village")
        clock.advance(days=1)
        to_town = {"action": "escalate", "actor": "村委张某", "to_level": "town", "reason": "涉及宅基地"}
        town = await act(dispute_id, to_town)
        assert town["level"] == "town"
        await act(dispute_id, {"action": "escalate", "actor": "P1001", "to_level": "community"}, 409)

        unsigned = await act(dispute_id, resolve(signatures={k: v for k, v in SIGNED.items() if k != "witness"}), 409)
        assert unsigned["detail"].endswith("lacks the signature of: witness")

        clock.advance(days=2)
        resolved = await act(dispute_id, resolve())
        assert (resolved["state"], resolved["level"]) == ("resolved", "town")
        assert resolved["agreement"]["signatures"]["witness"] == "社居委李某"
        assert resolved["followup_due_at"] == "2026-12-04T10:15:00+08:00"
        assert [h["action"] for h in resolved["history"]] == ["open", "contact", "escalate", "escalate", "resolve"]
        await act(dispute_id, resolve(terms="again"), 409)

        got = await med.http.get(f"/v1/disputes/{dispute_id}")
        assert got.json() == resolved
        listed = await med.http.get("/v1/disputes", params={"state": "resolved", "level": "town"})
        assert [d["dispute_id"] for d in listed.json()] == [dispute_id]
        assert (await med.http.get("/v1/disputes", params={"state": "mediating"})).json() == []

        figures = (await med.http.get("/v1/stats")).json()
        assert figures["opened"] == 1 and figures["resolved"] == 1
        assert figures["resolved_by_level"]["town"] == 1
        assert (figures["settled_in_village_share"], figures["settled_in_town_share"]) == (0.0, 1.0)
        assert figures["median_seconds_to_first_contact"] == 2 * 3600
        assert figures["median_seconds_to_resolution"] == (2 + 4 * 24) * 3600
        assert figures["to"] == "2026-11-27T10:15:00+08:00"
        before = (await med.http.get("/v1/stats", params={"from": "2026-10-01", "to": "2026-11-22"})).json()
        assert before["opened"] == 0 and before["settled_in_town_share"] is None

    events = await published("disputes.>")
    assert [(e.subject, e.msg_id) for e in events] == [
        ("disputes.opened", f"{dispute_id}/opened/1"),
        ("disputes.contacted", f"{dispute_id}/contacted/2"),
        ("disputes.escalated", f"{dispute_id}/escalated/3"),
        ("disputes.escalated", f"{dispute_id}/escalated/4"),
        ("disputes.resolved", f"{dispute_id}/resolved/5"),
    ]
    assert events[0].data["parties"][1] == {"party_id": "p2", "name": "宋某", "phone": "13800138002",
                                            "role": "respondent", "id_number": None}
    assert events[3].data["from_level"] == "village" and events[3].data["to_level"] == "town"
    print(f"\nmediation: {len(timings)} transitions over HTTP, median {statistics.median(timings) * 1000:.1f} ms, "
          f"max {max(timings) * 1000:.1f} ms")


async def test_follow_up_reopen_and_close_unresolved(run_service, published) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        dispute_id = (await med.http.post("/v1/disputes", json=REPORT)).json()["dispute_id"]
        actions = f"/v1/disputes/{dispute_id}/actions"
        await med.http.post(actions, json={"action": "contact", "actor": "P1001"})
        await med.http.post(actions, json=resolve(terms="和解", actor="P1001"))

        m = med.parts.context
        clock.advance(days=7, seconds=-1)
        assert await handlers.sweep_deadlines(m) == 0
        clock.advance(seconds=1)
        assert await handlers.sweep_deadlines(m) == 1
        assert await handlers.sweep_deadlines(m) == 0

        visited = await med.http.post(actions, json={"action": "followup", "actor": "P1001", "note": "双方关系缓和"})
        assert visited.json()["followup_done_at"] is not None
        assert (await med.http.post(actions, json={"action": "followup", "actor": "P1001"})).status_code == 409

        reopened = await med.http.post(actions, json={"action": "reopen", "actor": "P1001", "reason": "又吵起来了"})
        assert (reopened.json()["state"], reopened.json()["followup_due_at"]) == ("reopened", None)
        closing = {"action": "close", "actor": "P1001", "reason": "当事人起诉", "referred_to": "court"}
        closed = await med.http.post(actions, json=closing)
        assert closed.json()["state"] == "closed_unresolved"
        final = await med.http.post(actions, json={"action": "contact", "actor": "P1001"})
        assert final.status_code == 409 and "closed_unresolved" in final.json()["detail"]

        assert (await med.http.get("/v1/stats")).json()["closed_unresolved"] == 1

    subjects = [e.subject for e in await published("disputes.>")]
    assert subjects == ["disputes.opened", "disputes.contacted", "disputes.resolved", "disputes.followup_due",
                        "disputes.reopened", "disputes.closed"]


async def test_a_retried_report_with_its_request_id_opens_one_dispute(run_service, published) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        first = await med.http.post("/v1/disputes", json={**REPORT, "request_id": "app-7f3a"})
        clock.advance(hours=1)
        again = await med.http.post("/v1/disputes", json={**REPORT, "request_id": "app-7f3a"})
        other = await med.http.post("/v1/disputes", json={**REPORT, "request_id": "app-9c41"})

        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
        assert again.json()["dispute_id"] == first.json()["dispute_id"] != other.json()["dispute_id"]
        assert other.json()["recurrence_of"] == first.json()["dispute_id"]
    assert len(await published("disputes.opened")) == 2


async def test_unknown_ids_bad_bodies_and_missing_tokens_are_answered_not_crashed(run_service) -> None:
    tokens = {"dev-token": ["admin"], "viewer-token-0001": ["viewer"], "informant-app-0001": ["integration"]}
    async with run_service("mediation", FakeClock(START), tokens=tokens) as med:
        http = med.http
        assert (await http.get("/v1/disputes/D-nope")).status_code == 404
        missing = await http.post("/v1/disputes/D-nope/actions", json={"action": "contact", "actor": "P1"})
        assert missing.status_code == 404 and "D-nope" in missing.json()["detail"]

        async def invalid(path: str, body: dict | None = None, **params: str) -> list[str]:
            response = await (http.post(path, json=body) if body is not None else http.get(path, params=params))
            assert response.status_code == 422, response.text
            return [e["field"] for e in response.json()["detail"]]

        assert await invalid("/v1/disputes", {k: v for k, v in REPORT.items() if k != "summary"}) == ["summary"]
        assert await invalid("/v1/disputes", {**REPORT, "lon": 118.96}) == ["lat"]
        assert await invalid("/v1/disputes", {**REPORT, "source": "alert"}) == ["source"]
        assert await invalid("/v1/disputes", {**REPORT, "parties": []}) == ["parties"]
        signer = [{"party_id": "mediator", "name": "x"}]
        assert await invalid("/v1/disputes", {**REPORT, "parties": signer}) == ["parties"]
        no_phone = [{"party_id": "p1", "phone": "call me"}]
        assert await invalid("/v1/disputes", {**REPORT, "parties": no_phone}) == ["parties.0.phone"]
        dispute_id = (await http.post("/v1/disputes", json=REPORT)).json()["dispute_id"]
        actions = f"/v1/disputes/{dispute_id}/actions"
        assert await invalid(actions, {"action": "dance", "actor": "P1"}) == ["action"]
        assert await invalid(actions, {"action": "resolve", "actor": "P1"}) == ["resolve.agreement"]
        moon = {"action": "close", "actor": "P1", "reason": "x", "referred_to": "moon"}
        assert await invalid(actions, moon) == ["close.referred_to"]
        province = {"action": "escalate", "actor": "P1", "to_level": "province"}
        assert await invalid(actions, province) == ["escalate.to_level"]
        assert await invalid("/v1/stats", **{"from": "last week"}) == ["query.from"]
        assert await invalid("/v1/stats", **{"from": "2026-11-20", "to": "2026-11-19"}) == ["query.from"]
        assert await invalid("/v1/disputes", state="lost") == ["query.state"]

        assert (await http.get("/v1/disputes", headers={"Authorization": ""})).status_code == 401
        assert (await http.get("/v1/disputes", headers={"Authorization": "Bearer wrong"})).status_code == 401
        viewer = {"Authorization": "Bearer viewer-token-0001"}
        assert (await http.get(f"/v1/disputes/{dispute_id}", headers=viewer)).status_code == 200
        assert (await http.post(actions, json={"action": "contact", "actor": "P1"}, headers=viewer)).status_code == 403
        informant_app = {"Authorization": "Bearer informant-app-0001"}  # 信息员 report, and do nothing else
        reported = await http.post("/v1/disputes", json={**REPORT, "source": "informant"}, headers=informant_app)
        assert reported.status_code == 201
        contacted = await http.post(actions, json={"action": "contact", "actor": "P1"}, headers=informant_app)
        assert contacted.status_code == 403
        assert (await http.get("/healthz")).status_code == 200
        assert "/v1/disputes/{dispute_id}/actions" in (await http.get("/openapi.json")).json()["paths"]


async def test_a_time_with_its_offset_or_without_reads_in_the_station_zone(run_service) -> None:
    clock = FakeClock(START + timedelta(milliseconds=400))
    async with run_service("mediation", clock) as med:
        await med.http.post("/v1/disputes", json=REPORT)  # 08:15:00.4 local
        for start, end, opened in [("2026-11-23T08:00", "2026-11-23T09:00", 1),
                                   ("2026-11-23T08:30", "2026-11-23", 0),
                                   ("2026-11-23T00:00:00Z", "2026-11-23T00:15:00Z", 0),
                                   ("2026-11-23", "2026-11-23", 1)]:
            figures = (await med.http.get("/v1/stats", params={"from": start, "to": end})).json()
            assert figures["opened"] == opened, (start, end)
        clock.advance(milliseconds=300)
        assert (await med.http.get("/v1/stats")).json()["opened"] == 1  # reported within the same second
        clock.advance(timedelta(days=31))
        assert (await med.http.get("/v1/stats")).json()["opened"] == 0
