"""What the SMS gateway part adds to notify: routes, consumers, sweeps, start-up hooks.

notify's bootstrap includes these parts, and must make the wired context reachable by the routes:

    sms_parts = await build_sms(runtime)
    app = create_app(..., routers=(*callback_routers, *sms_parts.routers))
    app.state.sms = sms_parts.context        # read by notify.sms.api.sms_context

`wire(runtime)` alone gives the context (tests and tools drive it directly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from common.consume import Consumer
from common.mongo import ensure_indexes
from common.runtime import Periodic, Runtime
from common.settings import reveal
from common.sms import SmsGateway
from notify.sms import handlers
from notify.sms.api import router
from notify.sms.consumers import consumers
from notify.sms.gateways import embedded
from notify.sms.gateways.kannel import KannelGateway
from notify.sms.handlers import Sms
from notify.sms.settings import SmsGatewaySettings
from notify.sms.store import (
    INDEXES,
    MongoDailyCounters,
    MongoInbound,
    MongoMessages,
    MongoOptOuts,
    MongoStrays,
)

#: how often the outbox relay looks for facts a crash or a broker outage left staged
RELAY_INTERVAL_S = 5.0


@dataclass
class SmsParts:
    routers: list[APIRouter] = field(default_factory=list)
    consumers: list[Consumer[Any]] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    on_start: list[Any] = field(default_factory=list)
    #: the wired SMS context (tests and tools drive it directly)
    context: Any = None


def gateway_for(runtime: Runtime) -> SmsGateway:
    settings = runtime.settings
    assert isinstance(settings, SmsGatewaySettings)
    if settings.sms_gateway == "kannel":
        return KannelGateway(
            url=settings.sms_kannel_url, username=settings.sms_kannel_username,
            password=reveal(settings.sms_kannel_password), sender=settings.sms_kannel_from,
            callback_url=settings.sms_callback_url, callback_token=reveal(settings.sms_callback_token),
            timeout_s=settings.sms_kannel_timeout_s,
        )
    return embedded.EmbeddedGateway(
        embedded.MongoRecords(runtime.db), runtime.clock,
        receipt_delay=timedelta(seconds=settings.sms_embedded_receipt_delay_s),
        failing_numbers=settings.sms_embedded_failing_numbers,
    )


def wire(runtime: Runtime, gateway: SmsGateway | None = None) -> Sms:
    settings = runtime.settings
    assert isinstance(settings, SmsGatewaySettings)
    db = runtime.db
    return Sms(
        settings, runtime.clock, runtime.publisher, MongoMessages(db), MongoInbound(db), MongoDailyCounters(db),
        MongoOptOuts(db), MongoStrays(db), gateway or gateway_for(runtime),
    )


async def build_sms(runtime: Runtime) -> SmsParts:
    s = wire(runtime)

    async def start() -> None:
        await ensure_indexes(runtime.db, INDEXES)
        if isinstance(s.gateway, embedded.EmbeddedGateway):
            await ensure_indexes(runtime.db, embedded.INDEXES)

    async def relay() -> None:
        await s.uow.relay()
        await s.inbound_uow.relay()

    periodic = [
        Periodic("sms-sends", s.settings.sweep_interval_s, lambda: handlers.sweep(s)),
        Periodic("sms-outbox-relay", RELAY_INTERVAL_S, relay),
    ]
    if isinstance(s.gateway, embedded.EmbeddedGateway):
        gateway = s.gateway
        periodic.append(Periodic("sms-embedded-receipts", s.settings.sweep_interval_s,
                                 lambda: handlers.issue_receipts(s, gateway)))
    return SmsParts(routers=[router], consumers=consumers(s), periodic=periodic, on_start=[start], context=s)
