"""notify's callback routes on the in-memory context: roles, masking, errors."""

from __future__ import annotations

import httpx
import pytest

from common.clock import FakeClock
from common.contracts.cases import CaseAccepted
from common.fakes import FakePublisher
from common.http import create_app
from notify import handlers
from notify.adapters.store import InMemoryCallbacks, memory_cases
from notify.domain import callback_id_for
from notify.entrypoints.api import router
from notify.handlers import Notify
from notify.settings import NotifySettings
from tests.unit.notify.station_time import sh

TOKENS = {"officer-token": ["officer"], "viewer-token": ["viewer"], "leader-token": ["leadership"]}
P1 = callback_id_for("A2026-0042", "p1", "unsolved_7d")


@pytest.fixture
async def api():
    n = Notify(NotifySettings(tokens=TOKENS), FakeClock(sh(2026, 11, 20, 10, 0)), FakePublisher(),
               InMemoryCallbacks(), memory_cases())
    await handlers.case_accepted(n, CaseAccepted.model_validate({
        "case_id": "A2026-0042", "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00",
        "officer_id": "P1001", "unit_id": "G1",
        "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}]}))
    app = create_app("notify", n.settings, {}, context=n, routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_phones_are_whole_for_an_officer_on_one_callback_and_masked_otherwise(api) -> None:
    officer = (await api.get(f"/v1/callbacks/{P1}", headers=as_("officer-token"))).json()
    viewer = (await api.get(f"/v1/callbacks/{P1}", headers=as_("viewer-token"))).json()
    listed = (await api.get("/v1/callbacks", headers=as_("officer-token"))).json()
    assert (officer["phone"], viewer["phone"], listed[0]["phone"]) == ("13800138001", "138****8001", "138****8001")
    assert officer["due_at"] == "2026-11-28T00:00:00+08:00" and officer["due_shown"] == "2026-11-27 23:59:59"
    assert officer["history"][0]["action"] == "schedule" and "history" not in listed[0]


async def test_completing_needs_an_officer_and_answers_404_409_422(api) -> None:
    body = {"channel": "phone", "reached": True, "opinion": "满意", "by": "P1001"}
    assert (await api.post(f"/v1/callbacks/{P1}/complete", json=body, headers=as_("viewer-token"))).status_code == 403
    assert (await api.post(f"/v1/callbacks/{P1}/complete", json=body)).status_code == 401
    missing = await api.post("/v1/callbacks/cb-unknown/complete", json=body, headers=as_("officer-token"))
    assert missing.status_code == 404
    bad = await api.post(f"/v1/callbacks/{P1}/complete", json={**body, "channel": "fax"}, headers=as_("officer-token"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "channel"
    done = await api.post(f"/v1/callbacks/{P1}/complete", json=body, headers=as_("officer-token"))
    assert (done.status_code, done.json()["state"], done.json()["completed_by"]) == (200, "done", "P1001")
    again = await api.post(f"/v1/callbacks/{P1}/complete", json=body, headers=as_("officer-token"))
    assert again.status_code == 409 and again.json()["error"] == "refused" and "already done" in again.json()["detail"]


async def test_lists_are_bounded_and_filtered(api) -> None:
    headers = as_("leader-token")
    assert (await api.get("/v1/callbacks", params={"limit": 501}, headers=headers)).status_code == 422
    assert (await api.get("/v1/callbacks", params={"state": "lost"}, headers=headers)).status_code == 422
    assert (await api.get("/v1/callbacks", params={"case_id": "x y"}, headers=headers)).status_code == 422
    window = {"due_from": "2026-11-28T00:00:00", "due_to": "2026-11-29T00:00:00"}  # local, no offset
    assert len((await api.get("/v1/callbacks", params=window, headers=headers)).json()) == 1
    earlier = {"due_from": "2026-11-27T00:00:00", "due_to": "2026-11-28T00:00:00"}
    assert (await api.get("/v1/callbacks", params=earlier, headers=headers)).json() == []
    reversed_ = {"due_from": "2026-11-29T00:00:00", "due_to": "2026-11-28T00:00:00"}
    answer = await api.get("/v1/callbacks", params=reversed_, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "query.due_from"
    for field, value in (("due_from", "0001-01-01T00:00:00"), ("due_to", "9999-12-31T23:59:00-08:00")):
        beyond = await api.get("/v1/callbacks", params={field: value}, headers=headers)  # never a 500 from the store
        assert beyond.status_code == 422 and beyond.json()["detail"][0]["field"] == field
    assert (await api.get("/v1/callbacks", params={"officer_id": "P2"}, headers=headers)).json() == []
    assert (await api.get("/v1/callbacks/today", headers=headers)).status_code == 422
    figures = await api.get("/v1/callbacks/figures", params={"week": "2026-W48", "by": "unit"}, headers=headers)
    assert figures.json() == {"week": "2026-W48", "by": "unit", "rows": []}

