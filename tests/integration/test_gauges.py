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

        async def waiting() -> str | None:
            text = (await disp.http.get("/metrics")).text
            return text if _sample(text, "fengqiao_alerts_waiting") == 1.0 else None

        text = await eventually(waiting)
        assert _sample(text, "fengqiao_alerts_waiting_oldest_seconds") == pytest.approx(90.0)
        assert _sample(text, 'fengqiao_ready{dependency="mongodb"}') == 1.0
        assert _sample(text, 'fengqiao_consumer_pending_messages{consumer="dispatch-alerts-received"}') is not None
