"""Fast, read-only lookups over reference data for the engine and the rules.

Records come back as plain dicts of the model's fields, built once: the same dict object on every
call, so callers must not change them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import date
from typing import Any

from fourin_rules.geo import haversine_km
from fourin_rules.model.reference import ReferenceData

__all__ = ["ReferenceIndex"]

# One degree of latitude is about 111.2 km everywhere; used to skip far geofences cheaply.
_KM_PER_DEGREE_LAT = 111.19


class ReferenceIndex:
    """Dict lookups by id over :class:`ReferenceData`, plus rosters and geofences.

    ``assignment_at``/``roster``/``dispatched`` treat an assignment as active from ``start`` to
    ``end`` inclusive; an assignment without ``end`` is open-ended.
    """

    def __init__(self, data: ReferenceData) -> None:
        self.data = data
        self.timezone: str = data.timezone
        self._cadres = {c.cadre_id: c.model_dump() for c in data.cadres}
        self._units = {u.unit_id: u.model_dump() for u in data.units}
        self._groups = {g.group_id: g.model_dump() for g in data.groups}
        self._staff = {s.staff_id: s.model_dump() for s in data.staff}
        self._vehicles = {v.plate: v.model_dump() for v in data.vehicles}
        self._assignments = sorted(
            (a.model_dump() for a in data.assignments),
            key=lambda a: (a["cadre_id"], a["start"]),
        )
        self._by_cadre: dict[str, list[dict[str, Any]]] = {}
        for a in self._assignments:
            self._by_cadre.setdefault(a["cadre_id"], []).append(a)
        self._starts = {c: [a["start"] for a in rows] for c, rows in self._by_cadre.items()}
        self._roster_cache: dict[date, tuple[dict[str, Any], ...]] = {}

        staff_by_unit: dict[str, set[str]] = {}
        leaders: dict[str, set[str]] = {}
        for s in self._staff.values():
            unit = self._units.get(s["unit_id"])
            places = {s["unit_id"]}
            if unit is not None and unit["township_id"]:
                places.add(unit["township_id"])
            for place in places:
                staff_by_unit.setdefault(place, set()).add(s["staff_id"])
            if s["leader"]:
                for place in places:
                    if self._township_of(place) == place:
                        leaders.setdefault(place, set()).add(s["staff_id"])
        self._staff_by_unit = {k: frozenset(v) for k, v in staff_by_unit.items()}
        self._leaders = {k: frozenset(v) for k, v in leaders.items()}

        # Geofences in a grid of cells as wide as the largest radius, so township_at looks at
        # the 3 x 3 cells around a point instead of every unit of the county.
        fences = []
        for u in self._units.values():
            township = u["unit_id"] if u["kind"] == "township" else u["township_id"]
            if u["lat"] is None or u["lon"] is None or not township:
                continue
            fences.append((u["lat"], u["lon"], u["radius_m"], u["unit_id"], township))
        self._fences = sorted(fences)
        self._max_radius_km = max((f[2] for f in fences), default=0.0) / 1000.0
        # Degrees of latitude per cell; longitude cells are as many degrees (narrower in km
        # away from the equator, so a radius still fits within one neighbouring cell).
        self._cell = max(self._max_radius_km / _KM_PER_DEGREE_LAT, 1e-6)
        grid: dict[tuple[int, int], list[tuple[float, float, float, str, str]]] = {}
        for fence in self._fences:
            grid.setdefault(self._cell_of(fence[0], fence[1]), []).append(fence)
        self._grid = grid
        self._lon_reach: dict[
            int, int
        ] = {}  # latitude band -> how many longitude cells a radius can span

    def _township_of(self, unit_id: str) -> str | None:
        """The township a unit lies in (itself for a township); a bare id counts as a township."""
        unit = self._units.get(unit_id)
        if unit is None:
            return unit_id
        return unit_id if unit["kind"] == "township" else unit["township_id"]

    def unit(self, unit_id: str) -> dict[str, Any] | None:
        """The unit record, or None."""
        return self._units.get(unit_id)

    def cadre(self, cadre_id: str) -> dict[str, Any] | None:
        """The cadre record, or None."""
        return self._cadres.get(cadre_id)

    def vehicle(self, plate: str) -> dict[str, Any] | None:
        """The vehicle record for a plate, or None."""
        return self._vehicles.get(plate)

    def group(self, group_id: str) -> dict[str, Any] | None:
        """The working group record, or None."""
        return self._groups.get(group_id)

    def staff(self, staff_id: str) -> dict[str, Any] | None:
        """The staff record, or None."""
        return self._staff.get(staff_id)

    def assignment_at(self, cadre_id: str, d: date) -> dict[str, Any] | None:
        """The cadre's assignment active on day ``d`` (start <= d <= end), or None."""
        rows = self._by_cadre.get(cadre_id)
        if not rows:
            return None
        # The latest assignment starting on or before d is the only candidate (they never overlap).
        i = bisect_right(self._starts[cadre_id], d) - 1
        if i < 0:
            return None
        a = rows[i]
        return a if a["end"] is None or d <= a["end"] else None

    def dispatched(self, cadre_id: str, d: date) -> bool:
        """Whether the cadre has an assignment active on day ``d``."""
        return self.assignment_at(cadre_id, d) is not None

    def roster(self, d: date) -> list[dict[str, Any]]:
        """Assignments active on day ``d``, sorted by cadre_id."""
        cached = self._roster_cache.get(d)
        if cached is None:
            cached = tuple(
                a
                for a in self._assignments
                if a["start"] <= d and (a["end"] is None or d <= a["end"])
            )
            if len(self._roster_cache) > 64:  # a stream runs forward: keep memory bounded
                self._roster_cache.clear()
            self._roster_cache[d] = cached
        return list(cached)

    def roster_span(self) -> tuple[date, date] | None:
        """First and last day any assignment is active; the end is ``date.max`` when an
        assignment is open-ended. None without assignments."""
        if not self._assignments:
            return None
        first = min(a["start"] for a in self._assignments)
        ends = [a["end"] for a in self._assignments]
        last = date.max if any(e is None for e in ends) else max(ends)
        return first, last

    def staff_ids(self, unit_id: str) -> frozenset[str]:
        """Staff whose unit is ``unit_id``, or whose unit lies in township ``unit_id``."""
        return self._staff_by_unit.get(unit_id, frozenset())

    def township_leaders(self, township_id: str) -> frozenset[str]:
        """Staff with ``leader: true`` in the township or one of its units."""
        return self._leaders.get(township_id, frozenset())

    def township_at(self, lat: float, lon: float) -> str | None:
        """The township whose geofence holds the point (the nearest unit's, when several do).

        A unit answers its ``township_id``, a township unit its own ``unit_id``. None outside
        every geofence, or for a point that is not a finite coordinate.
        """
        if not (_finite(lat) and _finite(lon)) or not self._fences:
            return None
        row, col = self._cell_of(lat, lon)
        reach = self._lon_cells(row)
        best: tuple[float, str, str] | None = None
        for r in (row - 1, row, row + 1):
            for c in range(col - reach, col + reach + 1):
                for f_lat, f_lon, radius_m, unit_id, township in self._grid.get((r, c), ()):
                    try:
                        metres = haversine_km(lat, lon, f_lat, f_lon) * 1000.0
                    except ValueError:
                        return None
                    if metres <= radius_m and (best is None or (metres, unit_id) < best[:2]):
                        best = (metres, unit_id, township)
        return best[2] if best else None

    def _cell_of(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self._cell), math.floor(lon / self._cell)

    def _lon_cells(self, row: int) -> int:
        """Longitude cells a radius may span at this latitude row (1 near the equator)."""
        reach = self._lon_reach.get(row)
        if reach is None:
            lat = min(abs(row), abs(row + 1)) * self._cell
            shrink = max(math.cos(math.radians(min(lat + self._cell, 89.0))), 1e-3)
            reach = self._lon_reach[row] = math.ceil(1 / shrink)
        return reach

    def cadre_ids(self) -> list[str]:
        """Every cadre id, from ``cadres`` and from ``assignments``, sorted."""
        return sorted(set(self._cadres) | set(self._by_cadre))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
