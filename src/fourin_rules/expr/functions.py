"""The functions an expression may call, with their types, and the :class:`Env` they read.

Every function is null-safe: a null argument gives null (or false for a predicate), never an
exception. Functions that read reference data or the calendar go through the ``env`` object the
engine passes; functions marked ``pure`` ignore it and may be folded at compile time.

Argument types are type strings, ``a|b`` for a choice, ``T`` for "the same type as the other
``T`` arguments" (the return type ``T`` is that type).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Protocol

from fourin_rules.model.types import BOOL, DATE, ITEM, NUMBER, STR, TIME, list_of

__all__ = ["REGISTRY", "Env", "Function"]


class Env(Protocol):
    """What a function may ask the engine: reference data and the duty calendar."""

    def unit(self, unit_id: str) -> dict[str, Any] | None: ...
    def cadre(self, cadre_id: str) -> dict[str, Any] | None: ...
    def vehicle(self, plate: str) -> dict[str, Any] | None: ...
    def group(self, group_id: str) -> dict[str, Any] | None: ...
    def staff(self, staff_id: str) -> dict[str, Any] | None: ...
    def assignment_at(self, cadre_id: str, day: date) -> dict[str, Any] | None: ...
    def staff_ids(self, unit_id: str) -> frozenset[str]: ...
    def township_leaders(self, township_id: str) -> frozenset[str]: ...
    def township_at(self, lat: float, lon: float) -> str | None: ...
    def is_duty_day(self, day: date) -> bool: ...
    def in_work_hours(self, dt: datetime) -> bool: ...
    def local_date(self, dt: datetime) -> date: ...
    def holiday_name(self, day: date) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Function:
    """A registered function: ``impl(env, *args)``; optional arguments come last.

    ``variadic`` repeats the last argument type without bound (``min``/``max``).
    """

    name: str
    arg_types: tuple[str, ...]
    return_type: str
    impl: Callable[..., Any]
    min_args: int
    pure: bool
    variadic: bool = False
    doc: str = ""

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.arg_types)


# --------------------------------------------------------------------------- helpers


def _day(env: Env, t: date) -> date:
    """The local calendar day of a time, or the date itself."""
    return env.local_date(t) if isinstance(t, datetime) else t


# Lower-cased word lists, cached by identity: the same list object comes back for every event.
_LOWERED: dict[int, tuple[object, tuple[str, ...]]] = {}


def _lowered(words: Any, longest_first: bool = False) -> tuple[str, ...]:
    hit = _LOWERED.get(id(words))
    if hit is not None and hit[0] is words and isinstance(words, tuple | frozenset):
        return hit[1]
    out = tuple(w.lower() for w in words if isinstance(w, str) and w)
    if longest_first:
        out = tuple(sorted(out, key=len, reverse=True))
    if isinstance(words, tuple | frozenset):  # immutable: safe to cache by identity
        if len(_LOWERED) > 512:
            _LOWERED.clear()
        _LOWERED[id(words)] = (words, out)
    return out


def _text_hits(text: str, words: Any, exclude: Any) -> bool:
    s = text.lower()
    if exclude:
        for w in _lowered(exclude, longest_first=True):
            # A separator, not "", so removing 酒店 from "A酒店B" cannot join A and B into a word.
            s = s.replace(w, "\x00")
    return any(w in s for w in _lowered(words))


# ---------------------------------------------------------------------- reference data


def _unit(env: Env, unit_id: Any) -> Any:
    return None if unit_id is None else env.unit(unit_id)


def _cadre(env: Env, cadre_id: Any) -> Any:
    return None if cadre_id is None else env.cadre(cadre_id)


def _vehicle(env: Env, plate: Any) -> Any:
    return None if plate is None else env.vehicle(plate)


def _group(env: Env, group_id: Any) -> Any:
    return None if group_id is None else env.group(group_id)


def _staff(env: Env, staff_id: Any) -> Any:
    return None if staff_id is None else env.staff(staff_id)


def _assignment(env: Env, cadre_id: Any, t: Any) -> Any:
    if cadre_id is None or t is None:
        return None
    return env.assignment_at(cadre_id, _day(env, t))


def _dispatched(env: Env, cadre_id: Any, t: Any) -> bool:
    return _assignment(env, cadre_id, t) is not None


def _staff_of(env: Env, unit_id: Any) -> Any:
    return None if unit_id is None else sorted(env.staff_ids(unit_id))


def _leaders_of(env: Env, township_id: Any) -> Any:
    return None if township_id is None else sorted(env.township_leaders(township_id))


def _township_at(env: Env, lat: Any, lon: Any) -> Any:
    return None if lat is None or lon is None else env.township_at(lat, lon)


# --------------------------------------------------------------------------- calendar


def _duty_day(env: Env, t: Any) -> bool:
    return False if t is None else bool(env.is_duty_day(_day(env, t)))


def _work_hours(env: Env, t: Any) -> bool:
    return False if t is None else bool(env.in_work_hours(t))


def _local_date(env: Env, t: Any) -> Any:
    return None if t is None else _day(env, t)


def _holiday(env: Env, t: Any) -> Any:
    return None if t is None else env.holiday_name(_day(env, t))


# Times are stored in the dataset's local zone (ingest converts them), so the wall clock of
# the stored value is the local clock.
def _hour(env: Env, t: Any) -> Any:
    return None if t is None else t.hour


def _minute_of_day(env: Env, t: Any) -> Any:
    return None if t is None else t.hour * 60 + t.minute


def _weekday(env: Env, t: Any) -> Any:
    return None if t is None else t.isoweekday()


def _minutes_between(env: Env, a: Any, b: Any) -> Any:
    """Elapsed minutes. Times of one zone subtract on the wall clock in Python, which across
    a change of the clocks is an hour off: both are taken to UTC first."""
    if a is None or b is None:
        return None
    return (b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() / 60.0


def _date(env: Env, text: Any) -> Any:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _datetime(env: Env, text: Any) -> Any:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Without an offset the instant is unknown here (the dataset's zone is the engine's).
    return dt if dt.utcoffset() is not None else None


# ----------------------------------------------------------------------------- places


_haversine: Callable[[float, float, float, float], float] | None = None


def _distance_km(env: Env, lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    global _haversine
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    if _haversine is None:
        from fourin_rules.geo import haversine_km

        _haversine = haversine_km
    try:
        return _haversine(lat1, lon1, lat2, lon2)
    except ValueError:  # a bad coordinate in the data: no distance
        return None


# ------------------------------------------------------------------------------ texts


def _contains_any(env: Env, text: Any, words: Any, exclude: Any = None) -> bool:
    if text is None or not words:
        return False
    return _text_hits(text, words, exclude)


def _matching_items(items: Any, words: Any, exclude: Any) -> list[Mapping[str, Any]]:
    out = []
    for item in items:
        if isinstance(item, Mapping):
            name = item.get("name")
            if isinstance(name, str) and _text_hits(name, words, exclude):
                out.append(item)
    return out


def _items_contain(env: Env, items: Any, words: Any, exclude: Any = None) -> bool:
    if not items or not words:
        return False
    return bool(_matching_items(items, words, exclude))


def _items_total(env: Env, items: Any, words: Any, exclude: Any = None) -> Any:
    if items is None or words is None:
        return None
    total = 0
    for item in _matching_items(items, words, exclude):
        amount = item.get("amount_cny")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            total += amount
    return total


def _intersects(env: Env, a: Any, b: Any) -> bool:
    if not a or not b:
        return False
    try:
        return not set(a).isdisjoint(b)
    except TypeError:  # unhashable elements: compare one by one
        return any(x in b for x in a)


def _overlap_count(env: Env, a: Any, b: Any) -> Any:
    """How many distinct elements of ``a`` are also in ``b``."""
    if a is None or b is None:
        return None
    try:
        return len(set(a) & set(b))
    except TypeError:
        return sum(1 for x in a if x in b)


def _jaccard(env: Env, a: Any, b: Any) -> Any:
    """|a ∩ b| / |a ∪ b| of two lists taken as sets (null when both are empty)."""
    if a is None or b is None:
        return None
    sa, sb = set(a), set(b)
    common = len(sa & sb)
    union = len(sa) + len(sb) - common  # |a ∪ b|, without building it
    return common / union if union else None


def _target_share(env: Env, group_id: Any, kind: Any) -> Any:
    """The share (0..1) of a group's assigned targets that are of ``kind``."""
    group = env.group(group_id) if group_id is not None else None
    if group is None or kind is None:
        return None
    targets = group.get("targets") or []
    if not targets:
        return 0.0
    return sum(1 for t in targets if t.get("kind") == kind) / len(targets)


