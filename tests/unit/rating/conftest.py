"""The rating service wired on in-memory stores, a fake broker and a fake clock (Monday 2026-11-23 08:00
in the station)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from common.clock import FakeClock
from common.fakes import FakePublisher
from rating.bootstrap import wire_in_memory
from rating.handlers import Evaluation
from rating.settings import RatingSettings

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in the station, a Monday of 2026-W48


def wired(clock: FakeClock, publisher: FakePublisher, **settings: Any) -> Evaluation:
    config = RatingSettings(environment="test", station_id="FT", names={"P1001": "张三"}, **settings)
    return wire_in_memory(config, clock, publisher)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def m(clock: FakeClock, publisher: FakePublisher) -> Evaluation:
    return wired(clock, publisher)
