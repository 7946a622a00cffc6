"""The gateway's HTTP side: replies and delivery reports in (Kannel's forms or JSON), the embedded outbox out.

Kannel calls its get-url and dlr-url with GET and passes the url's `user:password` as Basic auth,
so `/v1/sms/inbound` and `/v1/sms/dlr` answer GET as well as POST, and take the token as a Bearer
or as the password of Basic auth (role integration). Whatever the gateway sends them — unknown
ids, no sender, bytes in any encoding, fields in the query, a form, JSON or Kannel's post-url
body — is kept and answered 202: a gateway must never be told to retry what can only fail again.

The routes reach the gateway's use cases through notify's one route context (`n.sms`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from common.auth import authenticate
from common.contracts.base import ID_PATTERN, Phone
from common.errors import Invalid
from common.http import ERROR_RESPONSES, Principal, context, masked, require
from common.timefmt import local
from notify.handlers import Notify
from notify.sms import handlers
from notify.sms.adapters.embedded import EmbeddedGateway
from notify.sms.adapters.kannel import kannel_receipt
from notify.sms.adapters.mo_text import decode_text
from notify.sms.adapters.port import DeliveryReceipt
from notify.sms.domain.messages import station_phone
from notify.sms.handlers import Sms

#: the fields read from one request (Kannel sends a handful)
MAX_FIELDS = 50
#: roles that see the numbers in the outbox whole; every other reader sees them masked
SEES_PHONES = frozenset({"admin", "duty_desk", "officer"})
GATEWAY_ROLES = frozenset({"admin", "integration"})
_ID = re.compile(ID_PATTERN)

router = APIRouter(tags=["sms"], responses=ERROR_RESPONSES)


def sms_context(n: Annotated[Notify, Depends(context)]) -> Sms:
    """The gateway's use cases in notify's wired context (a dependency)."""
    return n.sms


async def _caller(request: Request) -> Principal:
    """The caller of a token given as Bearer, or as the password of Basic auth (Kannel's way): a static
    token or the provider's JWT, as every route takes them; 401 without a known one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = ""
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        try:
            token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            token = ""
    return await authenticate(request, token, challenge='Bearer, Basic realm="fengqiao"',
                              detail="a valid token is required (Bearer, or Basic auth)")


async def gateway_caller(request: Request) -> Principal:
    """The caller is the SMS gateway (or an admin): a token as Bearer, or as the password of Basic auth."""
    caller = await _caller(request)
    if not caller.roles & GATEWAY_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="needs the role integration")
    return caller  # not noted in the audit trail: a reply or a receipt is kept in the SMS records


async def inbound_caller(request: Request) -> Principal:
    """GET /v1/sms/inbound is Kannel's get-url (the gateway), or with `matched` the list of replies (readers)."""
    if "matched" not in request.query_params:
        return await gateway_caller(request)
    caller = await _caller(request)
    if not caller.roles & (READER_ROLES | {"admin"}):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="needs one of the roles " + ", ".join(sorted(READER_ROLES)))
    return caller


READER_ROLES = frozenset({"viewer", "duty_desk", "officer", "leadership", "mediator", "integration"})
gateway_caller.roles = GATEWAY_ROLES  # type: ignore[attr-defined]  # for docs/roles.md, as require() does
inbound_caller.roles = GATEWAY_ROLES | READER_ROLES  # type: ignore[attr-defined]  # the gateway, or readers
SmsDep = Annotated[Sms, Depends(sms_context)]
Gateway = Annotated[Principal, Depends(gateway_caller)]
InboundCaller = Annotated[Principal, Depends(inbound_caller)]
Reader = Annotated[Principal, Depends(require(*sorted(READER_ROLES)))]


# --- reading what a gateway sends ----------------------------------------------------------------


def _pairs(raw: bytes) -> dict[str, bytes]:
    """`a=1&b=%E6%BB%A1` as bytes, exactly (no charset guessed yet); the first of a repeated name wins."""
    found: dict[str, bytes] = {}
    for part in raw.split(b"&")[:MAX_FIELDS]:
        name, _, value = part.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace").strip().lower()
        if key:
            found.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return found


def _json_fields(body: bytes) -> dict[str, bytes]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k).lower(): str(v).encode("utf-8", "replace") for k, v in list(data.items())[:MAX_FIELDS]
            if isinstance(v, str | int | float) and not isinstance(v, bool)}


