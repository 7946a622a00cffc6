"""Wires notify: its callbacks (case consumers, the timer sweep, delivery reports, the API) with the
SMS gateway part (`notify.sms.wiring.build_sms`)."""

from __future__ import annotations

from common.mongo import ensure_indexes
from common.runtime import Periodic, Runtime, ServiceParts
from notify import domain, handlers
from notify.adapters.store import INDEXES, MongoCallbacks, mongo_cases
from notify.entrypoints.api import build_app
from notify.entrypoints.consumers import consumers
from notify.handlers import Notify
from notify.settings import NotifySettings
from notify.sms.wiring import build_sms


def calendars(settings: NotifySettings) -> list[domain.WorkCalendar]:
    """The station's calendar file first (refused at start when malformed), then chinesecalendar."""
    found: list[domain.WorkCalendar] = []
    if settings.calendar_path is not None:
        text = settings.calendar_path.read_text(encoding="utf-8")
        found.append(domain.parse_station_calendar(text, source=str(settings.calendar_path)))
    return [*found, domain.ChineseCalendar()]


def wire(runtime: Runtime) -> Notify:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    return Notify(settings, runtime.clock, runtime.publisher, MongoCallbacks(runtime.db), mongo_cases(runtime.db),
                  rules=handlers.callback_rules(settings, calendars(settings)))


async def build(runtime: Runtime) -> ServiceParts:
    n = wire(runtime)
    sms = await build_sms(runtime)

    async def start() -> None:
        await ensure_indexes(runtime.db, INDEXES)

    app = build_app(runtime, n, tuple(sms.routers))
    app.state.sms = sms.context  # the gateway part's routes reach their own context here
    return ServiceParts(
        app=app,
        consumers=[*consumers(n), *sms.consumers],
        periodic=[
            Periodic("callback-timers", n.settings.sweep_interval_s, lambda: handlers.sweep(n)),
            Periodic("outbox-relay", 5.0, n.uow.relay),
            *sms.periodic,
        ],
        on_start=[start, *sms.on_start],
        context=n,
    )
