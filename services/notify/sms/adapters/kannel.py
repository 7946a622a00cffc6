"""Kannel (bearerbox + smsbox) behind the `SmsGateway` port: sendsms over HTTP out, receipts back by dlr-url.

- Out: `GET /cgi-bin/sendsms` with `coding=2&charset=UTF-8` (without them Kannel turns Chinese into
  GSM question marks), a `dlr-mask` asking for delivered, not delivered and the SMSC's refusal,
  and a `dlr-url` naming the sms_id and Kannel's status code `%d`. Kannel calls it with GET and
  sends the URL's user:password as Basic auth, so the url carries notify's integration token.
- Answers: `202 0: Accepted for delivery` and `202 3: Queued for later delivery` (no SMSC
  connected: Kannel keeps it) are taken; a 4xx refuses this message for good, except 403 (our
  credentials: fixed by an operator, so retried); a 5xx, a timeout or no answer are retried.
  A timeout after Kannel took the message leads to a second SMS: sendsms has no idempotency key.
- A text over 70 characters (a callback is up to 335) needs `concatenation = true` and
  `max-messages = 5` in the station's `sendsms-user` group, so the phone joins the parts.
- Receipts: `kannel_receipt` reads Kannel's status codes (1 delivered, 2 not delivered to the
  phone, 16 refused by the SMSC; 4 buffered and 8 taken by the SMSC are steps, not outcomes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import structlog

from notify.sms.adapters.port import DeliveryReceipt, OutboundSms, SendResult

log = structlog.get_logger(__name__)

DLR_DELIVERED, DLR_UNDELIVERED, DLR_BUFFERED, DLR_SMSC_ACCEPTED, DLR_SMSC_REJECTED = 1, 2, 4, 8, 16
#: the reports asked for: the outcomes, and the SMSC's refusal
DLR_MASK = DLR_DELIVERED | DLR_UNDELIVERED | DLR_SMSC_ACCEPTED | DLR_SMSC_REJECTED
#: the user name Kannel sends back with a delivery report (the password is notify's token)
CALLBACK_USER = "kannel"


def kannel_receipt(sms_id: str, code: int, at: datetime, answer: str = "") -> DeliveryReceipt | Literal["step"] | None:
    """What a Kannel delivery report says: a receipt, "step" (buffered / taken by the SMSC), or None (unknown code)."""
    if code == DLR_DELIVERED:
        return DeliveryReceipt(sms_id, "delivered", at, answer[:200])
    if code == DLR_UNDELIVERED:
        return DeliveryReceipt(sms_id, "failed", at, "undeliverable")
    if code == DLR_SMSC_REJECTED:
        return DeliveryReceipt(sms_id, "failed", at, "refused")
    if code in (DLR_BUFFERED, DLR_SMSC_ACCEPTED):
        return "step"
    return None


def dlr_url(callback_url: str, token: str, sms_id: str) -> str:
    """Where Kannel reports on `sms_id`: notify's /v1/sms/dlr, with the token as Basic auth in the url."""
    parts = urlsplit(callback_url.rstrip("/"))
    netloc = f"{CALLBACK_USER}:{quote(token, safe='')}@{parts.netloc}" if token else parts.netloc
    base = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    # %d and %A are Kannel's: the status code and the SMSC's answer
    return f"{base}/v1/sms/dlr?sms_id={quote(sms_id, safe='')}&status=%d&answer=%A"


class KannelGateway:
    name = "kannel"

    def __init__(
        self, *, url: str, username: str, password: str, sender: str, callback_url: str, callback_token: str,
        timeout_s: float = 5.0, client: httpx.AsyncClient | None = None,
    ) -> None:
        self._sendsms = url.rstrip("/") + "/cgi-bin/sendsms"
        self._username = username
        self._password = password
        self._sender = sender
        self._callback_url = callback_url
        self._callback_token = callback_token
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def send(self, sms: OutboundSms) -> SendResult:
        params = {
            "username": self._username, "password": self._password, "to": sms.phone, "text": sms.text,
            "coding": "2", "charset": "UTF-8", "dlr-mask": str(DLR_MASK),
            "dlr-url": dlr_url(self._callback_url, self._callback_token, sms.sms_id),
        }
        if self._sender:
            params["from"] = self._sender
        try:
            response = await self._client.get(self._sendsms, params=params)
        except httpx.HTTPError as exc:
            return SendResult(False, retryable=True, detail=f"kannel not reachable: {exc.__class__.__name__}")
        answer = response.text.strip()[:200]
        if response.status_code in (200, 202) and answer[:2] in ("0:", "3:"):
            return SendResult(True, detail=answer)
        if response.status_code == 403 or response.status_code >= 500 or response.status_code < 400:
            log.warning("kannel.not_taken", status=response.status_code, answer=answer)
            return SendResult(False, retryable=True, detail=f"kannel {response.status_code}: {answer}")
        return SendResult(False, retryable=False, detail=f"kannel {response.status_code}: {answer}")

    async def aclose(self) -> None:
        await self._client.aclose()
