"""The FastAPI pieces every service shares: errors as JSON, the body limit, health, metrics, the OpenAPI pages.

Who may call (`common.auth`) and what of personal data they see (`common.personal`) live in their
own modules; their names are re-exported here for the routes that import them from here.
Use-case errors (`common.errors`) are translated here, once: NotFound 404, Refused and
Conflict 409, Invalid 422 naming the field, a dependency down 503 with Retry-After. Routes live
in module-level `APIRouter`s; they reach the service's wired use-case context through `context`
(`Annotated[Mediation, Depends(context)]`) and the caller's roles through `require`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import metrics, tracing
from common.audit import AuditTrail, MemoryAuditStore
from common.audit import router as audit_router
from common.auth import Principal, require
from common.contracts.base import EARLIEST, LATEST
from common.errors import Conflict, Invalid, NotFound, Refused
from common.failures import dependency_down
from common.personal import PERSONAL_DATA_ROLES, masked, personal
from common.settings import ServiceSettings
from common.timefmt import week_bounds

log = structlog.get_logger(__name__)

#: what a client is told to wait before retrying while a dependency is away
RETRY_AFTER_S = 5
#: the largest request body a service reads (a grid of a few hundred units fits many times over)
MAX_BODY_BYTES = 2 * 1024 * 1024


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="Each dependency: `ok`, or why it failed.")


class FieldError(BaseModel):
    field: str = Field(description="Where: a body field (`parties.0.phone`), or `query.<name>` / `path.<name>`.")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error a service answers, whatever its status."""

    error: str = Field(description="not_found, refused, conflict, invalid_request, unauthorized, forbidden, "
                                   "too_large, unavailable, internal…")
    detail: str | list[FieldError]


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: the error statuses of a `/v1` route, for its OpenAPI page (`APIRouter(responses=ERROR_RESPONSES)`)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The body is not JSON text (or not UTF-8)."),
    401: _documented("No valid bearer token."),
    403: _documented("The token lacks the role this route needs."),
    404: _documented("The thing named does not exist."),
    409: _documented("The rules refuse it in the present state (refused), or others kept changing it (conflict)."),
    413: _documented("The body is larger than the service reads."),
    422: _documented("A field is invalid: each error names it."),
    503: _documented("The store or the broker is away: nothing was done; retry after Retry-After seconds."),
}


def _known_week(value: Any) -> str:
    """An ISO week label that exists: 2026-W53 does, 2025-W53 and 2026-W00 do not."""
    if not isinstance(value, str) or len(value) != 8:
        raise ValueError("a week is written like 2026-W48")
    week_bounds(value, _UTC)  # ValueError naming what is wrong; whether a week exists does not depend on the zone
    return value


_UTC = ZoneInfo("UTC")
#: a query parameter naming an ISO week (Monday to Sunday in the station's zone): 2026-W48
IsoWeek = Annotated[str, PlainValidator(_known_week, json_schema_input_type=str),
                    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-W\d{2}$", "examples": ["2026-W48"]})]


def query_time(field: str, value: datetime | None, zone: tzinfo) -> datetime | None:
    """A time a request names (None if it names none), in UTC: without an offset it is the station's (`zone`).
    Invalid (a 422 naming `field`) outside the times an event may carry, 2000-01-01 to before 2100-01-01 — a
    year 1 or 9999 with an offset has no UTC time at all, and must not reach the store as one."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise Invalid(field, "a time from 2000-01-01 to before 2100-01-01")
    return utc


def context(request: Request) -> Any:
    """The service's wired use-case context (a dependency: `Annotated[Mediation, Depends(context)]`)."""
    return request.app.state.context


ReadinessCheck = Callable[[], Awaitable[None]]


#: the OpenAPI pages load only from the service itself (ReDoc would fetch its logo from its CDN): a browser on
#: the station's network never reaches out, whatever a page's script asks for
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:; connect-src 'self'")
_DOC_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_allowed",
                409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
                503: "unavailable"}


class BodyLimit:
    """Refuses a body larger than `limit` bytes with 413, whether it says its length or streams it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "too_large", f"the body is larger than {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """Raised while the body is read: FastAPI passes an HTTPException through as it is (any other
    error while reading becomes its 400), and the handler below answers it as the JSON error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")


def _error(status_code: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": jsonable_encoder(detail)}, status_code=status_code, headers=headers)


def unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """A dependency is away: 503 with Retry-After, one log line. The use case did not complete."""
    log.warning("http.dependency_down", method=request.method, path=request.url.path, error=repr(exc)[:300])
    return _error(
        503, "unavailable",
        "a dependency (store or broker) is not reachable; the command was not completed: retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _methods_of(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods


def create_app(
    title: str,
    settings: ServiceSettings,
    readiness: dict[str, ReadinessCheck],
    *,
    context: Any = None,
    routers: tuple[APIRouter, ...] = (),
    **kwargs: Any,
) -> FastAPI:
    # the OpenAPI pages' scripts, style and icon are served by the service itself: a station's network has
    # no internet (fastapi-offline ships Swagger UI's and ReDoc's files; ReDoc without Google fonts)
    documented = kwargs.get("openapi_url", "/openapi.json") is not None  # the console serves pages, not an API
    app = (FastAPIOffline(title=title, static_url="/docs-assets", **kwargs) if documented
           else FastAPI(title=title, **kwargs))
    tracing.instrument_app(app)
    app.state.settings = settings
    app.state.context = context
    app.state.audit = AuditTrail(MemoryAuditStore(), service=title)  # `serve` points it at the service's store
    app.add_middleware(BodyLimit)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = _ERROR_NAMES.get(exc.status_code, "error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not only those of the first route that matched it
            headers = {"Allow": ", ".join(sorted(_methods_of(request)))}
        return _error(exc.status_code, error, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid_request", "detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _error(409, "refused", exc.reason)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(Invalid)
    async def _invalid_field(_: Request, exc: Invalid) -> JSONResponse:
        return _error(422, "invalid_request", [{"field": exc.field, "msg": exc.reason, "type": "value_error"}])

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # what no handler above answered: never a traceback to the client
            if dependency_down(exc):
                response = unavailable(request, exc)
            else:
                log.exception("http.failed", method=request.method, path=request.url.path)
                response = _error(500, "internal", "the request failed; it is logged")
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            request.app.state.audit.note(request, principal, response.status_code)
        if request.url.path in _DOC_PAGES:
            response.headers["Content-Security-Policy"] = DOCS_CSP
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["operations"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "Not ready: the checks say what is missing."}})
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        for name, check in readiness.items():
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failed: {exc.__class__.__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse,
             responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Prometheus text."}})
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    app.include_router(audit_router, responses=ERROR_RESPONSES)  # every service's, documented like its own
    return app


__all__ = ["ERROR_RESPONSES", "PERSONAL_DATA_ROLES", "IsoWeek", "Principal", "context", "create_app", "masked",
           "personal", "require"]
