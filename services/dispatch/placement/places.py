"""A unit's places, as one replica sees them: which it believes held, which it is writing into now.

A unit of capacity c has places 0 … c-1; an alert the unit holds takes one, and a unique index
on the alert's `slot` lets no two alerts take the same place, whichever replica writes. This
picture only proposes a place and counts the load that ranking reads; a stale picture costs a
refused write, never a unit over capacity.

    reserve  the lowest place believed free, kept from this replica's other alerts meanwhile
    settle   the write into a reserved place is over: written, found taken, or not written
    apply    a place taken or given back (by this replica, or as another one announced)
    stamp / reread   what the store says now, unless the unit changed while the read was on its way
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

#: how a write into a reserved place ended: the alert holds it now; another alert held it
#: already (the write was refused); nothing was written (a failure: the place is as it was)
Outcome = Literal["written", "taken", "unwritten"]


@dataclass(frozen=True)
class PlaceChange:
    """A place taken or given back: what replicas tell each other (`dispatch.internal.unit_load`)."""

    unit_id: str
    place: int
    taken: bool


#: unit -> how many changes it had when a re-read began (see `UnitPlaces.stamp`)
Stamp = dict[str, int]


class UnitPlaces:
    def __init__(self) -> None:
        self._held: dict[str, set[int]] = {}
        self._pending: dict[str, set[int]] = {}
        self._changes: dict[str, int] = {}
        #: unit -> places held or being written: what ranking an alert reads (kept, not rebuilt per alert)
        self.loads: dict[str, int] = {}

    def held(self, unit_id: str) -> frozenset[int]:
        return frozenset(self._held.get(unit_id, ()))

    def reserve(self, unit_id: str, capacity: int) -> int | None:
        """The lowest place of the unit believed free, kept from this replica's other alerts until
        `settle`; None if the unit is full."""
        taken = self._held.get(unit_id, set())
        pending = self._pending.setdefault(unit_id, set())
        place = next((k for k in range(capacity) if k not in taken and k not in pending), None)
        if place is not None:
            pending.add(place)
            self._count(unit_id)
        return place

    def settle(self, unit_id: str, place: int, outcome: Outcome) -> PlaceChange | None:
        """The write into a reserved place is over. Returns the change to tell the other replicas
        (a place this replica's alert took), or None."""
        self._pending.get(unit_id, set()).discard(place)
        if outcome == "unwritten":
            self._count(unit_id)
            return None
        change = PlaceChange(unit_id, place, taken=True)
        self.apply(change)  # "taken": held by another alert, not offered again
        return change if outcome == "written" else None

    def apply(self, change: PlaceChange) -> bool:
        """A place taken or given back, here or as another replica announced; True if a place freed."""
        places = self._held.setdefault(change.unit_id, set())
        if change.taken:
            places.add(change.place)
        else:
            places.discard(change.place)
        self._changed(change.unit_id)
        return not change.taken

    def stamp(self, unit_ids: Iterable[str]) -> Stamp:
        """Taken before a re-read of the units' places from the store."""
        return {unit_id: self._changes.get(unit_id, 0) for unit_id in unit_ids}

    def reread(self, held: Mapping[str, set[int]], stamp: Stamp | None = None) -> bool:
        """Every place held in these units, as the store said. A unit whose places changed here since
        `stamp` keeps what it has: the read may predate that change. True if a place freed."""
        freed = False
        for unit_id, places in held.items():
            if stamp is not None and self._changes.get(unit_id, 0) != stamp.get(unit_id, 0):
                continue
            freed = freed or bool(self._held.get(unit_id, set()) - places)
            self._held[unit_id] = set(places)
            self._changed(unit_id)
        return freed

    def _changed(self, unit_id: str) -> None:
        self._changes[unit_id] = self._changes.get(unit_id, 0) + 1
        self._count(unit_id)

    def _count(self, unit_id: str) -> None:
        self.loads[unit_id] = len(self._held.get(unit_id, set()) | self._pending.get(unit_id, set()))