async def _fields(request: Request) -> dict[str, bytes]:
    """The fields of the query, then of the body (form, JSON, or Kannel's post-url: text body, X-Kannel headers)."""
    fields = _pairs(request.scope.get("query_string") or b"")
    if request.method != "POST":
        return fields
    body = await request.body()
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media == "application/json":
        fields.update(_json_fields(body))
    elif media == "application/x-www-form-urlencoded":
        fields.update(_pairs(body))
    elif "x-kannel-from" in request.headers:
        charset = params.partition("charset=")[2].strip().strip('"')
        kannel = {"from": request.headers.get("x-kannel-from", ""), "to": request.headers.get("x-kannel-to", ""),
                  "coding": request.headers.get("x-kannel-coding", ""), "charset": charset}
        fields.update({k: v.encode("latin-1", "replace") for k, v in kannel.items()}, text=body)
    return fields


def _plain(value: bytes | None, limit: int = 64) -> str:
    text = (value or b"").decode("utf-8", "replace")
    return "".join(c for c in text if c >= " ").strip()[:limit]


def _shown(fields: dict[str, bytes]) -> dict[str, str]:
    return {k: _plain(v, 2000) for k, v in fields.items()}


# --- routes --------------------------------------------------------------------------------------


class InboundAck(BaseModel):
    inbound_id: str | None = Field(description="The reply's id (null when it had no sender and was only kept).")
    published: bool = Field(description="Told as sms.inbound (its sender is a phone).")
    known: bool = Field(description="It answers an open question (told to that question's owner); false: a stray.")
    opt_out: bool = Field(description="The reply put the phone on the opt-out list.")


class ReceiptAck(BaseModel):
    applied: bool = Field(description="The receipt moved a message (false: a repeat, or nothing known).")
    note: str = ""


class InboundView(BaseModel):
    inbound_id: str
    phone: str | None
    text: str
    received_at: datetime
    gateway: str
    opt_out: bool
    owner: str | None = Field(default=None, description="The service whose question it answers (null: a stray).")
    kind: str | None = None
    question_id: str | None = None
    matched_by: str | None = Field(default=None, description="code, or latest (the newest open question).")


_INBOUND = {"status_code": 202, "response_model": InboundAck,
            "summary": "A citizen's SMS (Kannel's get-url / post-url, a form, or JSON)"}
_DLR = {"status_code": 202, "response_model": ReceiptAck,
        "summary": "A delivery report (Kannel's dlr-url: sms_id and status %d; or status delivered|failed)"}


# Kannel calls with GET (get-url, dlr-url) or POST (post-url): one route each, named apart in the OpenAPI
@router.get("/v1/sms/inbound", operation_id="sms_inbound_get",
            responses={200: {"model": list[InboundView], "description": "With `matched`: the replies, newest first"}},
            **_INBOUND)
