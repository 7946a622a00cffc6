"""The gauges the pages and the console need, read cheaply and kept fresh by a periodic job.

Each service names what it counts (`Reading`: a gauge and an async read that counts through an
index or reads a kept figure, never a scan of the stored data); `refresher` makes the periodic
job that sets them. Scraping /metrics then costs nothing more than the exposition: the reads run
every `interval_s`, off the request path, and a read that fails (the store away) leaves the last
value and is logged once per failure run.

Every replica of a service reads the same shared store, so the station's figure is the max()
across replicas (deploy/prometheus/rules.yaml).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Any

import structlog
from prometheus_client import Gauge

from common.domain import as_utc, require_aware
from common.timefmt import epoch_ms

log = structlog.get_logger(__name__)

# dispatch
ALERTS_WAITING = Gauge("fengqiao_alerts_waiting", "Alerts at the duty desk that no unit holds.")
ALERTS_WAITING_OLDEST = Gauge(
    "fengqiao_alerts_waiting_oldest_seconds", "How long the oldest alert no unit holds has waited (0 when none)."
)
# mediation
DISPUTES_DUE_TONIGHT = Gauge(
    "fengqiao_disputes_first_contact_due_tonight",
    "Disputes not yet contacted whose first-contact deadline (事不过夜) falls before the end of the station's day.",
)
DISPUTES_OVERDUE = Gauge("fengqiao_disputes_overdue", "Disputes past their first-contact deadline, not yet contacted.")
# notify
CALLBACKS_DUE_TODAY = Gauge(
    "fengqiao_callbacks_due_today", "Open case callbacks whose deadline falls before the end of the station's day."
)
CALLBACKS_MANUAL = Gauge("fengqiao_callbacks_manual", "Callbacks waiting for an officer's phone call or visit.")
CALLBACKS_OVERDUE = Gauge("fengqiao_callbacks_overdue", "Callbacks past their deadline, not done.")
SMS_UNDELIVERED = Gauge(
    "fengqiao_sms_undelivered", "SMS handed to the gateway more than an hour ago with no delivery report yet."
)
OBJECTIONS_OPEN = Gauge("fengqiao_objections_open", "Citizens' objections (异议) not yet explained or handed on.")
# rating
FOLLOWUPS_OPEN = Gauge("fengqiao_followups_open", "Leadership follow-ups of dissatisfied ratings not yet done.")
# every service
CONSUMER_PENDING = Gauge(
    "fengqiao_consumer_pending_messages", "Messages in the stream not yet delivered to the consumer.", ["consumer"]
)
CONSUMER_ACK_PENDING = Gauge(
    "fengqiao_consumer_ack_pending_messages",
    "Messages delivered to the consumer and not yet acknowledged.",
    ["consumer"],
)
READY = Gauge("fengqiao_ready", "1 while the service's dependency answers, else 0.", ["dependency"])
REFRESHED = Gauge("fengqiao_gauges_refreshed_timestamp_seconds", "When this replica last refreshed its gauges.")


@dataclass(frozen=True)
class Reading:
    """One gauge (with its labels, if any) and how to read its value."""

    gauge: Gauge
    read: Callable[[], Awaitable[float]]
    labels: tuple[str, ...] = ()

    def set(self, value: float) -> None:
        (self.gauge.labels(*self.labels) if self.labels else self.gauge).set(value)


def refresher(readings: Sequence[Reading], where: str) -> Callable[[], Awaitable[int]]:
    """The periodic job that sets every reading's gauge; returns how many it could read."""
    failing: set[int] = set()

    async def refresh() -> int:
        done = 0
        for i, reading in enumerate(readings):
            try:
                reading.set(float(await reading.read()))
            except Exception as exc:
                if i not in failing:  # once per failure run, not every interval
                    log.warning("gauges.read_failed", where=where, gauge=reading.gauge._name, error=repr(exc))
                failing.add(i)
                continue
            failing.discard(i)
            done += 1
        REFRESHED.set(time.time())
        return done

    return refresh


