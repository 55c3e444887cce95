"""Great-circle distances between WGS-84 points (check-ins, geofences, trip ends)."""

from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_KM", "haversine_km"]

#: Mean earth radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in decimal degrees.

    Raises:
        ValueError: a coordinate is not a finite number, or a latitude is outside -90..90.

    >>> round(haversine_km(39.9042, 116.4074, 31.2304, 121.4737), 1)  # Beijing - Shanghai
    1067.3
    """
    for name, value in (("lat1", lat1), ("lon1", lon1), ("lat2", lat2), ("lon2", lon2)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} is not a number: {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} is not finite: {value!r}")
    for name, value in (("lat1", lat1), ("lat2", lat2)):
        if not -90.0 <= value <= 90.0:
            raise ValueError(f"{name} is outside -90..90: {value!r}")
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # Rounding can push a a hair above 1 for antipodal points; asin would then fail.
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))