async def inbound_or_listing(
    request: Request, s: SmsDep, principal: InboundCaller,
    matched: Annotated[Literal["true", "false"] | None, Query(
        description="Lists the replies instead (readers): false the strays, true those matched to a question; "
                    "numbers masked.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    if matched is not None:
        found = await handlers.list_inbound(s, matched=matched == "true", limit=limit)
        items = [{"inbound_id": i.inbound_id, "phone": i.phone, "text": i.text,
                  "received_at": local(i.received_at, s.settings.zone), "gateway": i.gateway, "opt_out": i.opt_out,
                  "owner": i.owner, "kind": i.kind, "question_id": i.question_id, "matched_by": i.matched_by}
                 for i in found]
        return JSONResponse(jsonable_encoder(masked(items)), status_code=200)
    return await inbound(request, s, principal)


@router.post("/v1/sms/inbound", operation_id="sms_inbound_post", **_INBOUND)
async def inbound(request: Request, s: SmsDep, _: Gateway) -> InboundAck:
    fields = await _fields(request)
    sender = _plain(fields.get("from") or fields.get("phone") or fields.get("sender"))
    if not sender:
        await handlers.keep_stray(s, "inbound_no_sender", _shown(fields))
        return InboundAck(inbound_id=None, published=False, known=False, opt_out=False)
    text = decode_text(fields.get("text", b""), _plain(fields.get("coding")), _plain(fields.get("charset")))
    reply = await handlers.receive_inbound(
        s, sender=sender, to=_plain(fields.get("to"), 32) or None, text=text, gateway=s.gateway_name,
        gateway_id=_plain(fields.get("id"), 200) or None,
    )
    return InboundAck(inbound_id=reply.inbound_id, published=reply.phone is not None, known=reply.matched,
                      opt_out=reply.opt_out)


@router.get("/v1/sms/dlr", operation_id="sms_dlr_get", **_DLR)
@router.post("/v1/sms/dlr", operation_id="sms_dlr_post", **_DLR)
async def delivery_report(request: Request, s: SmsDep, _: Gateway) -> ReceiptAck:
    fields = await _fields(request)
    sms_id = _plain(fields.get("sms_id"))
    code = _plain(fields.get("status") or fields.get("type"))
    at = s.clock.now()
    receipt: Any = None
    if code.isdigit() and len(code) < 6:
        receipt = kannel_receipt(sms_id, int(code), at, _plain(fields.get("answer"), 200))
    elif code in ("delivered", "failed"):
        detail = _plain(fields.get("detail"), 200)
        reason = "refused" if detail == "refused" else "undeliverable"
        receipt = DeliveryReceipt(sms_id, code, at, detail if code == "delivered" else reason)  # type: ignore[arg-type]
    if receipt is None or not _valid_id(sms_id):
        await handlers.keep_stray(s, "receipt", _shown(fields))
        return ReceiptAck(applied=False, note="kept: it names no known message or status")
    if receipt == "step":  # the operator has it: sent, even if the sender's own save of that was lost
        applied = await handlers.apply_handed_over(s, sms_id, raw=_shown(fields))
        return ReceiptAck(applied=applied, note="an intermediate report (buffered, or taken by the SMSC)")
    applied = await handlers.apply_receipt(s, receipt, raw=_shown(fields))
    return ReceiptAck(applied=applied, note="" if applied else "no change: a repeat, or nothing known")


def _valid_id(sms_id: str) -> bool:
    return bool(_ID.match(sms_id))


class SentSms(BaseModel):
    sms_id: str
    phone: str
    text: str
    sent_at: datetime
    receipt: str = Field(description="What its receipt says: delivered or failed.")


@router.get("/v1/sms/outbox", response_model=list[SentSms],
            summary="What the embedded gateway sent, newest first (numbers masked but for admin, duty desk, officer)")
async def outbox(
    s: SmsDep, principal: Reader,
    phone: Annotated[str | None, Query(max_length=32, description="Only messages to this phone.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    if not isinstance(s.gateway, EmbeddedGateway):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="the outbox is kept by the embedded gateway only")
    wanted = (station_phone(phone) or phone) if phone else None
    records = await s.gateway.records.listing(wanted, limit)
    items = [{"sms_id": r.sms_id, "phone": r.phone, "text": r.text, "sent_at": local(r.sent_at, s.settings.zone),
              "receipt": r.outcome} for r in records]
    return items if principal.roles & SEES_PHONES else masked(items)


class OptOutWithdrawal(BaseModel):
    phone: Phone = Field(description="The phone that asked for the station's SMS again (in the body: the audit "
                                     "trail records a command's route and path, never personal data).")
    reason: str = Field(min_length=2, max_length=200,
                        description="How the citizen asked, e.g. 本人到所书面申请 2026-12-03 (kept in the log line).")


class OptOutWithdrawn(BaseModel):
    removed: bool = Field(description="The phone was on the opt-out list and is no longer.")


@router.post("/v1/sms/opt-outs/withdrawals", response_model=OptOutWithdrawn,
             summary="Take a phone off the opt-out list when the citizen asks for the station's SMS again")
async def withdraw_opt_out(body: OptOutWithdrawal, s: SmsDep,
                           principal: Annotated[Principal, Depends(require("admin"))]) -> OptOutWithdrawn:
    phone = station_phone(body.phone)
    if phone is None:
        raise Invalid("phone", "not a phone number the station sends to")
    removed = await handlers.withdraw_opt_out(s, phone=phone, actor=principal.who, reason=body.reason)
    return OptOutWithdrawn(removed=removed)
