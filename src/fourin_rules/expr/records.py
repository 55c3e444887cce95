"""The record kinds built into the expression language (reference data and event records).

Attributes of a record value (``unit(x).grassroots``, ``assignment.township_id``) are checked
against these schemas when an expression is compiled. Event records (``record:event:<type>``) are
added by the caller through :attr:`fourin_rules.expr.Scope.records`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fourin_rules.model.types import BOOL, DATE, NUMBER, STR

__all__ = ["RECORD_SCHEMAS", "event_record_kind"]

RECORD_SCHEMAS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "unit": MappingProxyType(
            {
                "unit_id": STR,
                "name": STR,
                "kind": STR,
                "grassroots": BOOL,
                "township_id": STR,
                "lat": NUMBER,
                "lon": NUMBER,
                "radius_m": NUMBER,
            }
        ),
        "cadre": MappingProxyType(
            {
                "cadre_id": STR,
                "name": STR,
                "home_unit_id": STR,
                "rank": STR,
                "home_lat": NUMBER,
                "home_lon": NUMBER,
                "hometown": STR,
            }
        ),
        "assignment": MappingProxyType(
            {"cadre_id": STR, "group_id": STR, "township_id": STR, "start": DATE, "end": DATE}
        ),
        "vehicle": MappingProxyType({"plate": STR, "owner_unit_id": STR}),
        "group": MappingProxyType({"group_id": STR, "name": STR, "leader_id": STR}),
        "staff": MappingProxyType({"staff_id": STR, "name": STR, "unit_id": STR, "leader": BOOL}),
        "item": MappingProxyType({"name": STR, "amount_cny": NUMBER}),
        "role_holder": MappingProxyType({"cadre_id": STR, "role": STR}),
    }
)


def event_record_kind(event_type: str) -> str:
    """The record kind of a bound event: ``event_record_kind("leave") == "event:leave"``."""
    return f"event:{event_type}"