def _len(env: Env, x: Any) -> Any:
    return None if x is None else len(x)


def _lower(env: Env, s: Any) -> Any:
    return None if s is None else s.lower()


def _starts_with(env: Env, s: Any, prefix: Any) -> bool:
    return False if s is None or prefix is None else s.startswith(prefix)


def _coalesce(env: Env, a: Any, b: Any) -> Any:
    return b if a is None else a


# ---------------------------------------------------------------------------- numbers


def _abs(env: Env, x: Any) -> Any:
    return None if x is None else abs(x)


def _min(env: Env, *xs: Any) -> Any:
    return None if any(x is None for x in xs) else min(xs)


def _max(env: Env, *xs: Any) -> Any:
    return None if any(x is None for x in xs) else max(xs)


def _round(env: Env, x: Any, ndigits: Any = 0) -> Any:
    """Half away from zero (四舍五入), as auditors expect, not Python's banker's rounding."""
    if x is None:
        return None
    if ndigits is None:
        ndigits = 0
    if isinstance(x, float) and not math.isfinite(x):
        return x
    try:
        exp = Decimal(1).scaleb(-int(ndigits))
        return float(Decimal(str(x)).quantize(exp, rounding=ROUND_HALF_UP))
    except InvalidOperation:  # far too many digits asked for: the number is already exact
        return float(x)


