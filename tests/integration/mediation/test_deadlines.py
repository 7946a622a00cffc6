"""事不过夜: the first-contact deadline is kept in the store, so a restart keeps it and it fires once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from mediation import handlers

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
REPORT = {
    "source": "informant", "reported_by": "信息员林某", "category": "land",
    "summary": "两户为宅基地边界争执", "parties": [{"party_id": "p1", "name": "林某", "phone": "13800138011"}],
}


async def test_the_overdue_first_contact_survives_a_restart_and_is_published_once(run_service, published) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        late = (await med.http.post("/v1/disputes", json=REPORT)).json()["dispute_id"]
        contacted = (await med.http.post("/v1/disputes", json=REPORT)).json()["dispute_id"]
        await med.http.post(f"/v1/disputes/{contacted}/actions", json={"action": "contact", "actor": "P1001"})
        assert await handlers.sweep_deadlines(med.parts.context) == 0

    clock.advance(hours=25)
    async with run_service("mediation", clock) as med:  # the same database: a restart
        m = med.parts.context
        assert await handlers.sweep_deadlines(m) == 1
        assert await handlers.sweep_deadlines(m) == 0
        dispute = (await med.http.get(f"/v1/disputes/{late}")).json()
        assert (dispute["overdue"], dispute["next_due_at"]) == (True, None)
        assert dispute["overdue_flagged_at"] == "2026-11-24T09:15:00+08:00"
        listed = (await med.http.get("/v1/disputes", params={"overdue": "true"})).json()
        assert [d["dispute_id"] for d in listed] == [late]
        assert (await med.http.get("/v1/stats")).json()["overdue"] == 1

    clock.advance(hours=1)
    async with run_service("mediation", clock) as med:
        assert await handlers.sweep_deadlines(med.parts.context) == 0

    overdue = await published("disputes.overdue")
    assert [(e.msg_id, e.data["dispute_id"], e.data["due_at"]) for e in overdue] == [
        (f"{late}/overdue/2", late, "2026-11-23T16:00:00Z")  # 24:00 at the station, the day reported
    ]
