"""The units' live state and their places, read a chunk at a time: nothing is missed past the first chunk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from shapely.geometry import box

from common import mongo
from common.mongo import ensure_indexes
from common.repository import VersionConflict
from dispatch.adapters.store import INDEXES, UNIT_CHUNK, AlertStore, PlaceTaken, UnitStore
from dispatch.domain.alerts import Alert
from dispatch.domain.assignment import Candidate
from dispatch.domain.grid import GridUnit
from dispatch.domain.units import Unit

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


def _alert(alert_id: str) -> Alert:
    return Alert.receive(alert_id=alert_id, received_at=NOW, category="dispute", priority=2, lon=0.5, lat=0.5,
                         address=None, caller_phone=None, summary="", source="110")


def _held(alert_id: str, unit_id: str, place: int) -> Alert:
    alert = _alert(alert_id)
    alert.assign(Candidate(unit_id, "zone", 10.0), NOW, NOW - NOW, place)
    return alert


async def test_states_of_more_units_than_one_chunk(store_server, db_name) -> None:
    units = UnitStore(mongo.database(mongo.client(store_server.url), db_name))
    count = UNIT_CHUNK * 2 + 5
    officers = [(f"P{k}a", f"P{k}b", f"P{k}c") for k in range(count)]
    grid = [GridUnit(f"U{k:03d}", f"unit {k}", box(k, 0, k + 1, 1), (k + 0.5, 0.5), officers[k], capacity=2)
            for k in range(count)]
    for u in grid:
        await units.add(Unit(u.unit_id, u.name, list(u.officers), u.capacity, "available", grid_version=1), [])

    everything = await units.states()
    chunked = await units.states(u.unit_id for u in grid)
    assert chunked == everything and len(chunked) == count
    assert await units.states(["U001", "nobody"]) == {"U001": everything["U001"]}
    assert await units.states([]) == {}


async def test_places_of_more_units_than_one_chunk_and_of_ids_that_prefix_each_other(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    await ensure_indexes(db, INDEXES)
    alerts = AlertStore(db)
    many = [f"U{k:03d}" for k in range(UNIT_CHUNK * 2 + 5)]
    odd = ["A", "A!", "A#1", "A1", "AB", "东1", "东1-2"]  # neighbours in id order, some a prefix of another
    held = {"U000": 1, many[UNIT_CHUNK]: 0, many[-1]: 3, **{unit_id: k for k, unit_id in enumerate(odd)}}
    for n, (unit_id, place) in enumerate(held.items()):
        await alerts.insert_new(_held(f"a{n}", unit_id, place))
    await alerts.insert_new(_alert("waiting"))  # no place: never among a unit's

    found = await alerts.places([*many, *odd, "nobody"])
    assert {u: places for u, places in found.items() if places} == {u: {k} for u, k in held.items()}
    assert found["nobody"] == set() and len(found) == len(many) + len(odd) + 1
    for n, unit_id in enumerate(odd, start=3):  # each alone: its own places and alerts, not its neighbours'
        assert (await alerts.places([unit_id]))[unit_id] == {held[unit_id]}
        assert [(h.alert_id, h.place, h.state) for h in await alerts.held_by(unit_id)] == [
            (f"a{n}", held[unit_id], "assigned")]


async def test_a_place_is_held_by_one_alert_and_a_duplicate_is_told_apart(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    await ensure_indexes(db, INDEXES)
    alerts = AlertStore(db)
    await alerts.insert_new(_held("first", "G1", 0))
    with pytest.raises(PlaceTaken) as taken:
        await alerts.insert_new(_held("second", "G1", 0))
    assert (taken.value.unit_id, taken.value.place) == ("G1", 0)
    with pytest.raises(VersionConflict):
        await alerts.insert_new(_held("first", "G1", 1))  # the same alert again, in a free place
    with pytest.raises(VersionConflict):
        await alerts.insert_new(_alert("first"))  # the same alert again, for the duty desk
    await alerts.insert_new(_alert("second"))
    stored = await alerts.get("second")
    moving = stored.aggregate
    moving.send_to_duty_desk(NOW)
    moving.assign(Candidate("G1", "zone", 1.0), NOW, NOW - NOW, 0)
    with pytest.raises(PlaceTaken):  # a save into a taken place is refused whole
        await alerts.save(stored, [])
    assert (await alerts.get("second")).aggregate.state == "received"
    moving.place = 1
    await alerts.save(stored, [])
    assert sorted(h.alert_id for h in await alerts.held_by("G1")) == ["first", "second"]


async def test_alerts_stored_before_places_are_given_theirs(store_server, db_name) -> None:
    db = mongo.database(mongo.client(store_server.url), db_name)
    alerts = AlertStore(db)
    await alerts.insert_new(_held("new", "G1", 0))
    for n, alert in enumerate([_held("old-1", "G1", 0), _held("old-2", "G1", 0), _alert("old-3")]):
        doc = {"_id": alert.alert_id, **alert.to_dict(), "version": 1}
        del doc["place"]
        doc["received_at"] = NOW.replace(minute=n)
        await db.alerts.insert_one(doc)
    assert await alerts.give_places() == 3
    assert await alerts.give_places() == 0
    await ensure_indexes(db, INDEXES)
    await db.alerts.update_one({"_id": "old-3"}, {"$unset": {"slot": ""}})
    assert await alerts.give_places() == 0  # the index is built: every alert has its slot, none is looked for
    found = await alerts.held_by("G1")
    assert sorted((h.alert_id, h.place) for h in found) == [("new", 0), ("old-1", 1), ("old-2", 2)]
    assert (await alerts.get("old-1")).aggregate.place == 1 and (await alerts.get("old-3")).aggregate.place is None
