"""The console's pages: server-rendered (Jinja2), htmx fragments for cards and actions, server-sent events.

Every figure is read from a service's API with the signed-in user's own token, every action is sent
to it with that token; the token lives in an HttpOnly, SameSite=Strict cookie and is never logged. A
token is one the services accept: a static one typed on the sign-in page, or the access token of the
station's OpenID Connect sign-in (`console.signin`), read on every request as the services read it.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import httpx
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.auth import Identity, InvalidToken, Principal, ProviderUnreachable
from common.domain import ID_PATTERN
from common.http import create_app
from common.timefmt import iso_week
from console import access, views
from console.labels import LABELS, label
from console.live import Hub
from console.settings import ConsoleSettings
from console.signin import FLOW_S, Dropped, Kept, OidcSignIn, Seal, SignInRefused
from console.upstream import Answer, Upstream

log = structlog.get_logger(__name__)

HERE = Path(__file__).resolve().parent
SESSION = "fq_session"
ACTOR = "fq_actor"
#: sealed: who signed in through the provider (name, badge number, subject)
WHO = "fq_who"
#: hidden (encrypted): a session through the provider kept renewable — its refresh token, subject and times
REFRESH = "fq_refresh"
#: sealed: one sign-in at the provider under way (state, nonce, PKCE verifier), sent back to its callback only
FLOW = "fq_oidc_flow"
FLOW_PATH = "/login/oidc"
#: the most items one list on a page reads from a service
PAGE = 500
#: the duty desk reads the waiting queue this many pages deep (2,000 alerts), and the map's alerts of the
#: last hours this many (5,000): a bigger day says so on the page rather than reading without end
QUEUE_PAGES = 4
MAP_PAGES = 10

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(L=LABELS, label=label)


def _local(value: str | None, fmt: str = "%m-%d %H:%M") -> str:
    at = views.parse_time(value)
    return at.strftime(fmt) if at else "—"


templates.env.filters["local"] = _local
templates.env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))


class Console:
    """What the routes share: settings, the services' APIs, the live hub and the clock."""

    def __init__(self, settings: ConsoleSettings, upstream: Upstream, hub: Hub, now: Any = None) -> None:
        self.settings = settings
        self.upstream = upstream
        self.hub = hub
        self.now = now or (lambda: datetime.now(settings.zone))
        self.identity = Identity(settings)
        self.seal = Seal(settings.session_secret.get_secret_value())
        self.signin = None if not settings.oidc_issuer else OidcSignIn(
            settings, self.identity, self.seal, httpx.AsyncClient(timeout=settings.upstream_timeout_s))

    async def principal_of(self, token: str) -> Principal | None:
        """Who the services take this token for (their token table, the provider's JWTs), or None if they refuse it."""
        try:
            return await self.identity.principal(token)
        except (InvalidToken, ProviderUnreachable):
            return None

    async def roles_of(self, token: str) -> frozenset[str] | None:
        principal = await self.principal_of(token)
        return principal.roles if principal is not None else None


class User:
    def __init__(self, token: str, roles: frozenset[str], actor: str, name: str = "") -> None:
        self.token = token
        self.roles = roles
        self.actor = actor
        self.name = name

    def may(self, what: str) -> bool:
        return access.may(self.roles, what)

    @property
    def role_names(self) -> str:
        return "、".join(label(f"role.{r}") for r in sorted(self.roles))


router = APIRouter(include_in_schema=False)


def _console(request: Request) -> Console:
    return request.app.state.context


async def _user(request: Request) -> User | None:
    c = _console(request)
    token = request.cookies.get(SESSION, "")
    principal = await c.principal_of(token) if token else None
    if principal is None:
        return None
    who = c.seal.open(request.cookies.get(WHO, ""))
    if who is not None and who.get("sub") == principal.subject:  # signed in at the provider: its name and number
        return User(token, principal.roles, str(who.get("actor", "")), str(who.get("name", "")))
    return User(token, principal.roles, request.cookies.get(ACTOR, ""))


class NotSignedIn(Exception):
    """No valid session: a page goes to the sign-in, an htmx request is told to (HX-Redirect)."""


