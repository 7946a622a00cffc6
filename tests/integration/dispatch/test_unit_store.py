"""The units' live state read a chunk at a time: nothing is missed past the first chunk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from shapely.geometry import box

from common import mongo
from dispatch.adapters.store import UNIT_CHUNK, UnitStore
from dispatch.domain.grid import GridUnit

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


async def test_states_and_claims_of_more_units_than_one_chunk(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    units = UnitStore(db)
    count = UNIT_CHUNK * 2 + 5
    officers = [(f"P{k}a", f"P{k}b", f"P{k}c") for k in range(count)]
    grid = [GridUnit(f"U{k:03d}", f"unit {k}", box(k, 0, k + 1, 1), (k + 0.5, 0.5), officers[k], capacity=2)
            for k in range(count)]
    await units.sync_with_grid(grid, 1)
    held = {"U000": "A0", f"U{UNIT_CHUNK:03d}": "A1", f"U{count - 1:03d}": "A2"}  # first, second, last chunk
    for unit_id, alert_id in held.items():
        assert (await units.claim(unit_id, alert_id, NOW, 2)).value == "claimed"

    everything = await units.states()
    chunked, claims = await units.read(u.unit_id for u in grid)
    assert chunked == everything and len(chunked) == count
    assert {u for u, s in chunked.items() if s.load == 1} == set(held)
    assert (await units.read(["U001", "nobody"]))[0] == {"U001": everything["U001"]}

    assert sorted((u, a) for u, a, at in claims if at == NOW) == sorted(held.items())
    assert await units.read([]) == ({}, [])
