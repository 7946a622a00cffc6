"""Placement: which unit takes an alert, in which of its places, and keeping each replica's picture true.

    view       this replica's picture of the grid, the units' state and their places (`ReplicaView`)
    places     the pure bookkeeping of a unit's places (`UnitPlaces`, `PlaceChange`)
    placing    one alert placed with one write: the best unit that can take it, or the duty desk
    duty_desk  the queue of alerts no unit can take now, offered a place as soon as one frees
    sweep      the rolling re-read of the units' state and places; alerts stranded with a unit handed on
    updates    what replicas tell each other over core NATS, and what they hear

The use cases (`dispatch.handlers`) call down into this package; it never calls back up.
"""
