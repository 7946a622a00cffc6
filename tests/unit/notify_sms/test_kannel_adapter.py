"""The Kannel adapter against a stand-in for smsbox's sendsms: what it asks, how it reads the answers."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from notify.sms.adapters.kannel import DLR_MASK, KannelGateway, dlr_url, kannel_receipt
from notify.sms.adapters.port import DeliveryReceipt, OutboundSms

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SMS = OutboundSms("cb-0042.p1:1", "13800138001", "您好，枫亭派出所回访。回复TD退订")


def gateway(answer: httpx.Response | Exception, seen: list[httpx.Request] | None = None) -> KannelGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return KannelGateway(
        url="http://127.0.0.1:13013/", username="fq", password="p&w d", sender="10690",
        callback_url="http://127.0.0.1:8103/", callback_token="tok/en@1",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


async def test_sendsms_carries_ucs2_the_dlr_mask_and_the_report_url():
    seen: list[httpx.Request] = []
    result = await gateway(httpx.Response(202, text="0: Accepted for delivery"), seen).send(SMS)
    assert result.accepted and result.detail == "0: Accepted for delivery"
    [request] = seen
    assert request.url.path == "/cgi-bin/sendsms"
    query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True).items()}
    assert query | {"dlr-url": ""} == {
        "username": "fq", "password": "p&w d", "from": "10690", "to": "13800138001", "text": SMS.text,
        "coding": "2", "charset": "UTF-8", "dlr-mask": str(DLR_MASK), "dlr-url": ""}
    assert query["dlr-url"] == dlr_url("http://127.0.0.1:8103/", "tok/en@1", SMS.sms_id)


def test_the_report_url_names_the_message_and_carries_the_token():
    url = dlr_url("http://127.0.0.1:8103/", "tok/en@1", "cb-1")
    assert url == "http://kannel:tok%2Fen%401@127.0.0.1:8103/v1/sms/dlr?sms_id=cb-1&status=%d&answer=%A"
    plain = dlr_url("https://notify.station:8443", "", "x")
    assert plain == "https://notify.station:8443/v1/sms/dlr?sms_id=x&status=%d&answer=%A"
    assert DLR_MASK == 1 + 2 + 8 + 16


@pytest.mark.parametrize(
    ("answer", "accepted", "retryable"),
    [
        (httpx.Response(202, text="0: Accepted for delivery"), True, False),
        (httpx.Response(202, text="3: Queued for later delivery"), True, False),
        (httpx.Response(403, text="Authorization failed for sendsms"), False, True),
        (httpx.Response(400, text="Missing receiver number"), False, False),
        (httpx.Response(503, text="Sendsms temporarily unavailable"), False, True),
        (httpx.Response(200, text="something else"), False, True),
        (httpx.ConnectError("refused"), False, True),
        (httpx.ReadTimeout("slow"), False, True),
    ],
)
async def test_answers(answer, accepted, retryable):
    result = await gateway(answer).send(SMS)
    assert (result.accepted, result.retryable) == (accepted, retryable)


@pytest.mark.parametrize(
    ("code", "receipt"),
    [
        (1, DeliveryReceipt("S", "delivered", AT, "")),
        (2, DeliveryReceipt("S", "failed", AT, "undeliverable")),
        (16, DeliveryReceipt("S", "failed", AT, "refused")),
        (4, "step"),
        (8, "step"),
        (0, None),
        (3, None),
        (32, None),
    ],
)
def test_kannel_status_codes(code, receipt):
    assert kannel_receipt("S", code, AT) == receipt
