from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourin_rules.geo import EARTH_RADIUS_KM, haversine_km

lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)


def test_same_point_is_zero() -> None:
    assert haversine_km(30.5, 114.3, 30.5, 114.3) == 0.0


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert haversine_km(30.0, 114.0, 31.0, 114.0) == pytest.approx(111.195, abs=0.01)


def test_beijing_to_shanghai() -> None:
    # Tiananmen to People's Square: about 1067 km on the sphere.
    assert haversine_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1067.3, abs=0.5)


def test_antipodes_are_half_the_circumference() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_small_township_scale_distance() -> None:
    # 0.001 degree of latitude is about 111 m: geofence radii are this small.
    assert haversine_km(30.0, 114.0, 30.001, 114.0) * 1000 == pytest.approx(111.2, abs=0.1)


def test_longitude_wraps_across_the_antimeridian() -> None:
    assert haversine_km(0.0, 179.5, 0.0, -179.5) == pytest.approx(111.195, abs=0.01)


def test_integers_are_accepted() -> None:
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.01)


@pytest.mark.parametrize(
    "args",
    [
        (91.0, 0.0, 0.0, 0.0),
        (0.0, 0.0, -90.5, 0.0),
        (float("nan"), 0.0, 0.0, 0.0),
        (0.0, float("inf"), 0.0, 0.0),
        ("30.1", 114.0, 30.0, 114.0),
        (None, 114.0, 30.0, 114.0),
        (True, 114.0, 30.0, 114.0),
    ],
)
def test_bad_coordinates_raise(args: tuple[object, ...]) -> None:
    with pytest.raises(ValueError):
        haversine_km(*args)  # type: ignore[arg-type]


@given(lat, lon, lat, lon)
def test_symmetric_and_bounded(a: float, b: float, c: float, d: float) -> None:
    there = haversine_km(a, b, c, d)
    back = haversine_km(c, d, a, b)
    assert there == pytest.approx(back, abs=1e-9)
    assert 0.0 <= there <= math.pi * EARTH_RADIUS_KM + 1e-9
