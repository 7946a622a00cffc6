"""A replica's picture of the units' places: which place to try, what it believes taken, what it tells."""

from __future__ import annotations

from shapely.geometry import box

from dispatch.domain.grid import Grid, GridUnit
from dispatch.domain.units import UnitState
from dispatch.placement.places import PlaceChange, UnitPlaces
from dispatch.placement.view import ReplicaView


def test_a_reserved_place_is_kept_from_the_replicas_other_alerts_until_settled():
    p = UnitPlaces()
    assert [p.reserve("G1", 3) for _ in range(4)] == [0, 1, 2, None]  # three alerts in hand at once
    assert p.loads["G1"] == 3  # ranking counts places being written
    assert p.settle("G1", 1, "unwritten") is None
    assert p.loads["G1"] == 2 and p.reserve("G1", 3) == 1
    assert p.reserve("G2", 0) is None  # a unit of no capacity has no place


def test_a_written_place_is_held_and_told_a_place_found_taken_is_held_and_not_told():
    p = UnitPlaces()
    first, second = p.reserve("G1", 2), p.reserve("G1", 2)
    assert p.settle("G1", first, "written") == PlaceChange("G1", 0, taken=True)
    assert p.settle("G1", second, "taken") is None  # another replica's alert holds it: that one tells
    assert p.held("G1") == {0, 1} and p.loads["G1"] == 2 and p.reserve("G1", 2) is None


def test_a_place_given_back_frees_it_and_says_so():
    p = UnitPlaces()
    assert p.apply(PlaceChange("G1", 0, taken=True)) is False
    assert p.apply(PlaceChange("G1", 0, taken=False)) is True
    assert p.held("G1") == set() and p.loads["G1"] == 0


def test_a_reread_replaces_what_the_replica_believed_but_keeps_its_writes_in_hand():
    p = UnitPlaces()
    p.apply(PlaceChange("G1", 0, taken=True))  # announced by another replica
    in_hand = p.reserve("G1", 4)
    assert p.reread({"G1": {2, 3}}) is True  # the store: place 0 was given back (announcement missed), 2, 3 taken
    assert p.held("G1") == {2, 3} and p.loads["G1"] == 3
    assert in_hand == 1 and p.reserve("G1", 4) == 0 and p.reserve("G1", 4) is None
    assert p.reread({"G1": {0, 2, 3}}) is False  # nothing freed


def test_a_reread_that_crossed_a_change_of_the_unit_leaves_the_unit_as_it_is():
    p = UnitPlaces()
    p.apply(PlaceChange("G1", 0, taken=True))
    p.apply(PlaceChange("G2", 0, taken=True))
    stamp = p.stamp(["G1", "G2"])
    p.apply(PlaceChange("G1", 0, taken=False))  # given back while the read (which saw it held) was on its way
    p.reread({"G1": {0}, "G2": {0, 1}}, stamp)
    assert p.held("G1") == set()  # not taken again by the older read
    assert p.held("G2") == {0, 1}  # what the read brings for a unit that did not change here


class _Store:
    """Places as the store holds them when a read begins; `during` runs while the read is on its way."""

    def __init__(self, held, during=None):
        self.held, self.during = held, during

    async def places(self, unit_ids):
        answer = {u: set(self.held.get(u, ())) for u in unit_ids}
        if self.during:
            self.during()
        return answer


async def test_the_replica_tells_the_places_it_takes_and_gives_back_and_not_what_it_hears():
    told = []

    async def announce(change):
        told.append(change)

    v = ReplicaView(None, None, _Store({}), announce)
    place = v.places.reserve("G1", 2)
    await v.settle("G1", place, "written")
    await v.give_back("G1", place)
    v.heard(PlaceChange("G1", 1, taken=True))  # another replica's news: not told again
    taken = v.places.reserve("G1", 2)
    await v.settle("G1", taken, "taken")  # found taken: its unit read again from the store (empty here)
    assert told == [PlaceChange("G1", 0, taken=True), PlaceChange("G1", 0, taken=False)]
    assert v.loads["G1"] == 0


def test_room_counts_the_free_places_of_available_units_and_a_freed_place_rings():
    rings = []
    v = ReplicaView(None, None, None)
    v.on_freed = lambda: rings.append(1)
    v.grid = Grid([GridUnit(f"G{k}", f"unit {k}", box(k, 0, k + 1, 1), (k + 0.5, 0.5), ("a", "b", "c"), capacity=2)
                   for k in (1, 2)])
    assert v.room() == 4
    v.heard(PlaceChange("G1", 0, taken=True))
    v.places.reserve("G1", 2)  # a place being written counts as taken
    assert v.room() == 2 and rings == []
    v.note_states({"G2": UnitState("G2", "busy", 2, ("a", "b", "c"), False)})
    assert v.room() == 0 and rings == []
    v.note_states({"G2": UnitState("G2", "busy", 2, ("a", "b", "c"), False)})  # nothing new
    v.note_states({"G2": UnitState("G2", "available", 2, ("a", "b", "c"), False)})
    assert v.room() == 2 and rings == [1]
    v.heard(PlaceChange("G1", 0, taken=False))  # given back by another replica
    assert v.room() == 3 and rings == [1, 1]
    v.note_states({"G2": UnitState("G2", "available", 2, ("a", "b", "c"), True)})  # retired: off duty
    assert v.room() == 1


async def test_a_reread_that_finds_a_place_free_rings_the_duty_desk():
    store = _Store({"G1": set()})
    rings = []
    v = ReplicaView(None, None, store)
    v.on_freed = lambda: rings.append(1)
    v.heard(PlaceChange("G1", 0, taken=True))  # an announcement of a place given back was missed
    await v.refresh_places(["G1"])
    assert rings == [1] and v.places.held("G1") == set()
    store.during = lambda: v.heard(PlaceChange("G1", 1, taken=True))
    await v.refresh_places(["G1"])  # crossed a change: the unit keeps what it has
    assert v.places.held("G1") == {1} and rings == [1]


def test_the_replicas_message_is_an_internal_contract_and_keeps_its_wire_form():
    import pytest
    from pydantic import ValidationError

    from common.contracts.internal import UnitPlaceChanged
    from common.contracts.registry import CONTRACTS

    assert UnitPlaceChanged.internal and UnitPlaceChanged not in CONTRACTS  # no public schema
    # as a replica of the release before sends it
    told = UnitPlaceChanged.model_validate_json(b'{"unit_id": "G1", "place": 2, "change": -1, "origin": "abc"}')
    assert (told.unit_id, told.place, told.change, told.origin) == ("G1", 2, -1, "abc")
    for bad in ({"change": 0}, {"place": -1}, {"unit_id": ""}):
        with pytest.raises(ValidationError):
            UnitPlaceChanged(**{"unit_id": "G1", "place": 0, "change": 1, "origin": "x", **bad})