async def signed_in(request: Request) -> User:
    user = await _user(request)
    if user is None:
        raise NotSignedIn
    return user


SignedIn = Annotated[User, Depends(signed_in)]


def _to_login(request: Request) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": "/login"})
    if "text/html" not in request.headers.get("accept", ""):
        return Response(status_code=401)  # the event stream, the map's unit loads, the charts' data
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form (what htmx and a plain form send), one value per field, trimmed."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}


def _page(request: Request, name: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    c = _console(request)
    return templates.TemplateResponse(request, name, {"user": user, "settings": c.settings, **context},
                                      status_code=status_code)


# ------------------------------------------------------------------ sign-in


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/desk", status_code=303)


def _target(value: str) -> str:
    """Where to go after signing in: a path on the console, never another site."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/desk"


def _login_page(request: Request, target: str, error: str = "", status_code: int = 200) -> HTMLResponse:
    return _page(request, "login.html", None, next=target, error=error, status_code=status_code,
                 oidc=_console(request).signin is not None)


@router.get("/login")
async def login_page(request: Request, next: str = "/desk") -> HTMLResponse:
    return _login_page(request, _target(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    token, actor = form.get("token", ""), form.get("actor", "")[:64]
    target = _target(form.get("next", "/desk"))
    if actor and not re.fullmatch(ID_PATTERN, actor):  # the services take it as the actor of every change
        return _login_page(request, target, "警号只能由字母、数字和 . _ : - 组成", 422)
    roles = await _console(request).roles_of(token) if token else None
    if roles is None:
        return _login_page(request, target, "令牌无效", 401)
    response = RedirectResponse(target, status_code=303)
    settings = _console(request).settings
    age = int(settings.session_hours * 3600)
    for name, value in ((SESSION, token), (ACTOR, actor)):
        response.set_cookie(name, value, max_age=age, httponly=True, samesite="strict", secure=settings.cookie_secure)
    response.delete_cookie(WHO)
    response.delete_cookie(REFRESH)
    return response


def _refused(request: Request, refused: SignInRefused, target: str = "/desk") -> HTMLResponse:
    log.info("signin.refused", reason=refused.reason)
    response = _login_page(request, target, refused.message, refused.status)
    response.delete_cookie(FLOW, path=FLOW_PATH)
    return response


@router.get("/login/oidc")
async def oidc_begin(request: Request, next: str = "/desk") -> Response:
    c = _console(request)
    if c.signin is None:
        return _login_page(request, _target(next), "本平台未配置统一身份认证，请使用令牌登录。", 404)
    try:
        flow = await c.signin.begin(str(request.base_url), _target(next))
    except SignInRefused as refused:
        return _refused(request, refused, _target(next))
    response = RedirectResponse(flow.authorize_url, status_code=303)
    # Lax, not Strict: the provider's redirect back to the callback is a navigation from another site
    response.set_cookie(FLOW, flow.cookie, max_age=FLOW_S, path=FLOW_PATH, httponly=True, samesite="lax",
                        secure=c.settings.cookie_secure)
    return response


@router.get("/login/oidc/callback")
async def oidc_callback(request: Request) -> Response:
    c = _console(request)
    if c.signin is None:
        return _login_page(request, "/desk", "本平台未配置统一身份认证，请使用令牌登录。", 404)
    params = {k: v for k, v in request.query_params.items() if k in ("code", "state", "error")}
    try:
        signed, target = await c.signin.finish(str(request.base_url), params, request.cookies.get(FLOW, ""))
    except SignInRefused as refused:
        return _refused(request, refused)
    now = time.time()
    shift = c.settings.session_hours * 3600
    age = int(min(shift, signed.expires_at - now))
    if age <= 0:
        return _refused(request, SignInRefused("统一身份认证的令牌已过期，请重新登录。", "expired"))
    kept = c.signin.keep(signed, since=now)  # renewable: the session lasts the shift, not the access token
    # a page of ours moves on, so the next request is same-site and carries the SameSite=Strict session
    url = html.escape(target, quote=True)
    response = HTMLResponse(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={url}">'
                            f'<title>已登录</title><p>已登录，正在进入 <a href="{url}">{url}</a> …</p>',
                            headers={"Cache-Control": "no-store"})
    who = c.seal.seal({"sub": signed.principal.subject, "name": signed.name, "actor": signed.actor, "idp": True},
                      shift if kept else age)
    if kept is None:
        for name, value in ((SESSION, signed.access_token), (WHO, who)):
            _set_session_cookie(response, c.settings, name, value, age)
        response.delete_cookie(REFRESH)
    else:
        _set_session_cookie(response, c.settings, WHO, who, int(shift))
        _keep_cookies(response, c.settings, kept)
    response.delete_cookie(ACTOR)
    response.delete_cookie(FLOW, path=FLOW_PATH)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    c = _console(request)
    who = c.seal.open(request.cookies.get(WHO, ""))
    ended = await c.signin.end_session_url(str(request.base_url)) if c.signin and who and who.get("idp") else None
    response = RedirectResponse(ended or "/login", status_code=303)
    for name in (SESSION, ACTOR, WHO, REFRESH):
        response.delete_cookie(name)
    return response


# ------------------------------------------------------------------ live


@router.get("/events")
async def events(request: Request, user: SignedIn) -> Response:
    stream = _console(request).hub.stream(access.families(user.roles))
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------------ 值班台


async def _alert_pages(c: Console, token: str, pages: int, **params: Any) -> tuple[list[dict[str, Any]], bool, Answer]:
    """Up to `pages` pages of dispatch's `/v1/alerts`, each asked with the place its `next` link names; whether
    more were left; the last answer (not ok if a page failed)."""
    found: list[dict[str, Any]] = []
    answer = Answer(200, [])
    for _ in range(pages):
        answer = await c.upstream.get("dispatch", "/v1/alerts", token, limit=PAGE, **params)
        if not answer.ok or not isinstance(answer.body, list):
            return found, False, answer
        found.extend(answer.body)
        following = _next_place(answer)
        if following is None:
            return found, False, answer
        params = {**params, **following}
    return found, True, answer


def _next_place(answer: Answer) -> dict[str, str] | None:
    """The place (`after` or `before`) the answer's `Link: <…>; rel="next"` asks the next page from, or None."""
    link = answer.headers.get("link", "") if answer.headers is not None else ""
    match = re.match(r'\s*<([^>]*)>\s*;\s*rel="next"', link)
    if match is None:
        return None
    query = parse_qs(match.group(1).partition("?")[2])
    return {k: v[0] for k, v in query.items() if k in ("after", "before") and v} or None


async def _desk_data(c: Console, token: str) -> dict[str, Any]:
    now = c.now()
    since = (now - timedelta(hours=c.settings.map_hours)).isoformat()
    # the queue: alerts not yet placed, those waiting for a unit's word, the duty desk's own; the map: every
    # alert of its hours, in any state
    grid, units, received, (assigned, assigned_more, assigned_answer), (waiting, waiting_more, waiting_answer), (
        recent, map_more, map_answer) = await asyncio.gather(
            c.upstream.get("dispatch", "/v1/grid", token), c.upstream.get("dispatch", "/v1/units", token),
            c.upstream.get("dispatch", "/v1/alerts", token, state="received", limit=PAGE),
            _alert_pages(c, token, QUEUE_PAGES, state="assigned"),
            _alert_pages(c, token, QUEUE_PAGES, state="unassigned"),
            _alert_pages(c, token, MAP_PAGES, since=since),
        )
    alerts = [*(received.body if received.ok else []), *assigned, *waiting, *recent]
    queue_more = assigned_more or waiting_more
    answers = (grid, units, received, assigned_answer, waiting_answer, map_answer)
    return {
        "grid": grid.body if grid.ok else {"type": "FeatureCollection", "features": []},
        "units": units.body if units.ok else [],
        "queue": views.queue_order(alerts),
        "queue_more": queue_more,
        "alerts": [_marker(a) for a in views.recent(alerts, now, c.settings.map_hours)],
        "map_more": map_more,
        "error": next((a.error for a in answers if not a.ok), ""),
        "now": now,
    }


def _marker(a: dict[str, Any]) -> dict[str, Any]:
    """What the map needs of an alert (from a list: masked)."""
    loc = a.get("location") or {}
    return {"alert_id": a["alert_id"], "state": a.get("state"), "unit_id": a.get("unit_id"),
            "lon": loc.get("lon"), "lat": loc.get("lat"), "address": loc.get("address"),
            "priority": a.get("priority"), "category": a.get("category"), "summary": a.get("summary", ""),
            "received_at": a.get("received_at")}


@router.get("/desk")
async def desk(request: Request, user: SignedIn) -> Response:
    c = _console(request)
    data = await _desk_data(c, user.token) if user.may("alerts.read") else {}
    return _page(request, "desk.html", user, active="desk", **data)


@router.get("/desk/units.json")
async def desk_units(request: Request, user: SignedIn) -> Response:
    answer = await _console(request).upstream.get("dispatch", "/v1/units", user.token)
    return JSONResponse(answer.body if answer.ok else [], status_code=answer.status if not answer.ok else 200)


async def _alert_card(request: Request, user: User, alert_id: str, message: str = "", error: str = "") -> Response:
    c = _console(request)
    alert, units = await asyncio.gather(c.upstream.get("dispatch", f"/v1/alerts/{quote(alert_id, safe='')}",
                                                       user.token),
                                        c.upstream.get("dispatch", "/v1/units", user.token))
    return _page(request, "alert_card.html", user, alert=alert.body if alert.ok else None,
                 load_error=alert.error, units=units.body if units.ok else [], message=message, error=error,
                 may_act=user.may("alerts.act"), may_assign=user.may("alerts.assign"))


@router.get("/desk/alerts/{alert_id}")
async def alert_card(request: Request, user: SignedIn, alert_id: str) -> Response:
    return await _alert_card(request, user, alert_id)


def _result(answer: Answer, done: str) -> tuple[str, str]:
    if answer.ok:
        return done, ""
    if answer.missing_route:
        return "", "该操作的接口在本平台尚未提供"
    return "", answer.error


@router.post("/desk/alerts/{alert_id}/{action}")
async def alert_action(request: Request, user: SignedIn, alert_id: str, action: str) -> Response:
    needs = {"assign": "alerts.assign", "ack": "alerts.act", "close": "alerts.act"}.get(action)
    if needs is None or not user.may(needs):
        return Response("不允许的操作", status_code=403)
    form = await _form(request)
    path = f"/v1/alerts/{quote(alert_id, safe='')}/{action}"
    if action == "assign":
        body: dict[str, Any] = {"unit_id": form.get("unit_id", ""), "reason": form.get("reason", ""),
                                "by": user.actor or "duty_desk"}
        if form.get("force"):
            body["force"] = True
    elif action == "ack":
        body = {"unit_id": form.get("unit_id", "")}
    else:
        signatures = {k: form[f"sig_{k}"] for k in ("party", "officer", "witness") if form.get(f"sig_{k}")}
        body = {"unit_id": form.get("unit_id", ""), "officer_id": form.get("officer_id") or user.actor,
                "disposition": form.get("disposition", ""), "note": form.get("note", ""), "signatures": signatures}
    answer = await _console(request).upstream.post("dispatch", path, user.token, body)
    message, error = _result(answer, {"assign": "已指派", "ack": "已确认出警", "close": "警情已结束"}[action])
    return await _alert_card(request, user, alert_id, message, error)


# ------------------------------------------------------------------ 矛盾纠纷


@router.get("/disputes")
async def disputes_page(request: Request, user: SignedIn) -> Response:
    return _page(request, "disputes.html", user, active="disputes", **await _disputes_data(request, user))


async def _disputes_data(request: Request, user: User) -> dict[str, Any]:
    c = _console(request)
    state = request.query_params.get("state", "")
    answer = await c.upstream.get("mediation", "/v1/disputes", user.token, limit=PAGE)
    found = answer.body if answer.ok else []
    states = (state,) if state else views.OPEN_DISPUTE_STATES
    return {"columns": views.board(found, states), "levels": views.LEVELS, "state": state,
            "deadlines": views.dispute_deadlines(found, c.now(), c.settings.zone), "error": answer.error,
            "all_states": ("reported", "mediating", "escalated", "reopened", "resolved", "closed_unresolved")}


@router.get("/disputes/board")
async def disputes_board(request: Request, user: SignedIn) -> Response:
    return _page(request, "disputes_board.html", user, **await _disputes_data(request, user))


async def _dispute_card(request: Request, user: User, dispute_id: str, message: str = "", error: str = "") -> Response:
    answer = await _console(request).upstream.get("mediation", f"/v1/disputes/{quote(dispute_id, safe='')}",
                                                  user.token)
    d = answer.body if answer.ok else None
    return _page(request, "dispute_card.html", user, d=d, load_error=answer.error, message=message, error=error,
                 may_act=user.may("disputes.act"), next_level=views.next_level(d["level"]) if d else None)


@router.get("/disputes/{dispute_id}")
async def dispute_card(request: Request, user: SignedIn, dispute_id: str) -> Response:
    return await _dispute_card(request, user, dispute_id)


@router.post("/disputes/{dispute_id}/actions")
async def dispute_action(request: Request, user: SignedIn, dispute_id: str) -> Response:
    if not user.may("disputes.act"):
        return Response("不允许的操作", status_code=403)
    form = await _form(request)
    action = form.get("action", "")
    body: dict[str, Any] = {"action": action, "actor": user.actor or "console"}
    if action in ("contact", "followup"):
        body["note"] = form.get("note", "")
    elif action == "escalate":
        body |= {"reason": form.get("reason", "")}
        if form.get("to_level"):
            body["to_level"] = form["to_level"]
    elif action == "close":
        body |= {"reason": form.get("reason", ""), "referred_to": form.get("referred_to", "other")}
    elif action == "reopen":
        body["reason"] = form.get("reason", "")
    elif action == "resolve":
        signatures = {k[4:]: v for k, v in form.items() if k.startswith("sig_") and v}
        body["agreement"] = {"terms": form.get("terms", ""), "signatures": signatures}
    answer = await _console(request).upstream.post("mediation", f"/v1/disputes/{quote(dispute_id, safe='')}/actions",
                                                   user.token, body)
    message, error = _result(answer, f"已{label('daction.' + action)}")
    response = await _dispute_card(request, user, dispute_id, message, error)
    if answer.ok:
        response.headers["HX-Trigger"] = "disputes-changed"
    return response


# ------------------------------------------------------------------ 回访


async def _callbacks_data(request: Request, user: User) -> dict[str, Any]:
    c = _console(request)
    start, end = views.callbacks_due_on(c.now().date(), c.settings.zone)
    officer = request.query_params.get("officer_id", "")
    if officer:
        today_call = c.upstream.get("notify", "/v1/callbacks/today", user.token, officer_id=officer)
    else:
        today_call = c.upstream.get("notify", "/v1/callbacks", user.token, due_from=start.isoformat(),
                                    due_to=end.isoformat(), limit=PAGE)
    today, manual, overdue = await asyncio.gather(
        today_call, c.upstream.get("notify", "/v1/callbacks", user.token, state="manual", limit=PAGE),
        c.upstream.get("notify", "/v1/callbacks", user.token, state="overdue", limit=PAGE))
    open_today = [cb for cb in (today.body if today.ok else []) if cb.get("state") not in ("done", "superseded")]
    return {"today": views.per_officer(open_today), "manual": manual.body if manual.ok else [],
            "overdue": overdue.body if overdue.ok else [], "officer_id": officer,
            "error": next((a.error for a in (today, manual, overdue) if not a.ok), ""),
            "may_act": user.may("callbacks.act")}


@router.get("/callbacks")
async def callbacks_page(request: Request, user: SignedIn) -> Response:
    return _page(request, "callbacks.html", user, active="callbacks", **await _callbacks_data(request, user))


@router.get("/callbacks/panel")
async def callbacks_panel(request: Request, user: SignedIn) -> Response:
    return _page(request, "callbacks_panel.html", user, **await _callbacks_data(request, user))


@router.post("/callbacks/{callback_id}/complete")
async def callback_complete(request: Request, user: SignedIn, callback_id: str) -> Response:
    if not user.may("callbacks.act"):
        return Response("不允许的操作", status_code=403)
    form = await _form(request)
    body = {"channel": form.get("channel", "phone"), "reached": form.get("reached", "yes") == "yes",
            "opinion": form.get("opinion", ""), "by": user.actor or "console"}
    answer = await _console(request).upstream.post("notify", f"/v1/callbacks/{quote(callback_id, safe='')}/complete",
                                                   user.token, body)
    data = await _callbacks_data(request, user)
    message, error = _result(answer, "回访已记录")
    return _page(request, "callbacks_panel.html", user, message=message, action_error=error, **data)


# ------------------------------------------------------------------ 评警


def _week(request: Request, c: Console) -> str:
    week = request.query_params.get("week", "")
    return week if len(week) == 8 and week[4:6] == "-W" else iso_week(c.now(), c.settings.zone)


async def _satisfaction_data(request: Request, user: User) -> dict[str, Any]:
    c = _console(request)
    week = _week(request, c)
    before = views.previous_week(week)
    get = c.upstream.get
    calls = [get("rating", "/v1/reports/weekly", user.token, week=w, by=by)
             for by in ("officer", "unit") for w in (week, before)]
    calls.append(get("rating", "/v1/spot-checks", user.token, week=before))
    if user.may("followups.read"):
        calls.append(get("rating", "/v1/followups", user.token, state="open"))
    answers = await asyncio.gather(*calls)
    officer, officer_before, unit, unit_before, checks = answers[:5]
    followups = answers[5] if len(answers) > 5 else None
    return {
        "week": week, "before": before,
        "charts": {"officer": views.chart_data(officer.body if officer.ok else None,
                                               officer_before.body if officer_before.ok else None),
                   "unit": views.chart_data(unit.body if unit.ok else None,
                                            unit_before.body if unit_before.ok else None)},
        "officer_rows": views.totals(officer.body if officer.ok else None),
        "checks": checks.body if checks.ok else [],
        "followups": followups.body if followups is not None and followups.ok else None,
        "error": next((a.error for a in answers if not a.ok), ""),
    }


@router.get("/satisfaction")
async def satisfaction_page(request: Request, user: SignedIn) -> Response:
    q = request.query_params
    return _page(request, "satisfaction.html", user, active="satisfaction", notice=q.get("notice", "")[:100],
                 failure=q.get("failure", "")[:300], may_check=user.may("spotchecks.act"),
                 may_follow_up=user.may("followups.act"), **await _satisfaction_data(request, user))


async def _satisfaction_action(request: Request, user: SignedIn, what: str, path: str, body: dict[str, Any],
                               done: str) -> Response:
    """Send one spot check's result or one follow-up's close, then show the page again with the outcome."""
    form = await _form(request)
    week = form.get("week", "")
    if not user.may(what):
        return Response("不允许的操作", status_code=403)
    answer = await _console(request).upstream.post(
        "rating", path, user.token, {**{k: form.get(k, "") for k in body}, "actor": user.actor or "console"})
    notice, failure = _result(answer, done)
    query = urlencode({"week": week, "notice": notice, "failure": failure})
    return RedirectResponse(f"/satisfaction?{query}", status_code=303)


@router.post("/satisfaction/spot-checks/{check_id}")
async def spot_check(request: Request, user: SignedIn, check_id: str) -> Response:
    return await _satisfaction_action(request, user, "spotchecks.act", f"/v1/spot-checks/{quote(check_id, safe='')}",
                                      {"outcome": "", "note": ""}, "抽查结果已登记")


@router.post("/satisfaction/followups/{followup_id}/complete")
async def followup_done(request: Request, user: SignedIn, followup_id: str) -> Response:
    return await _satisfaction_action(
        request, user, "followups.act", f"/v1/followups/{quote(followup_id, safe='')}/complete",
        {"findings": "", "actions": ""}, "回访调查已办结")


@router.get("/satisfaction/data.json")
async def satisfaction_json(request: Request, user: SignedIn) -> Response:
    return JSONResponse((await _satisfaction_data(request, user))["charts"])


@router.get("/satisfaction/report.csv")
async def satisfaction_csv(request: Request, user: SignedIn) -> Response:
    c = _console(request)
    week, by = _week(request, c), request.query_params.get("by", "officer")
    answer = await c.upstream.call("rating", "GET", "/v1/reports/weekly", user.token,
                                   params={"week": week, "by": by, "format": "csv"}, accept="text/csv")
    if not answer.ok:
        return Response(answer.error, status_code=answer.status, media_type="text/plain; charset=utf-8")
    return Response(answer.body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="rating-{week}-{by}.csv"'})


# ------------------------------------------------------------------ 态势

#: the station's figures: each panel and the API that gives it (a panel shows once its API answers)
FIGURES = (
    ("trends", "同比 / 环比 · 两降一升", "dispatch", "/v1/trends", {}),
    ("hotspots", "警情热点（地点与时段）", "dispatch", "/v1/hotspots", {}),
    ("scorecards", "一人一单 · 月度考核", "community", "/v1/scorecards", {}),
    ("alert_stats", "本周各单元处警", "dispatch", "/v1/stats", {}),
    ("dispute_stats", "近30日矛盾纠纷化解", "mediation", "/v1/stats", {}),
)


@router.get("/figures")
async def figures_page(request: Request, user: SignedIn) -> Response:
    c = _console(request)
    answers = await asyncio.gather(*(c.upstream.get(svc, path, user.token, **params)
                                     for _, _, svc, path, params in FIGURES))
    panels = []
    for (key, title, svc, path, _), answer in zip(FIGURES, answers, strict=True):
        panels.append({"key": key, "title": title, "source": f"{svc} {path}", "ok": answer.ok,
                       "missing": answer.missing_route, "error": answer.error,
                       "data": answer.body if answer.ok else None})
    return _page(request, "figures.html", user, active="figures", panels=panels)


def _set_session_cookie(response: Response, settings: ConsoleSettings, name: str, value: str, age: int) -> None:
    response.set_cookie(name, value, max_age=age, httponly=True, samesite="strict", secure=settings.cookie_secure)


def _keep_cookies(response: Response, settings: ConsoleSettings, kept: Kept) -> None:
    """A renewable session's access token and its hidden refresh cookie, both until the session ends."""
    age = max(1, int(kept.until - time.time()))
    _set_session_cookie(response, settings, SESSION, kept.access_token, age)
    _set_session_cookie(response, settings, REFRESH, kept.refresh_cookie, age)


class RenewSession:
    """Renews a session through the provider before the request is served, when its access token is about
    to expire: the request goes on with the new token (its Cookie header rewritten) and the browser is sent
    the new cookies with the answer. A provider refusing the renewal ends the session (the cookies are
    cleared, the page goes to the sign-in); a provider away leaves the request as it came (tried again on
    the next one, the old token serving while it lasts)."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        signin = self.console.signin
        if scope["type"] != "http" or signin is None or scope["path"].startswith(("/login", "/logout", "/static")):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        cookies = cookie_parser(b"; ".join(v for k, v in scope["headers"] if k == b"cookie").decode("latin-1"))
        kept = signin.due(cookies.get(REFRESH, ""))
        if kept is None:
            await self.app(scope, receive, send)
            return
        told = Response()
        try:
            renewed = await signin.renew(kept)
        except SignInRefused:  # away: the old token serves while it lasts
            await self.app(scope, receive, send)
            return
        except Dropped:
            for name in (SESSION, REFRESH, WHO):
                cookies.pop(name, None)
                told.delete_cookie(name)
        else:
            cookies[SESSION], cookies[REFRESH] = renewed.access_token, renewed.refresh_cookie
            _keep_cookies(told, self.console.settings, renewed)
        cookie_header = "; ".join(f"{name}={value}" for name, value in cookies.items()).encode("latin-1")
        scope = {**scope, "headers": [*headers, (b"cookie", cookie_header)]}
        extra = [(k, v) for k, v in told.raw_headers if k == b"set-cookie"]

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def build_app(c: Console, readiness: dict[str, Any]) -> FastAPI:
    app = create_app("Fengqiao console — 指挥台", c.settings, readiness, context=c, routers=(router,),
                     docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_exception_handler(NotSignedIn, lambda request, _: _to_login(request))
    app.add_middleware(RenewSession, console=c)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: " + _tile_origin(c.settings.tile_url)
            + "; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _tile_origin(url: str) -> str:
    if not url or "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"
