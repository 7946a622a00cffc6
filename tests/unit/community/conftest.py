"""Community on in-memory adapters, a fake publisher and a fake clock, with dispatch's sample grid kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from common.clock import FakeClock
from common.contracts.alerts import GridReplaced
from common.fakes import FakePublisher
from community import handlers
from community.bootstrap import wire_in_memory
from community.handlers import Community
from community.settings import CommunitySettings

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 at the station, Monday 23 November 2026
G1 = (118.9655, 25.2265)  # inside G1's zone (枫亭镇区责任区), officers P1001-P1003


def sample_grid() -> dict[str, Any]:
    return json.loads(resources.files("dispatch").joinpath("sample_grid.geojson").read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def c(clock: FakeClock) -> Community:
    community = wire_in_memory(CommunitySettings(environment="test"), clock, FakePublisher())
    await handlers.keep_grid(community, GridReplaced(grid_version=1, units=4, at=START, grid=sample_grid()))
    return community
