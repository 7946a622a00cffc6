"""Distances on the earth, in metres."""

from __future__ import annotations

from math import asin, cos, inf, pi, radians, sin, sqrt

EARTH_RADIUS_M = 6371008.8  # IUGG mean radius
METRES_PER_DEGREE = EARTH_RADIUS_M * pi / 180


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = radians(lat1), radians(lat2)
    h = sin((phi2 - phi1) / 2) ** 2 + cos(phi1) * cos(phi2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))


def unit_vector(lon: float, lat: float) -> tuple[float, float, float]:
    """The point on the unit sphere: the straight chord between two of them orders pairs as the great circle does."""
    phi, lam = radians(lat), radians(lon)
    return cos(phi) * cos(lam), cos(phi) * sin(lam), sin(phi)


def chord2_from_m(distance_m: float) -> float:
    """Squared unit-sphere chord of a great-circle distance (inf past the antipode)."""
    if distance_m >= pi * EARTH_RADIUS_M:
        return inf
    return 4 * sin(distance_m / (2 * EARTH_RADIUS_M)) ** 2


def m_from_chord2(chord2: float) -> float:
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(chord2) / 2))
