"""Wires the console: the services' APIs, the live hub on NATS, the pages. No store: it keeps no data."""

from __future__ import annotations

from common.runtime import Runtime, ServiceParts
from console.live import Hub
from console.settings import ConsoleSettings
from console.upstream import Upstream
from console.web import Console, build_app


def upstream_of(settings: ConsoleSettings) -> Upstream:
    return Upstream({"dispatch": settings.dispatch_url, "mediation": settings.mediation_url,
                     "notify": settings.notify_url, "rating": settings.rating_url,
                     "community": settings.community_url}, settings.upstream_timeout_s)


async def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, ConsoleSettings)
    hub = Hub()
    console = Console(settings, upstream_of(settings), hub)
    app = build_app(console, {"nats": runtime.ping_broker})
    return ServiceParts(app=app, on_start=[lambda: hub.start(runtime.nc)], context=console)
