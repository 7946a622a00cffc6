"""The audit trail: one record per response showing personal data whole and per command; none for a
masked read; readable by admin only; never the personal data itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import Depends

from common.audit import AuditTrail, MemoryAuditStore
from common.auth import require
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

TOKENS = {"officer-token-0001": ["officer"], "viewer-token-0001": ["viewer"], "admin-token-0001": ["admin"]}
CB = callback_id_for("A2026-0042", "p1", "unsolved_7d")
PHONE = "13800138001"


@pytest.fixture
async def notify_app():
    n = Notify(NotifySettings(tokens=TOKENS), FakeClock(sh(2026, 11, 20, 10, 0)), FakePublisher(),
               InMemoryCallbacks(), memory_cases())
    await handlers.case_accepted(n, CaseAccepted.model_validate({
        "case_id": "A2026-0042", "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00",
        "officer_id": "P1001", "unit_id": "G1",
        "parties": [{"party_id": "p1", "name": "王某", "phone": PHONE}]}))
    app = create_app("notify", n.settings, {}, context=n, routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield app, client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _records(app) -> list:
    trail: AuditTrail = app.state.audit
    await trail.idle()
    return list(trail.store.records)


async def test_an_officer_reading_a_callback_leaves_one_record_naming_the_officer_and_the_callback(
        notify_app) -> None:
    app, client = notify_app
    assert (await client.get(f"/v1/callbacks/{CB}", headers=as_("officer-token-0001"))).json()["phone"] == PHONE
    [record] = await _records(app)
    assert record.who.startswith("token:") and "officer-token" not in record.who
    assert (record.kind, record.roles, record.method, record.route) == (
        "personal_data", ["officer"], "GET", "/v1/callbacks/{callback_id}")
    assert f"callback_id={CB}" in record.ids and "case_id=A2026-0042" in record.ids
    assert record.status == 200 and record.address == "127.0.0.1"
    assert PHONE not in json.dumps(record.__dict__, default=str)


async def test_a_masked_read_and_a_listing_leave_none(notify_app) -> None:
    app, client = notify_app
    assert (await client.get(f"/v1/callbacks/{CB}", headers=as_("viewer-token-0001"))).json()["phone"] != PHONE
    await client.get("/v1/callbacks", headers=as_("officer-token-0001"))  # listings are masked for everyone
    await client.get("/v1/callbacks/cb-missing", headers=as_("officer-token-0001"))  # 404: nothing shown
    assert await _records(app) == []


async def test_a_command_is_recorded_whatever_it_shows(notify_app) -> None:
    app, client = notify_app
    body = {"channel": "phone", "reached": True, "opinion": "满意", "by": "P1001"}
    done = await client.post(f"/v1/callbacks/{CB}/complete", json=body, headers=as_("officer-token-0001"))
    refused = await client.post(f"/v1/callbacks/{CB}/complete", json=body, headers=as_("officer-token-0001"))
    await client.post(f"/v1/callbacks/{CB}/complete", json=body, headers=as_("viewer-token-0001"))  # 403: no one
    records = await _records(app)
    assert [(r.kind, r.method, r.status) for r in records] == [("command", "POST", done.status_code),
                                                               ("command", "POST", refused.status_code)]
    assert all(f"callback_id={CB}" in r.ids for r in records)


async def test_admin_queries_by_who_and_time_and_no_one_else_may(notify_app) -> None:
    app, client = notify_app
    await client.get(f"/v1/callbacks/{CB}", headers=as_("officer-token-0001"))
    await client.get(f"/v1/callbacks/{CB}", headers=as_("admin-token-0001"))
    officer = (await _records(app))[0].who
    assert (await client.get("/v1/audit", headers=as_("officer-token-0001"))).status_code == 403
    everyone = (await client.get("/v1/audit", headers=as_("admin-token-0001"))).json()
    assert len(everyone) == 2 and everyone[0]["at"] >= everyone[1]["at"]  # newest first
    mine = (await client.get("/v1/audit", params={"who": officer}, headers=as_("admin-token-0001"))).json()
    assert [r["who"] for r in mine] == [officer] and mine[0]["route"] == "/v1/callbacks/{callback_id}"
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await client.get("/v1/audit", params={"from": later}, headers=as_("admin-token-0001"))).json() == []
    assert len((await client.get("/v1/audit", params={"to": later}, headers=as_("admin-token-0001"))).json()) == 2
    # reading the trail is not itself personal data shown
    assert len(await _records(app)) == 2


async def test_a_store_away_keeps_the_records_for_the_next_try() -> None:
    class Flaky(MemoryAuditStore):
        down = True

        async def insert_many(self, records) -> None:
            if self.down:
                raise ConnectionError("store away")
            await super().insert_many(records)

    store = Flaky()
    app = create_app("t", NotifySettings(tokens=TOKENS), {})
    app.state.audit = AuditTrail(store)

    @app.post("/v1/other/{thing_id}", dependencies=[Depends(require("officer"))])
    async def other(thing_id: str) -> dict:
        return {"thing_id": thing_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/v1/other/x1", headers=as_("officer-token-0001"))).status_code == 200
        await app.state.audit.idle()
        assert store.records == []
        store.down = False
        await client.post("/v1/other/x2", headers=as_("officer-token-0001"))
        await app.state.audit.idle()
    assert [r.ids for r in store.records] == [["thing_id=x1"], ["thing_id=x2"]]


async def test_leadership_may_not_post_a_rating() -> None:
    """The least-privilege review (docs/roles.md): a rating is taken by who called or visited."""
    from common.clock import SystemClock
    from rating.bootstrap import wire_in_memory
    from rating.entrypoints.api import router as rating_router
    from rating.settings import RatingSettings

    settings = RatingSettings(tokens={"leader-token-0001": ["leadership"], "officer-token-0001": ["officer"]})
    m = wire_in_memory(settings, SystemClock(), FakePublisher())
    app = create_app("rating", settings, {}, context=m, routers=(rating_router,))
    body = {"request_id": "r-1", "subject_type": "service", "subject_id": "W-1", "channel": "onsite",
            "level": "satisfied", "officer_id": "P1001"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        refused = await client.post("/v1/ratings", json=body, headers=as_("leader-token-0001"))
        assert refused.status_code == 403
        assert await _records(app) == []  # refused before the route: nothing changed, nothing recorded
