"""The replica's picture of the units' places: which place to try, and what it believes taken."""

from __future__ import annotations

from dispatch.view import GridView


def view() -> GridView:
    return GridView(None, None, None)  # these rules never touch the store


def test_a_reserved_place_is_kept_from_the_replicas_other_alerts_until_confirmed_or_cancelled():
    v = view()
    assert [v.reserve("G1", 3) for _ in range(4)] == [0, 1, 2, None]  # three alerts in hand at once
    assert v.loads["G1"] == 3  # ranking counts places being written
    v.cancel("G1", 1)
    assert v.loads["G1"] == 2 and v.reserve("G1", 3) == 1


async def test_confirmed_places_are_told_to_the_other_replicas_and_given_back():
    told = []

    async def announce(unit_id, place, change):
        told.append((unit_id, place, change))

    v = GridView(None, None, None, announce)
    place = v.reserve("G1", 2)
    await v.confirm("G1", place)
    assert v.places["G1"] == {0} and v.loads["G1"] == 1
    await v.note_place("G1", 0, -1)
    assert v.places["G1"] == set() and v.loads["G1"] == 0
    assert told == [("G1", 0, +1), ("G1", 0, -1)]


def test_a_reread_replaces_what_the_replica_believed_but_keeps_its_writes_in_hand():
    v = view()
    v.apply_place("G1", 0, +1)  # announced by another replica
    in_hand = v.reserve("G1", 4)
    v.note_places({"G1": {2, 3}})  # the store: place 0 was given back (announcement missed), 2 and 3 taken
    assert v.places["G1"] == {2, 3} and v.loads["G1"] == 3
    assert in_hand == 1 and v.reserve("G1", 4) == 0
    assert v.reserve("G1", 4) is None
    assert v.reserve("G2", 0) is None  # a unit of no capacity has no place