def readiness_readings(checks: dict[str, Callable[[], Awaitable[None]]]) -> list[Reading]:
    """`fengqiao_ready{dependency}`: 1 when the check answers, 0 when it raises."""

    def reading(check: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[float]]:
        async def read() -> float:
            try:
                await check()
            except Exception:
                return 0.0
            return 1.0

        return read

    return [Reading(READY, reading(check), (name,)) for name, check in checks.items()]


def consumer_readings(js: object, consumers: Sequence[tuple[str, str]]) -> list[Reading]:
    """Per durable consumer (stream, durable): pending and in-hand messages, from JetStream's consumer info.

    One consumer-info request per consumer and refresh: its cost does not depend on how many
    messages wait.
    """
    readings: list[Reading] = []
    for stream, durable in consumers:

        async def pending(stream: str = stream, durable: str = durable) -> float:
            return float((await js.consumer_info(stream, durable)).num_pending or 0)  # type: ignore[attr-defined]

        async def in_hand(stream: str = stream, durable: str = durable) -> float:
            return float((await js.consumer_info(stream, durable)).num_ack_pending or 0)  # type: ignore[attr-defined]

        readings += [Reading(CONSUMER_PENDING, pending, (durable,)), Reading(CONSUMER_ACK_PENDING, in_hand, (durable,))]
    return readings


Query = dict[str, Any] | Callable[[], dict[str, Any]]


def counting(collection: Any, *queries: Query) -> Callable[[], Awaitable[float]]:
    """A read that counts the documents matching each query and adds them up.

    Each query is a range on one indexed field, epoch ms or a string key's (what the embedded store counts
    from the index; it scans for an equality on a string, ~20-40 ms at 40,000 documents), or a function that
    makes one at each read (a range that moves with the clock: "due before the day ends").
    """

    async def read() -> float:
        return float(sum([await _count(collection, q() if callable(q) else q) for q in queries]))

    return read


async def _count(collection: Any, query: dict[str, Any]) -> int:
    # the count command, not count_documents: nx-27017 runs the latter's aggregation over every document
    # (~200 ms at 20k, index or not) and answers the command's numeric range from the index (~0.3 ms)
    reply = await collection.database.command("count", collection.name, query=query)
    return int(reply["n"])


def station_day_end(now: datetime, zone: tzinfo) -> datetime:
    """The end of the station's day `now` falls in: the next local midnight of `zone`, in UTC (exclusive)."""
    require_aware(now)
    day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, clock_time(0), tzinfo=zone).astimezone(UTC)


def due_by_day_end(field: str, now: datetime, zone: tzinfo) -> dict[str, Any]:
    """Deadlines in epoch ms (`field`, each the first late instant) not yet passed and falling before the
    station's day ends: `now < due <= end of the day`, so a deadline at local midnight is tonight's."""
    return {field: {"$gt": epoch_ms(now), "$lte": epoch_ms(station_day_end(now, zone))}}


def holding(field: str) -> dict[str, Any]:
    """Every document holding the epoch-ms key `field` (a numeric range the embedded store answers from the
    field's index, where `$exists` scans)."""
    return {field: {"$gte": 0}}


def past(field: str, moment: datetime) -> dict[str, Any]:
    """Times in epoch ms (`field`) at or before `moment`: a deadline reached (`now >= due` is late)."""
    require_aware(moment)
    return {field: {"$lte": epoch_ms(moment)}}


def older_than(field: str, now: datetime, age: timedelta) -> dict[str, Any]:
    """Times in epoch ms (`field`) more than `age` before `now` (exactly `age` ago is not older)."""
    require_aware(now)
    return {field: {"$lt": epoch_ms(now - age)}}


def age_since(
    earliest: Callable[[], Awaitable[datetime | None]], now: Callable[[], datetime]
) -> Callable[[], Awaitable[float]]:
    """Seconds since the instant `earliest` reads (the oldest of what a gauge counts, read through an index; 0
    when there is none, or when it is ahead of the clock)."""

    async def read() -> float:
        since = await earliest()
        if since is None:
            return 0.0
        return max(0.0, (now() - as_utc(since)).total_seconds())

    return read
