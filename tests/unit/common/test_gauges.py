"""The gauges' reads: counts added up, the oldest's age, a failing read keeps the last value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge

from common import gauges

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class _Collection:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    async def count_documents(self, query: dict) -> int:
        return sum(all(d.get(k) == v for k, v in query.items()) for d in self.docs)

    async def find_one(self, query: dict, projection: dict, sort: list) -> dict | None:
        (field, _), = sort
        found = sorted((d for d in self.docs if all(d.get(k) == v for k, v in query.items())), key=lambda d: d[field])
        return found[0] if found else None


async def test_counts_of_several_states_are_added_up() -> None:
    c = _Collection([{"state": "open"}, {"state": "overdue"}, {"state": "done"}, {"state": "open"}])
    assert await gauges.counting(c, {"state": "open"}, {"state": "overdue"})() == 3.0
    assert await gauges.counting(c, {"state": "gone"})() == 0.0


async def test_the_oldest_age_is_from_the_earliest_and_zero_when_none() -> None:
    c = _Collection([{"state": "w", "at": NOW - timedelta(seconds=30)},
                     {"state": "w", "at": NOW - timedelta(seconds=61)},
                     {"state": "x", "at": NOW - timedelta(hours=5)}])
    assert await gauges.oldest_age(c, {"state": "w"}, "at", lambda: NOW)() == 61.0
    assert await gauges.oldest_age(c, {"state": "none"}, "at", lambda: NOW)() == 0.0
    future = _Collection([{"state": "w", "at": NOW + timedelta(seconds=5)}])
    assert await gauges.oldest_age(future, {"state": "w"}, "at", lambda: NOW)() == 0.0


async def test_a_failing_read_keeps_the_last_value_and_the_others_are_read() -> None:
    g1, g2 = Gauge("test_gauge_one", "one"), Gauge("test_gauge_two", "two")
    calls = {"n": 0}

    async def flaky() -> float:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("store away")
        return 7.0

    async def steady() -> float:
        return 2.0

    refresh = gauges.refresher([gauges.Reading(g1, flaky), gauges.Reading(g2, steady)], "tests")
    assert await refresh() == 2
    assert await refresh() == 1
    assert g1._value.get() == 7.0 and g2._value.get() == 2.0
