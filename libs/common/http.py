"""The FastAPI pieces every service shares: auth with roles, errors as JSON, health, metrics.

Use-case errors (`common.errors`) are translated here, once: NotFound 404, Refused and Conflict
409, Invalid 422 naming the field, a dependency down 503 with Retry-After. Routes live in
module-level `APIRouter`s; they reach the service's wired use-case context through `context`
(`Annotated[Mediation, Depends(context)]`) and the caller's roles through `require`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common import metrics
from common.errors import Conflict, Invalid, NotFound, Refused, dependency_down
from common.settings import ServiceSettings

log = structlog.get_logger(__name__)

#: what a client is told to wait before retrying while a dependency is away
RETRY_AFTER_S = 5


def context(request: Request) -> Any:
    """The service's wired use-case context (a dependency: `Annotated[Mediation, Depends(context)]`)."""
    return request.app.state.context


@dataclass(frozen=True)
class Principal:
    token_hint: str
    roles: frozenset[str]


_bearer = HTTPBearer(auto_error=False)


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's bearer token must carry one of `roles` (admin passes everywhere)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        settings: ServiceSettings = request.app.state.settings
        if credentials is None or credentials.credentials not in settings.tokens:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        granted = frozenset(settings.tokens[credentials.credentials])
        if "admin" not in granted and roles and not granted.intersection(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"needs one of the roles {sorted(roles)}")
        return Principal(token_hint=credentials.credentials[:4] + "…", roles=granted)

    return dependency


ReadinessCheck = Callable[[], Awaitable[None]]


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


def create_app(
    title: str,
    settings: ServiceSettings,
    readiness: dict[str, ReadinessCheck],
    *,
    context: Any = None,
    routers: tuple[APIRouter, ...] = (),
    **kwargs: Any,
) -> FastAPI:
    app = FastAPI(title=title, **kwargs)
    app.state.settings = settings
    app.state.context = context

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
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["operations"])
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

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app
