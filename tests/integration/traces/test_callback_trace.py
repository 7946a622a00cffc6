"""A case's callback is one trace through notify and rating, across its timer and the citizen's reply."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind

from common.clock import FakeClock
from common.contracts.subjects import CASES_ACCEPTED
from common.replies import short_code
from notify import handlers
from notify.domain import callback_id_for
from tests.support import PUBLISH_TIMEOUT_S, eventually
from tests.unit.notify.station_time import sh

pytestmark = pytest.mark.integration

#: the trace the case system (the publisher of `cases.accepted`) started, as it would send it
CASE_TRACE = "5ce0e9a56015fec5aadfa328ae398115"
CASE_SPAN = "ab3a1ab3c2d4e5f6"
CASE = "A2026-0777"
PHONE = "13800138077"
ACCEPTED = {"case_id": CASE, "kind": "administrative", "accepted_at": "2026-11-20T10:00:00+08:00",
            "officer_id": "P1001", "unit_id": "G1",
            "parties": [{"party_id": "p1", "name": "王某", "phone": PHONE, "role": "victim"}]}


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


async def test_an_accepted_case_its_callback_sms_the_answer_and_the_rating_are_one_trace(
    run_service, nc, spans
) -> None:
    """`cases.accepted` -> callback scheduled -> (the timer) callback SMS -> the party's answer -> the rating.

    Two steps have no message to carry the trace, so the trace waits in stored data:
    - the timer that sends the callback SMS fires with no trace of its own: the callback keeps the trace
      context of the `cases.accepted` consume that scheduled it, and the firing is its child;
    - the answer is a new HTTP request from the gateway (Kannel sends no `traceparent`): the request and the
      question's matching are the request's own trace, and the answer is told onward (`sms.answered.notify`)
      in a span whose parent is the trace context the question kept when `sms.send` asked it, linked to the
      request's span. So everything the answer causes, in notify and in rating, is the case's trace.
    """
    callback_id = callback_id_for(CASE, "p1", "unsolved_7d")
    clock = FakeClock(sh(2026, 11, 20, 10, 0, 1))
    async with run_service("notify", clock) as notify, run_service("rating", clock) as rating:
        await nc.jetstream().publish(
            CASES_ACCEPTED, json.dumps(ACCEPTED, ensure_ascii=False).encode(),
            timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": CASE, "traceparent": f"00-{CASE_TRACE}-{CASE_SPAN}-01"},
        )
        await eventually(lambda: _state(notify.http, f"/v1/callbacks/{callback_id}", "scheduled"))
        assert await handlers.sweep(notify.parts.context) == 1  # the callback timer's tick, as the periodic does
        await eventually(lambda: _listed(notify.http, f"/v1/sms/outbox?phone={PHONE}"))
        reply = await notify.http.post("/v1/sms/inbound",
                                       json={"from": PHONE, "text": f"1 满意 {short_code(callback_id)}"})
        assert reply.status_code == 202 and reply.json()["known"], reply.text
        await eventually(lambda: _state(notify.http, f"/v1/callbacks/{callback_id}", "done"))
        [rated] = await eventually(lambda: _listed(rating.http, f"/v1/ratings?subject_id={callback_id}"))
        assert (rated["subject_type"], rated["level"], rated["channel"]) == ("callback", "satisfied", "sms")
    finished = spans.get_finished_spans()  # the services stopped: every span of theirs has ended

    in_trace = [s for s in finished if _hex(s.context.trace_id, 32) == CASE_TRACE]
    by_id = {s.context.span_id: s for s in in_trace}
    names = {s.name for s in in_trace}
    chain = {"cases.accepted process", "callbacks.scheduled publish", "callback use case", "callback save",
             "callbacks.sent publish", "sms.send publish", "sms.send process", "inbound sms use case",
             "sms.answered.notify publish", "sms.answered.notify process", "callbacks.completed publish",
             "callbacks.completed process"}
    assert chain <= names, chain - names
    groups = {s.attributes.get("messaging.consumer.group.name") for s in in_trace if s.kind is SpanKind.CONSUMER}
    assert {"notify-cases-accepted", "notify-sms-send", "notify-callbacks-sms-answered",
            "rating-callbacks-completed"} <= groups, groups

    # parent links: the publisher's span is the one root; every other span's parent is a span of the trace
    [root] = [s for s in in_trace if s.parent is not None and s.parent.span_id not in by_id]
    assert (root.name, _hex(root.parent.span_id, 16)) == ("cases.accepted process", CASE_SPAN)

    def parent(span):
        return by_id[span.parent.span_id]

    # the timer's firing is a child of the consume that scheduled the callback
    [fired] = [s for s in in_trace if s.name == "callback use case" and parent(s) is root]
    sent = [s for s in in_trace if s.name in ("callbacks.sent publish", "sms.send publish")]
    assert {parent(s).name for s in sent} == {"callback save"}
    assert {parent(parent(s)).context.span_id for s in sent} == {fired.context.span_id}
    # the answer continues the trace of the sms.send that asked the question, linked to the reply's request
    [asked] = [s for s in in_trace if s.name == "sms.send process"]
    [answer] = [s for s in in_trace if s.name == "inbound sms use case"]
    assert parent(answer) is asked
    [request] = [s for s in finished if s.kind is SpanKind.SERVER
                 and s.attributes.get("http.route") == "/v1/sms/inbound"
                 and "POST" in (s.attributes.get("http.method"), s.attributes.get("http.request.method"))]
    assert _hex(request.context.trace_id, 32) != CASE_TRACE  # the request is the citizen's own trace
    assert [link.context.span_id for link in answer.links] == [request.context.span_id]
    [told] = [s for s in in_trace if s.name == "sms.answered.notify publish"]
    assert parent(told) is answer
    # rating's consume is the child of notify's publish of callbacks.completed
    [completed] = [s for s in in_trace if s.name == "callbacks.completed process"
                   and s.attributes["messaging.consumer.group.name"] == "rating-callbacks-completed"]
    assert parent(completed).name == "callbacks.completed publish"
    assert parent(parent(parent(completed))).name == "callback use case"


async def _state(http, path: str, state: str) -> dict | None:
    response = await http.get(path)
    return response.json() if response.status_code == 200 and response.json()["state"] == state else None


async def _listed(http, path: str) -> list | None:
    response = await http.get(path)
    return response.json() if response.status_code == 200 and response.json() else None
