"""The gauges' reads: counts added up, an age since the earliest, a failing read keeps the last value."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import structlog
from prometheus_client import CollectorRegistry, Gauge

from common import gauges
from common.timefmt import epoch_ms

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _matches(doc: dict, query: dict) -> bool:
    """What the store answers for an equality or a numeric range: a document without the field never matches
    a range."""
    tests = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
    def holds(value: object, condition: object) -> bool:
        if not isinstance(condition, dict):
            return value == condition
        return value is not None and all(tests[op](value, bound) for op, bound in condition.items())

    return all(holds(doc.get(field), condition) for field, condition in query.items())


class _Database:
    """The `count` command over the collections it holds, as the store answers it."""

    def __init__(self) -> None:
        self.collections: dict[str, list[dict]] = {}

    async def command(self, name: str, collection: str, *, query: dict) -> dict:
        assert name == "count"
        return {"ok": 1, "n": sum(_matches(d, query) for d in self.collections[collection])}


class _Collection:
    def __init__(self, docs: list[dict], name: str = "things") -> None:
        self.docs, self.name, self.database = docs, name, _Database()
        self.database.collections[name] = docs


async def test_counts_of_several_states_are_added_up() -> None:
    c = _Collection([{"state": "open"}, {"state": "overdue"}, {"state": "done"}, {"state": "open"}])
    assert await gauges.counting(c, {"state": "open"}, {"state": "overdue"})() == 3.0
    assert await gauges.counting(c, {"state": "gone"})() == 0.0


async def test_the_age_is_from_the_earliest_read_and_zero_when_none_or_ahead() -> None:
    async def at(moment: datetime | None):
        return moment

    assert await gauges.age_since(lambda: at(NOW - timedelta(seconds=61)), lambda: NOW)() == 61.0
    assert await gauges.age_since(lambda: at(NOW), lambda: NOW)() == 0.0
    assert await gauges.age_since(lambda: at(None), lambda: NOW)() == 0.0
    assert await gauges.age_since(lambda: at(NOW + timedelta(seconds=5)), lambda: NOW)() == 0.0
    naive = (NOW - timedelta(seconds=90)).replace(tzinfo=None)  # as the store hands datetimes back: UTC
    assert await gauges.age_since(lambda: at(naive), lambda: NOW)() == 90.0


async def test_a_failing_read_keeps_the_last_value_and_the_others_are_read() -> None:
    registry = CollectorRegistry()  # its own: the test can run twice in one process (mutmut does)
    g1, g2 = Gauge("test_gauge_one", "one", registry=registry), Gauge("test_gauge_two", "two", registry=registry)
    calls = {"n": 0}

    async def flaky() -> float:  # answers at the 1st and 4th read, fails at the 2nd, 3rd and 5th
        calls["n"] += 1
        if calls["n"] not in (1, 4):
            raise ConnectionError("store away")
        return 7.0 * calls["n"]

    async def steady() -> float:
        return 2.0

    refresh = gauges.refresher([gauges.Reading(g1, flaky), gauges.Reading(g2, steady)], "tests")
    with structlog.testing.capture_logs() as logged:
        assert await refresh() == 2
        assert await refresh() == 1
        assert g1._value.get() == 7.0 and g2._value.get() == 2.0
        assert await refresh() == 1  # the same failure run: not logged again
        assert await refresh() == 2
        assert g1._value.get() == 28.0
        assert await refresh() == 1  # a new failure run: logged again
    failed = {"event": "gauges.read_failed", "where": "tests", "gauge": "test_gauge_one",
              "error": "ConnectionError('store away')", "log_level": "warning"}
    assert logged == [failed, failed]


async def test_readings_set_their_labelled_gauge_readiness_and_consumers() -> None:
    registry = CollectorRegistry()
    labelled = Gauge("test_gauge_labelled", "labelled", ["dependency"], registry=registry)
    gauges.Reading(labelled, _reads(3.0), ("store",)).set(3.0)
    assert labelled.labels("store")._value.get() == 3.0

    async def answers() -> None:
        return None

    async def away() -> None:
        raise ConnectionError("away")

    ready = gauges.readiness_readings({"store": answers, "nats": away})
    assert [(r.gauge, r.labels, await r.read()) for r in ready] == [
        (gauges.READY, ("store",), 1.0), (gauges.READY, ("nats",), 0.0)]

    class Info:
        def __init__(self, pending: int | None, in_hand: int | None) -> None:
            self.num_pending, self.num_ack_pending = pending, in_hand

    class JetStream:
        async def consumer_info(self, stream: str, durable: str) -> Info:
            return {("S1", "d1"): Info(5, 2), ("S2", "d2"): Info(None, None)}[(stream, durable)]

    read = gauges.consumer_readings(JetStream(), [("S1", "d1"), ("S2", "d2")])
    assert [(r.gauge, r.labels, await r.read()) for r in read] == [
        (gauges.CONSUMER_PENDING, ("d1",), 5.0), (gauges.CONSUMER_ACK_PENDING, ("d1",), 2.0),
        (gauges.CONSUMER_PENDING, ("d2",), 0.0), (gauges.CONSUMER_ACK_PENDING, ("d2",), 0.0)]


def _reads(value: float):
    async def read() -> float:
        return value

    return read


# --- the windows the moving counts read, at their edges ---------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 2026-11-23 15:30 local; the station's day ends at 2026-11-24 00:00 local = 2026-11-23 16:00 UTC
AFTERNOON = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _due(moment: datetime | None) -> dict:
    return {} if moment is None else {"due_ms": epoch_ms(moment)}


def test_the_station_day_ends_at_the_next_local_midnight_also_from_just_after_the_last() -> None:
    assert gauges.station_day_end(AFTERNOON, SHANGHAI) == MIDNIGHT
    assert gauges.station_day_end(AFTERNOON, SHANGHAI).tzinfo is UTC  # in UTC, whatever the host's zone
    assert gauges.station_day_end(MIDNIGHT - SECOND, SHANGHAI) == MIDNIGHT
    assert gauges.station_day_end(MIDNIGHT, SHANGHAI) == MIDNIGHT + timedelta(days=1)  # a new day has begun
    # 01:00 local is still the UTC day before: the local date decides
    assert gauges.station_day_end(datetime(2026, 11, 23, 17, 0, tzinfo=UTC), SHANGHAI) == MIDNIGHT + timedelta(days=1)
    with pytest.raises(ValueError):
        gauges.station_day_end(datetime(2026, 11, 23, 7, 30), SHANGHAI)


@pytest.mark.parametrize(("due", "tonight"), [
    (MIDNIGHT - SECOND, True),
    (MIDNIGHT, True),  # the first late instant is midnight: it must be done tonight
    (MIDNIGHT + SECOND, False),  # done at 00:00:00 it is still in time: tomorrow's
    (AFTERNOON + SECOND, True),
    (AFTERNOON, False),  # reached now: overdue, not due
    (AFTERNOON - SECOND, False),
    (None, False),  # no key: not awaited (contacted, done)
])
def test_due_before_the_day_ends_is_after_now_and_up_to_local_midnight(due: datetime | None, tonight: bool) -> None:
    assert _matches(_due(due), gauges.due_by_day_end("due_ms", AFTERNOON, SHANGHAI)) is tonight


@pytest.mark.parametrize(("due", "late"), [
    (AFTERNOON - SECOND, True), (AFTERNOON, True), (AFTERNOON + SECOND, False), (None, False),
])
def test_past_a_deadline_is_at_or_after_it(due: datetime | None, late: bool) -> None:
    assert _matches(_due(due), gauges.past("due_ms", AFTERNOON)) is late


@pytest.mark.parametrize(("handed", "old"), [
    (AFTERNOON - timedelta(hours=1) - SECOND, True),
    (AFTERNOON - timedelta(hours=1), False),  # exactly an hour ago: not yet over an hour
    (AFTERNOON - timedelta(hours=1) + SECOND, False),
    (None, False),
])
def test_older_than_an_hour_is_strictly_more_than_an_hour(handed: datetime | None, old: bool) -> None:
    assert _matches(_due(handed), gauges.older_than("due_ms", AFTERNOON, timedelta(hours=1))) is old


def test_holding_a_key_is_any_epoch_ms_from_zero_and_not_a_missing_key() -> None:
    query = gauges.holding("open_ms")
    assert [_matches(d, query) for d in ({"open_ms": 0}, {"open_ms": epoch_ms(AFTERNOON)}, {}, {"open_ms": None})] == [
        True, True, False, False]


async def test_a_query_factory_is_made_again_at_each_read() -> None:
    c = _Collection([{"due_ms": epoch_ms(AFTERNOON + timedelta(minutes=m))} for m in (1, 2, 3)])
    clock = {"now": AFTERNOON}
    read = gauges.counting(c, lambda: gauges.past("due_ms", clock["now"]))
    assert await read() == 0.0
    clock["now"] = AFTERNOON + timedelta(minutes=2)
    assert await read() == 2.0
