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


def test_a_place_found_taken_is_not_offered_again():
    v = view()
    place = v.reserve("G1", 2)
    v.taken_elsewhere("G1", place)
    assert v.places["G1"] == {0} and v.reserve("G1", 2) == 1 and v.reserve("G1", 2) is None


class _SlowStore:
    """Answers a places read with what the store held when the read began; meanwhile `during` runs."""

    def __init__(self, held, during):
        self.held, self.during = held, during

    async def places(self, unit_ids):
        answer = {u: set(self.held.get(u, ())) for u in unit_ids}
        self.during()
        return answer


async def test_a_reread_that_crossed_a_change_of_the_unit_leaves_the_unit_as_it_is():
    store = _SlowStore({"G1": {0}, "G2": {0, 1}}, during=None)
    v = GridView(None, None, store)
    v.apply_place("G1", 0, +1)
    v.apply_place("G2", 0, +1)
    # the read sees G1's place 0 held; G1 gives it back while the read is on its way
    store.during = lambda: v.apply_place("G1", 0, -1)
    await v.refresh_places(["G1", "G2"])
    assert v.places["G1"] == set()  # not taken again by the older read
    assert v.places["G2"] == {0, 1}  # what the read brings for a unit that did not change here


def test_room_counts_the_free_places_of_available_units_and_a_freed_place_rings():
    from shapely.geometry import box

    from dispatch.adapters.store import UnitState
    from dispatch.domain.grid import Grid, GridUnit

    rings = []
    v = view()
    v.on_freed = lambda: rings.append(1)
    v.grid = Grid([GridUnit(f"G{k}", f"unit {k}", box(k, 0, k + 1, 1), (k + 0.5, 0.5), ("a", "b", "c"), capacity=2)
                   for k in (1, 2)])
    assert v.room() == 4
    v.apply_place("G1", 0, +1)
    v.reserve("G1", 2)  # a place being written counts as taken
    assert v.room() == 2 and rings == []
    v.note_states({"G2": UnitState("G2", "busy", 2, ("a", "b", "c"), False)})
    assert v.room() == 0 and rings == []
    v.note_states({"G2": UnitState("G2", "busy", 2, ("a", "b", "c"), False)})  # nothing new
    v.note_states({"G2": UnitState("G2", "available", 2, ("a", "b", "c"), False)})
    assert v.room() == 2 and rings == [1]
    v.apply_place("G1", 0, -1)  # given back, here or by another replica
    assert v.room() == 3 and rings == [1, 1]
    v.apply_place("G2", 0, +1)
    v.note_places({"G2": {0}})  # a re-read that frees nothing
    v.note_places({"G2": set()})  # a re-read that finds a place given back
    assert rings == [1, 1, 1]
    v.note_states({"G2": UnitState("G2", "available", 2, ("a", "b", "c"), True)})  # retired: off duty
    assert v.room() == 1
