"""The services' HTTP APIs, called with the signed-in user's own token (the console has none of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: httpx.Headers | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def missing_route(self) -> bool:
        """The service does not offer this route (yet): 404 or 405 that is not about a thing named."""
        if self.status == 405:
            return True
        return self.status == 404 and (not isinstance(self.body, dict) or self.body.get("detail") == "Not Found"
                                       or self.body.get("error") == "not_configured")

    @property
    def error(self) -> str:
        """What went wrong, for the page: the service's own words (a field's message for a 422)."""
        if self.ok:
            return ""
        if isinstance(self.body, dict):
            detail = self.body.get("detail")
            if isinstance(detail, list):
                return "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail if isinstance(d, dict))
            return str(detail or self.body.get("error") or self.status)
        return f"HTTP {self.status}"


class Upstream:
    """One HTTP client for every service; each call carries the caller's token, never logged."""

    def __init__(self, bases: dict[str, str], timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.bases = bases
        self.client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    def has(self, service: str) -> bool:
        return bool(self.bases.get(service))

    async def call(self, service: str, method: str, path: str, token: str, *, params: dict[str, Any] | None = None,
                   json: Any = None, accept: str = "application/json") -> Answer:
        base = self.bases.get(service)
        if not base:
            return Answer(404, {"error": "not_configured", "detail": f"{service} is not configured"})
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            resp = await self.client.request(method, base + path, params=query, json=json,
                                             headers={"Authorization": f"Bearer {token}", "Accept": accept})
        except httpx.HTTPError as exc:
            log.warning("upstream.unreachable", service=service, path=path, error=exc.__class__.__name__)
            return Answer(503, {"error": "unavailable", "detail": f"{service} 暂不可达"})
        if resp.headers.get("content-type", "").startswith("application/json"):
            try:
                body: Any = resp.json()
            except ValueError:
                body = None
        else:
            body = resp.content
        return Answer(resp.status_code, body, resp.headers)

    async def get(self, service: str, path: str, token: str, **params: Any) -> Answer:
        return await self.call(service, "GET", path, token, params=params)

    async def post(self, service: str, path: str, token: str, body: Any) -> Answer:
        return await self.call(service, "POST", path, token, json=body)

    async def close(self) -> None:
        await self.client.aclose()
