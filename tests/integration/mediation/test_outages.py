"""Mediation while the broker is away: commands succeed, their events wait, and go out in order later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.clock import FakeClock
from common.repository import RELAY_GRACE
from fengqiao.embedded import start_nats
from tests.integration.mediation.test_disputes_api import REPORT, START
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_two_actions_while_the_broker_is_away_are_published_once_in_order(
    run_service, nats_server, nc, published, tmp_path
) -> None:
    clock = FakeClock(START)
    async with run_service("mediation", clock) as med:
        opened = await med.http.post("/v1/disputes", json=REPORT)
        dispute_id = opened.json()["dispute_id"]
        nats_server.stop()
        await eventually(lambda: not med.runtime.nc.is_connected)
        contact = await med.http.post(f"/v1/disputes/{dispute_id}/actions",
                                      json={"action": "contact", "actor": "P1001", "note": "上门了解"})
        assert contact.status_code == 200 and contact.json()["state"] == "mediating"
        escalate = await med.http.post(f"/v1/disputes/{dispute_id}/actions",
                                       json={"action": "escalate", "actor": "P1001", "reason": "双方分歧大"})
        assert escalate.status_code == 200 and escalate.json()["level"] == "village"
        restarted = start_nats(tmp_path / "nats", port=nats_server.port)
        try:
            await eventually(lambda: med.runtime.nc.is_connected, timeout=20)
            later = datetime.now(UTC) + RELAY_GRACE
            assert await med.parts.context.uow.relay(now=later) == 2
            await eventually(lambda: nc.is_connected, timeout=20)
            told = await published("disputes.>")
            assert [(e.subject, e.msg_id) for e in told] == [
                ("disputes.opened", f"{dispute_id}/opened/1"),
                ("disputes.contacted", f"{dispute_id}/contacted/2"),
                ("disputes.escalated", f"{dispute_id}/escalated/3"),
            ]
        finally:
            restarted.stop()
