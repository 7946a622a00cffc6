"""One alert is one trace across the services: the W3C trace context travels in NATS headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

import dispatch
from common.clock import FakeClock
from common.contracts.subjects import ALERTS_RECEIVED
from tests.support import PUBLISH_TIMEOUT_S, eventually

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
SAMPLE_GRID = Path(dispatch.__file__).with_name("sample_grid.geojson")
STATION = (118.9651, 25.2284)  # inside G1 of the sample grid
#: a trace another system started (the 110 desk's), as it would send it
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _alert(alert_id: str) -> dict:
    return {
        "alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
        "location": {"lon": STATION[0], "lat": STATION[1], "address": "枫亭镇街道8号"},
        "caller_phone": "13800138000", "summary": "邻居因烧烤排烟争吵", "source": "110",
    }


async def _state(http, path: str, state: str) -> dict | None:
    response = await http.get(path)
    return response.json() if response.status_code == 200 and response.json()["state"] == state else None


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


async def test_a_publishers_traceparent_is_the_parent_of_dispatchs_spans(run_service, nc, spans) -> None:
    async with run_service("dispatch", FakeClock(START)) as disp:
        grid = json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))
        assert (await disp.http.put("/v1/grid", json=grid)).status_code == 200
        alert = _alert("110-20261123-000900")
        await nc.jetstream().publish(
            ALERTS_RECEIVED, json.dumps(alert, ensure_ascii=False).encode(), timeout=PUBLISH_TIMEOUT_S,
            headers={"Nats-Msg-Id": alert["alert_id"], "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        await eventually(lambda: _state(disp.http, f"/v1/alerts/{alert['alert_id']}", "assigned"))

        def placed() -> list:
            return [s for s in spans.get_finished_spans() if s.name == "alerts.assigned publish"]

        await eventually(lambda: _async(placed()))
    finished = spans.get_finished_spans()
    consumed = [s for s in finished if s.name == "alerts.received process"]
    assert len(consumed) == 1
    assert consumed[0].kind is SpanKind.CONSUMER
    assert _hex(consumed[0].context.trace_id, 32) == CALLER_TRACE
    assert _hex(consumed[0].parent.span_id, 16) == CALLER_SPAN
    assigned = [s for s in finished if s.name == "alerts.assigned publish"]
    assert [_hex(s.context.trace_id, 32) for s in assigned] == [CALLER_TRACE]
    assert assigned[0].kind is SpanKind.PRODUCER


async def test_an_alert_referred_to_mediation_is_one_trace_through_dispatch_and_mediation(
    run_service, nc, spans, published
) -> None:
    clock = FakeClock(START)
    async with run_service("dispatch", clock) as disp, run_service("mediation", clock) as med:
        grid = json.loads(SAMPLE_GRID.read_text(encoding="utf-8"))
        assert (await disp.http.put("/v1/grid", json=grid)).status_code == 200
        alert = _alert("110-20261123-000901")
        await nc.jetstream().publish(
            ALERTS_RECEIVED, json.dumps(alert, ensure_ascii=False).encode(),
            timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]}
        )
        path = f"/v1/alerts/{alert['alert_id']}"
        assigned = await eventually(lambda: _state(disp.http, path, "assigned"))
        unit_id = assigned["unit_id"]
        clock.advance(seconds=40)
        assert (await disp.http.post(f"{path}/ack", json={"unit_id": unit_id})).status_code == 200
        clock.advance(minutes=30)
        spans.clear()
        closing = {
            "unit_id": unit_id, "officer_id": assigned["officers"][0], "disposition": "referred_to_mediation",
            "note": "双方同意调解", "signatures": {},
            "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138000", "role": "complainant"},
                        {"party_id": "p2", "name": "宋某", "phone": "13800138002", "role": "respondent"}],
        }
        closed = await disp.http.post(f"{path}/close", json=closing)
        assert closed.status_code == 200, closed.text
        await eventually(lambda: _ok(med.http, "/v1/disputes/D-110-20261123-000901"))
        await eventually(lambda: _async([s for s in spans.get_finished_spans() if s.name == "disputes.opened publish"]))

    finished = spans.get_finished_spans()
    (request,) = [
        s for s in finished if s.kind is SpanKind.SERVER and s.attributes.get("http.route", "").endswith("/close")
    ]
    trace_id = request.context.trace_id
    in_trace = {s.name for s in finished if s.context.trace_id == trace_id}
    assert {"alerts.closed publish", "alerts.closed process", "disputes.opened publish"} <= in_trace, in_trace
    consumed = [s for s in finished if s.name == "alerts.closed process" and s.context.trace_id == trace_id]
    assert "mediation-alerts-closed" in {s.attributes["messaging.consumer.group.name"] for s in consumed}
    # the use case and its store write are spans of the same trace
    assert any(n.endswith("use case") for n in in_trace) and any(n.endswith("save") for n in in_trace), in_trace


async def _async(value):
    return value or None


async def _ok(http, path: str) -> dict | None:
    response = await http.get(path)
    return response.json() if response.status_code == 200 else None
