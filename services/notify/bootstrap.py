"""Wires notify: its callbacks (case consumers, the timer sweep, delivery reports, the API) and its SMS
gateway (`notify.sms`: every outbound SMS of the platform, the questions they ask, replies and receipts).

Both features share one context (`Notify`, with the gateway's `Sms` as `n.sms`), one app, one route
context and one list of consumers and sweeps. `wire_in_memory()` gives the same service on in-memory
adapters for use-case tests.
"""

from __future__ import annotations

from datetime import timedelta

from common import gauges
from common.clock import Clock
from common.fakes import FakePublisher
from common.mongo import ensure_indexes
from common.runtime import Periodic, Runtime, ServiceParts
from common.settings import reveal
from notify import domain, handlers
from notify.adapters import store
from notify.adapters.store import INDEXES, InMemoryCallbacks, MongoCallbacks, memory_cases, mongo_cases
from notify.entrypoints.api import build_app
from notify.entrypoints.consumers import consumers
from notify.handlers import Notify
from notify.settings import NotifySettings
from notify.sms import handlers as sms_handlers
from notify.sms.adapters import embedded
from notify.sms.adapters import store as sms_store
from notify.sms.adapters.kannel import KannelGateway
from notify.sms.adapters.port import InMemorySmsGateway, SmsGateway
from notify.sms.handlers import Sms

#: how often the outbox relay looks for facts a crash or a broker outage left staged
RELAY_INTERVAL_S = 5.0


def calendars(settings: NotifySettings) -> list[domain.WorkCalendar]:
    """The station's calendar file first (refused at start when malformed), then chinesecalendar."""
    found: list[domain.WorkCalendar] = []
    if settings.calendar_path is not None:
        text = settings.calendar_path.read_text(encoding="utf-8")
        found.append(domain.parse_station_calendar(text, source=str(settings.calendar_path)))
    return [*found, domain.ChineseCalendar()]


def gateway_for(runtime: Runtime) -> SmsGateway:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
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


def wire(runtime: Runtime, gateway: SmsGateway | None = None) -> Notify:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    db = runtime.db
    sms = Sms(settings, runtime.clock, runtime.publisher, sms_store.MongoMessages(db), sms_store.MongoInbound(db),
              sms_store.MongoDailyCounters(db), sms_store.MongoOptOuts(db), sms_store.MongoStrays(db),
              gateway or gateway_for(runtime), sms_store.MongoQuestions(db))
    return Notify(settings, runtime.clock, runtime.publisher, MongoCallbacks(db), mongo_cases(db),
                  rules=handlers.callback_rules(settings, calendars(settings)), sms=sms)


def wire_in_memory(settings: NotifySettings, clock: Clock, publisher: FakePublisher | None = None,
                   gateway: SmsGateway | None = None) -> Notify:
    """The same service on in-memory stores, a fake publisher and a fake gateway (use-case tests)."""
    publisher = publisher or FakePublisher()
    sms = Sms(settings, clock, publisher, sms_store.InMemoryMessages(), sms_store.InMemoryInbound(),
              sms_store.InMemoryDailyCounters(), sms_store.InMemoryOptOuts(), sms_store.InMemoryStrays(),
              gateway or InMemorySmsGateway(), sms_store.InMemoryQuestions())
    return Notify(settings, clock, publisher, InMemoryCallbacks(), memory_cases(), sms=sms)


async def build(runtime: Runtime) -> ServiceParts:
    n = wire(runtime)
    s = n.sms

    async def start() -> None:
        await store.key_before_gauges(runtime.db)  # callbacks stored before the gauges' keys: before their indexes
        await ensure_indexes(runtime.db, INDEXES)
        await ensure_indexes(runtime.db, sms_store.INDEXES)
        if isinstance(s.gateway, embedded.EmbeddedGateway):
            await ensure_indexes(runtime.db, embedded.INDEXES)

    async def relay() -> None:
        await n.uow.relay()
        await s.uow.relay()
        await s.inbound_uow.relay()

    periodic = [
        Periodic("callback-timers", n.settings.sweep_interval_s, lambda: handlers.sweep(n)),
        Periodic("sms-sends", n.settings.sweep_interval_s, lambda: sms_handlers.sweep(s)),
        Periodic("outbox-relay", RELAY_INTERVAL_S, relay),
    ]
    if isinstance(s.gateway, embedded.EmbeddedGateway):
        gateway = s.gateway
        periodic.append(Periodic("sms-embedded-receipts", n.settings.sweep_interval_s,
                                 lambda: sms_handlers.issue_receipts(s, gateway)))
    callbacks, messages, zone = runtime.db["callbacks"], runtime.db[sms_store.MESSAGES], n.settings.zone
    readings = [  # each a range of a sparse index: manual_since_ms, open_due_ms, open_objection_ms, receipt_awaited_ms
        gauges.Reading(gauges.CALLBACKS_MANUAL, gauges.counting(callbacks, store.MANUAL)),
        gauges.Reading(gauges.CALLBACKS_OVERDUE, gauges.counting(
            callbacks, lambda: store.overdue(runtime.clock.now()))),
        gauges.Reading(gauges.CALLBACKS_DUE_TODAY, gauges.counting(
            callbacks, lambda: store.due_today(runtime.clock.now(), zone))),
        gauges.Reading(gauges.OBJECTIONS_OPEN, gauges.counting(callbacks, store.OBJECTIONS_OPEN)),
        gauges.Reading(gauges.SMS_UNDELIVERED, gauges.counting(
            messages, lambda: sms_store.undelivered(runtime.clock.now()))),
    ]
    return ServiceParts(app=build_app(runtime, n), consumers=consumers(n), periodic=periodic, on_start=[start],
                        context=n, gauges=readings)
