"""The gateway's HTTP side on in-memory adapters: Kannel's forms, JSON, any bytes; the embedded outbox."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from common.http import create_app
from notify.sms import handlers
from notify.sms.adapters.embedded import EmbeddedGateway, InMemoryRecords
from notify.sms.adapters.port import InMemorySmsGateway
from notify.sms.entrypoints.api import router
from tests.unit.notify_sms.sms_support import PHONE, notify_of, send_command

TOKENS = {"dev-token": ["admin"], "kannel-token-0001": ["integration"], "viewer-token": ["viewer"],
          "desk-token": ["duty_desk"]}


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"kannel:{token}".encode()).decode()}


@pytest.fixture
def embedded(clock) -> EmbeddedGateway:
    return EmbeddedGateway(InMemoryRecords(), clock, receipt_delay=timedelta(seconds=2))


@pytest.fixture
def sms(make_sms, embedded):
    return make_sms(gw=embedded, tokens=TOKENS)


@pytest.fixture
def app(sms):
    return create_app("notify", sms.settings, {}, context=notify_of(sms), routers=(router,))


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=basic("kannel-token-0001")) as c:
        yield c


def kannel_query(text: bytes, coding: str = "0", charset: str = "UTF-8", sender: str = PHONE) -> str:
    return f"/v1/sms/inbound?from={sender}&to=10690&text={quote(text)}&coding={coding}&charset={charset}&id=k-1"


async def test_kannel_get_url_with_basic_auth_reaches_sms_inbound(http, sms):
    response = await http.get(kannel_query("满意，谢谢".encode()))
    assert response.status_code == 202
    assert response.json() == {"inbound_id": "in:k-1", "published": True, "known": False, "opt_out": False}
    [told] = sms.publisher.on("sms.inbound")
    assert (told["phone"], told["text"], told["to"], told["gateway"]) == (PHONE, "满意，谢谢", "10690", "embedded")


@pytest.mark.parametrize(
    ("text", "coding", "charset", "read"),
    [
        ("退订".encode("utf-16-be"), "2", "UTF-16BE", "退订"),
        (b"9000 8BA2".replace(b" ", b""), "2", "UCS-2", "退订"),
        (b"\xff\xfe\xfd", "0", "UTF-8", "\ufffd\ufffd\ufffd"),
        (b"\x00\x01", "1", "8-BIT", ""),
    ],
)
async def test_any_encoding_is_read_and_answered_202(http, sms, text, coding, charset, read):
    response = await http.get(kannel_query(text, coding, charset))
    assert response.status_code == 202
    assert sms.publisher.on("sms.inbound")[0]["text"] == read


async def test_an_opt_out_by_form_post_and_json(http, sms):
    form = await http.post("/v1/sms/inbound", content=f"from=%2B86{PHONE}&text=TD".encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 202 and form.json()["opt_out"] is True
    assert await sms.opt_outs.has(PHONE)
    posted = await http.post("/v1/sms/inbound", json={"from": "13900139000", "text": "退订", "to": "10690"})
    assert posted.status_code == 202 and posted.json()["opt_out"] is True


async def test_kannel_post_url_body_and_headers(http, sms):
    response = await http.post(
        "/v1/sms/inbound", content="基本满意".encode("utf-16-be"),
        headers={"Content-Type": "text/plain; charset=UTF-16BE", "X-Kannel-From": PHONE, "X-Kannel-To": "10690",
                 "X-Kannel-Coding": "2"})
    assert response.status_code == 202
    assert sms.publisher.on("sms.inbound")[0]["text"] == "基本满意"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"not json {", "headers": {"Content-Type": "application/json"}},
        {"content": b"[1, 2, 3]", "headers": {"Content-Type": "application/json"}},
        {"content": b"\xff\xfe" * 1000, "headers": {"Content-Type": "application/octet-stream"}},
        {"content": b"&&&=&==&%zz%", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"content": b'{"from": {"nested": 1}, "text": null}', "headers": {"Content-Type": "application/json"}},
        {"content": b"[" * 100_000 + b"]" * 100_000, "headers": {"Content-Type": "application/json"}},
    ],
)
async def test_a_body_without_a_sender_is_kept_and_answered_202(http, sms, request_kwargs):
    response = await http.post("/v1/sms/inbound", **request_kwargs)
    assert response.status_code == 202 and response.json()["inbound_id"] is None
    assert sms.strays.kept[-1][0] == "inbound_no_sender"
    assert sms.publisher.on("sms.inbound") == []


async def test_a_sender_that_is_no_phone_is_kept_not_told(http, sms):
    response = await http.get("/v1/sms/inbound?from=Operator&text=hello")
    assert response.status_code == 202 and response.json()["published"] is False
    assert sms.publisher.on("sms.inbound") == []


async def test_a_body_over_the_limit_is_413(http):
    response = await http.post("/v1/sms/inbound", content=b"x" * (2 * 1024 * 1024 + 1),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Basic !!!notbase64"}, 401),
        (basic("wrong"), 401),
        ({"Authorization": "Bearer viewer-token"}, 403),
        ({"Authorization": "Bearer kannel-token-0001"}, 202),
        ({"Authorization": "Bearer dev-token"}, 202),
    ],
)
async def test_only_the_gateway_or_an_admin_hands_in_sms(http, headers, code):
    response = await http.get(f"/v1/sms/inbound?from={PHONE}&text=1", headers=headers)
    assert response.status_code == code


async def test_kannel_delivery_reports_move_the_message(http, sms):
    await handlers.request_sms(sms, send_command())
    step = await http.get("/v1/sms/dlr?sms_id=S-1&status=8&answer=ACK%2F")
    assert step.status_code == 202 and step.json()["applied"] is False
    done = await http.get("/v1/sms/dlr?sms_id=S-1&status=1&answer=")
    assert done.status_code == 202 and done.json()["applied"] is True
    again = await http.get("/v1/sms/dlr?sms_id=S-1&status=1")
    assert again.json()["applied"] is False
    assert [d["status"] for d in sms.publisher.on("sms.delivery.notify")] == ["sent", "delivered"]


async def test_the_smscs_taking_a_message_whose_sending_was_not_saved_makes_it_sent(http, sms):
    sms.gateway = InMemorySmsGateway(away=True)  # the try's outcome is not saved as sent (here: "away")
    await handlers.request_sms(sms, send_command())
    assert (await sms.uow.get("S-1")).state == "queued"
    step = await http.get("/v1/sms/dlr?sms_id=S-1&status=8&answer=ACK%2F")
    assert step.status_code == 202 and step.json()["applied"] is True
    message = await sms.uow.get("S-1")
    assert (message.state, message.next_try_at, message.in_flight) == ("sent", None, False)
    assert [d["status"] for d in sms.publisher.on("sms.delivery.notify")] == ["sent"]
    unknown = await http.get("/v1/sms/dlr?sms_id=S-404&status=8")
    assert unknown.status_code == 202 and unknown.json()["applied"] is False


async def test_a_json_receipt_of_failure(http, sms):
    await handlers.request_sms(sms, send_command())
    response = await http.post("/v1/sms/dlr", json={"sms_id": "S-1", "status": "failed"})
    assert response.json()["applied"] is True
    assert sms.publisher.on("sms.delivery.notify")[-1]["detail"] == "undeliverable"


@pytest.mark.parametrize(
    "query",
    ["sms_id=nobody&status=1", "sms_id=S-1&status=3", "sms_id=S-1&status=-1", "sms_id=S-1&status=9999999",
     "sms_id=%FF%FE&status=1", "status=1", "sms_id=S-1", ""],
)
async def test_a_report_naming_nothing_known_is_kept_and_answered_202(http, sms, query):
    await handlers.request_sms(sms, send_command())
    response = await http.get(f"/v1/sms/dlr?{query}")
    assert response.status_code == 202 and response.json()["applied"] is False
    assert sms.strays.kept[-1][0] == "receipt"
    assert [d["status"] for d in sms.publisher.on("sms.delivery.notify")] == ["sent"]


async def test_the_outbox_shows_numbers_whole_to_the_desk_and_masked_to_a_viewer(http, sms, clock):
    await handlers.request_sms(sms, send_command("S-1", text=f"请回电{PHONE}"))
    clock.advance(seconds=1)
    await handlers.request_sms(sms, send_command("S-2", phone="13900139000"))
    desk = await http.get(f"/v1/sms/outbox?phone=%2B86{PHONE}", headers={"Authorization": "Bearer desk-token"})
    assert desk.status_code == 200
    [item] = desk.json()
    assert (item["sms_id"], item["phone"], item["text"], item["receipt"]) == ("S-1", PHONE, f"请回电{PHONE}",
                                                                                "delivered")
    assert item["sent_at"].endswith("+08:00")
    viewer = await http.get("/v1/sms/outbox", headers={"Authorization": "Bearer viewer-token"})
    assert [(i["sms_id"], i["phone"]) for i in viewer.json()] == [("S-2", "139****9000"), ("S-1", "138****8001")]
    assert viewer.json()[1]["text"] == "请回电138****8001"
    assert (await http.get("/v1/sms/outbox", headers={"Authorization": ""})).status_code == 401


async def test_no_outbox_with_kannel(make_sms, gateway):
    sms = make_sms(tokens=TOKENS)
    app = create_app("notify", sms.settings, {}, context=notify_of(sms), routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        response = await c.get("/v1/sms/outbox", headers={"Authorization": "Bearer dev-token"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_an_admin_takes_a_phone_off_the_opt_out_list_and_the_audit_keeps_no_number(http, sms, app):
    await http.post("/v1/sms/inbound", json={"from": PHONE, "text": "TD", "to": "10690"})
    assert await sms.opt_outs.has(PHONE)
    route = "/v1/sms/opt-outs/withdrawals"
    body = {"phone": f"+86 {PHONE[:3]} {PHONE[3:]}", "reason": "本人到所书面申请"}
    for token, code in (("viewer-token", 403), ("desk-token", 403), ("nobody", 401)):
        answer = await http.post(route, json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == code, token
    assert await sms.opt_outs.has(PHONE)

    admin = {"Authorization": "Bearer dev-token"}
    for bad, field in (({**body, "phone": "not a phone"}, "phone"), ({**body, "reason": "x"}, "reason"),
                       ({"phone": PHONE}, "reason")):
        refused = await http.post(route, json=bad, headers=admin)
        assert refused.status_code == 422 and field in str(refused.json()["detail"]), bad
    first = await http.post(route, json=body, headers=admin)
    again = await http.post(route, json=body, headers=admin)
    assert (first.status_code, first.json(), again.json()) == (200, {"removed": True}, {"removed": False})
    assert not await sms.opt_outs.has(PHONE)
    trail = app.state.audit
    await trail.flush()
    records = [r for r in await trail.store.find(who=None, start=None, end=None, limit=50)
               if r.route == route]
    assert sorted(r.status for r in records) == [200, 200, 422, 422, 422]  # the admin's commands, refused ones too
    assert all(PHONE not in str(r) for r in records)