# ----------------------------------------------------------------------------- table

_LSTR = list_of(STR)
_ANYLIST = "list[any]"


def _fn(
    name: str,
    args: tuple[str, ...],
    ret: str,
    impl: Callable[..., Any],
    *,
    min_args: int | None = None,
    pure: bool = False,
    variadic: bool = False,
) -> Function:
    doc = (impl.__doc__ or "").strip()
    n = len(args) if min_args is None else min_args
    return Function(name, args, ret, impl, n, pure, variadic, doc)


_TABLE = (
    _fn("unit", (STR,), "record:unit", _unit),
    _fn("cadre", (STR,), "record:cadre", _cadre),
    _fn("vehicle", (STR,), "record:vehicle", _vehicle),
    _fn("group", (STR,), "record:group", _group),
    _fn("staff", (STR,), "record:staff", _staff),
    _fn("assignment", (STR, "time|date"), "record:assignment", _assignment),
    _fn("dispatched", (STR, "time|date"), BOOL, _dispatched),
    _fn("staff_of", (STR,), _LSTR, _staff_of),
    _fn("leaders_of", (STR,), _LSTR, _leaders_of),
    _fn("township_at", (NUMBER, NUMBER), STR, _township_at),
    _fn("duty_day", ("time|date",), BOOL, _duty_day),
    _fn("work_hours", (TIME,), BOOL, _work_hours),
    _fn("local_date", ("time|date",), DATE, _local_date),
    _fn("holiday", ("time|date",), STR, _holiday),
    _fn("hour", (TIME,), NUMBER, _hour, pure=True),
    _fn("minute_of_day", (TIME,), NUMBER, _minute_of_day, pure=True),
    _fn("weekday", ("time|date",), NUMBER, _weekday, pure=True),
    _fn("minutes_between", (TIME, TIME), NUMBER, _minutes_between, pure=True),
    _fn("date", (STR,), DATE, _date, pure=True),
    _fn("datetime", (STR,), TIME, _datetime, pure=True),
    _fn("distance_km", (NUMBER, NUMBER, NUMBER, NUMBER), NUMBER, _distance_km, pure=True),
    _fn("contains_any", (STR, _LSTR, _LSTR), BOOL, _contains_any, min_args=2, pure=True),
    _fn(
        "items_contain", (list_of(ITEM), _LSTR, _LSTR), BOOL, _items_contain, min_args=2, pure=True
    ),
    _fn("items_total", (list_of(ITEM), _LSTR, _LSTR), NUMBER, _items_total, min_args=2, pure=True),
    _fn("intersects", (_ANYLIST, _ANYLIST), BOOL, _intersects, pure=True),
    _fn("overlap_count", (_ANYLIST, _ANYLIST), NUMBER, _overlap_count, pure=True),
    _fn("jaccard", (_ANYLIST, _ANYLIST), NUMBER, _jaccard, pure=True),
    _fn("target_share", (STR, STR), NUMBER, _target_share),
    _fn("len", (f"{_ANYLIST}|{STR}",), NUMBER, _len, pure=True),
    _fn("lower", (STR,), STR, _lower, pure=True),
    _fn("starts_with", (STR, STR), BOOL, _starts_with, pure=True),
    _fn("coalesce", ("T", "T"), "T", _coalesce, pure=True),
    _fn("abs", (NUMBER,), NUMBER, _abs, pure=True),
    _fn("min", (NUMBER, NUMBER), NUMBER, _min, pure=True, variadic=True),
    _fn("max", (NUMBER, NUMBER), NUMBER, _max, pure=True, variadic=True),
    _fn("round", (NUMBER, NUMBER), NUMBER, _round, min_args=1, pure=True),
)

#: Every callable function by name.
REGISTRY: Mapping[str, Function] = MappingProxyType({f.name: f for f in _TABLE})
