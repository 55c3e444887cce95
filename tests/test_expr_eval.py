"""Evaluation: null semantics, functions over a fake env, folding, closures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from fourin_rules.expr import (
    BoolOp,
    Compare,
    EvalContext,
    Field,
    Literal,
    Scope,
    compile_expr,
    compile_predicate,
    evaluate,
    fold,
    to_source,
)

CST = timezone(timedelta(hours=8))


class FakeEnv:
    """A tiny reference world: two units, one cadre dispatched in March 2026."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def unit(self, unit_id: str) -> dict[str, Any] | None:
        units = {
            "U-TS": {"unit_id": "U-TS", "name": "青山镇政府", "grassroots": True},
            "U-CTY": {"unit_id": "U-CTY", "name": "县农业局", "grassroots": False},
        }
        return units.get(unit_id)

    def cadre(self, cadre_id: str) -> dict[str, Any] | None:
        return {"cadre_id": "C1", "name": "张三"} if cadre_id == "C1" else None

    def vehicle(self, plate: str) -> dict[str, Any] | None:
        return {"plate": plate, "owner_unit_id": "U-TS"} if plate == "浙A1" else None

    def group(self, group_id: str) -> dict[str, Any] | None:
        return None

    def staff(self, staff_id: str) -> dict[str, Any] | None:
        return None

    def assignment_at(self, cadre_id: str, day: date) -> dict[str, Any] | None:
        self.calls.append(f"assignment_at {cadre_id} {day}")
        if cadre_id == "C1" and date(2026, 3, 1) <= day <= date(2026, 3, 31):
            return {"cadre_id": "C1", "township_id": "T1"}
        return None

    def staff_ids(self, unit_id: str) -> frozenset[str]:
        return frozenset({"S2", "S1"}) if unit_id == "U-TS" else frozenset()

    def township_leaders(self, township_id: str) -> frozenset[str]:
        return frozenset({"L1"})

    def township_at(self, lat: float, lon: float) -> str | None:
        return "T1" if lat > 30 else None

    def is_duty_day(self, day: date) -> bool:
        return day.isoweekday() < 6

    def in_work_hours(self, dt: datetime) -> bool:
        return 9 <= dt.hour < 17

    def local_date(self, dt: datetime) -> date:
        return dt.astimezone(CST).date()

    def holiday_name(self, day: date) -> str | None:
        return "清明节" if day == date(2026, 4, 5) else None


SCOPE = Scope(
    fields={
        "owner_unit_id": "str",
        "plate": "str",
        "time": "time",
        "end": "time",
        "km": "number",
        "mcc": "str",
        "merchant_name": "str",
        "alcohol": "bool",
        "passenger_ids": "list[str]",
        "items": "list[record:item]",
        "lat": "number",
        "lon": "number",
        "end_lat": "number",
        "end_lon": "number",
        "extra": "any",
        "cadre_id": "str",
    },
    variables={"passenger": "str"},
    params={"max_km": "number", "limit_day": "date"},
    lists={"entertainment_mcc": "list[str]", "entertainment_words": "list[str]"},
)
ENV = FakeEnv()
T = datetime(2026, 3, 10, 20, 30, tzinfo=CST)  # a Tuesday evening


def run(text: str, event: dict[str, Any] | None = None, **kw: Any) -> Any:
    node = compile_expr(text, SCOPE)
    ctx = EvalContext(event=event or {}, env=kw.pop("env", ENV), **kw)
    return evaluate(node, ctx)


# --------------------------------------------------------------------------- nulls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("km == null", True),
        ("km != null", False),
        ("km == 1", False),
        ("km != 1", True),
        ("km > 1", False),
        ("km <= 1", False),
        ("1 < km", False),
        ("mcc in entertainment_mcc", False),
        ("mcc not in entertainment_mcc", True),
        ("mcc in 'abc'", False),
        ("alcohol", None),
        ("not alcohol", True),
        ("alcohol and true", False),
        ("alcohol or true", True),
        ("alcohol or false", False),
        ("km + 1", None),
        ("-km", None),
        ("unit(owner_unit_id).grassroots", None),
        ("unit(owner_unit_id).grassroots and true", False),
        ("dispatched(cadre_id, time)", False),
        ("contains_any(merchant_name, ['酒'])", False),
        ("hour(time)", None),
        ("distance_km(lat, lon, 30, 120)", None),
        ("len(passenger_ids)", None),
        ("coalesce(km, 7)", 7),
        ("1 if alcohol else 2", 2),
    ],
)
def test_missing_fields_are_null(text: str, expected: Any) -> None:
    assert run(text, {}, lists={"entertainment_mcc": ["5813"]}) == expected


def test_null_equals_null_and_list_membership() -> None:
    assert run("mcc == plate", {}) is True
    assert run("mcc in entertainment_mcc", {"mcc": "5813"}, lists={"entertainment_mcc": ["5813"]})
    assert run("mcc in ['5813', '7911']", {"mcc": "7911"}) is True
    assert run("mcc not in ['5813', '7911']", {"mcc": "5411"}) is True
    assert run("mcc in entertainment_mcc", {"mcc": "5813"}) is False  # list not supplied: null


def test_any_field_of_the_wrong_runtime_type_gives_false_not_an_error() -> None:
    assert run("extra > 10", {"extra": "9"}) is False
    assert run("extra < 10", {"extra": "abc"}) is False
    assert run("extra == 10", {"extra": "10"}) is False
    assert run("extra > 10", {"extra": 11}) is True
    assert run("extra + 1", {"extra": "x"}) is None
    assert run("contains_any(extra, ['a'])", {"extra": 5}) is False
    assert run("extra.name", {"extra": {"name": "x"}}) == "x"
    assert run("extra.name", {"extra": "a str"}) is None
    assert run("extra in passenger_ids", {"extra": [1], "passenger_ids": ["a"]}) is False


def test_division_by_zero_is_null() -> None:
    assert run("km / 0", {"km": 5}) is None
    assert run("km / 2", {"km": 5}) == 2.5


def test_and_or_short_circuit_and_registry_bugs_propagate() -> None:
    class Broken(FakeEnv):
        def unit(self, unit_id: str) -> dict[str, Any] | None:
            raise RuntimeError("bug in reference lookup")

    env = Broken()
    ev = {"owner_unit_id": "U-TS"}
    assert run("km > 1 and unit(owner_unit_id).grassroots", {**ev, "km": 0}, env=env) is False
    assert run("km > 1 or unit(owner_unit_id).grassroots", {**ev, "km": 5}, env=env) is True
    with pytest.raises(RuntimeError, match="bug in reference lookup"):
        run("km > 1 and unit(owner_unit_id).grassroots", {**ev, "km": 5}, env=env)


# ------------------------------------------------------------------------ functions


def test_reference_functions() -> None:
    ev = {"owner_unit_id": "U-TS", "cadre_id": "C1", "time": T, "plate": "浙A1"}
    assert run("unit(owner_unit_id).grassroots", ev) is True
    assert run("unit(owner_unit_id).name", ev) == "青山镇政府"
    assert run("unit('nope').name", ev) is None
    assert run("cadre(cadre_id).name", ev) == "张三"
    assert run("vehicle(plate).owner_unit_id", ev) == "U-TS"
    assert run("dispatched(cadre_id, time)", ev) is True
    assert run("assignment(cadre_id, time).township_id", ev) == "T1"
    assert (
        run("dispatched(cadre_id, time)", {**ev, "time": datetime(2026, 4, 1, 9, tzinfo=CST)})
        is False
    )
    assert run("staff_of(owner_unit_id)", ev) == ["S1", "S2"]
    assert run("leaders_of('T1')", ev) == ["L1"]
    assert run("township_at(30.5, 120)", ev) == "T1"


def test_assignment_uses_the_local_date() -> None:
    env = FakeEnv()
    utc_late = datetime(2026, 2, 28, 17, 0, tzinfo=UTC)  # 01:00 on 1 March in China
    assert run("dispatched(cadre_id, time)", {"cadre_id": "C1", "time": utc_late}, env=env)
    assert env.calls == ["assignment_at C1 2026-03-01"]


def test_calendar_and_clock_functions() -> None:
    ev = {"time": T, "end": T + timedelta(minutes=95)}
    assert run("duty_day(time)", ev) is True
    assert run("duty_day(local_date(time))", ev) is True
    assert run("work_hours(time)", ev) is False
    assert run("local_date(time)", ev) == date(2026, 3, 10)
    assert run("hour(time)", ev) == 20
    assert run("minute_of_day(time)", ev) == 20 * 60 + 30
    assert run("weekday(time)", ev) == 2
    assert run("minutes_between(time, end)", ev) == 95
    assert run("holiday(time)", ev) is None
    assert run("holiday(date('2026-04-05'))", ev) == "清明节"
    assert run("date('2026-03-10') == local_date(time)", ev) is True
    assert run("datetime('2026-03-10T20:30:00+08:00') == time", ev) is True
    assert run("date('garbage')", ev) is None


def test_contains_any_is_case_insensitive_and_honours_exclude() -> None:
    f = "contains_any(merchant_name, ['酒', 'KTV'], ['酒店'])"
    assert run(f, {"merchant_name": "金樽酒楼"}) is True
    assert run(f, {"merchant_name": "如家酒店"}) is False
    assert run(f, {"merchant_name": "如家酒店 白酒专卖"}) is True
    assert run(f, {"merchant_name": "星光ktv"}) is True
    # Removing an excluded word must not join its neighbours into a new hit.
    assert run("contains_any(merchant_name, ['kv'], ['tv'])", {"merchant_name": "ktvv"}) is False
    assert run("contains_any(merchant_name, [])", {"merchant_name": "x"}) is False
    assert run("contains_any(merchant_name, [''])", {"merchant_name": "x"}) is False


def test_items_functions() -> None:
    items = [
        {"name": "茅台酒", "amount_cny": 1200},
        {"name": "酒店住宿", "amount_cny": 300},
        {"name": "香烟", "amount_cny": 80.5},
        {"name": "餐费"},
    ]
    ev = {"items": items}
    assert run("items_contain(items, ['酒'], ['酒店'])", ev) is True
    assert run("items_contain(items, ['啤酒'])", ev) is False
    assert run("items_total(items, ['酒', '烟'], ['酒店'])", ev) == 1280.5
    assert run("items_total(items, ['酒'])", ev) == 1500
    assert run("items_total(items, ['餐'])", ev) == 0
    assert run("items_total(items, ['酒'])", {}) is None


def test_distance_km() -> None:
    ev = {"lat": 39.9042, "lon": 116.4074, "end_lat": 31.2304, "end_lon": 121.4737}
    assert run("distance_km(lat, lon, end_lat, end_lon)", ev) == pytest.approx(1067.3, abs=0.1)
    assert run("distance_km(lat, lon, lat, lon)", ev) == 0
    assert run("distance_km(lat, lon, end_lat, end_lon)", {**ev, "lat": 95.0}) is None


def test_list_and_text_and_number_functions() -> None:
    ev = {"passenger_ids": ["C1", "C2"], "plate": "浙A12345", "km": -2.5}
    assert run("intersects(passenger_ids, ['C2', 'C9'])", ev) is True
    assert run("intersects(passenger_ids, ['C9'])", ev) is False
    assert run("intersects(passenger_ids, [])", ev) is False
    assert run("len(passenger_ids) + len(plate)", ev) == 2 + 7
    assert run("lower('ABC')", ev) == "abc"
    assert run("starts_with(plate, '浙A')", ev) is True
    assert run("abs(km)", ev) == 2.5
    assert run("min(km, 1, -7)", ev) == -7
    assert run("max(km, 1)", ev) == 1
    assert run("round(2.5)", ev) == 3
    assert run("round(2.675, 2)", ev) == 2.68
    assert run("round(km)", ev) == -3
    assert run("'x' + plate", ev) == "x浙A12345"


# --------------------------------------------------------------------------- folding


def test_fold_substitutes_params_and_lists() -> None:
    node = compile_expr("km > params.max_km and mcc in entertainment_mcc", SCOPE)
    folded = fold(node, {"max_km": 50}, {"entertainment_mcc": ["5813", "7911"]})
    assert to_source(folded) == 'km > 50 and mcc in ["5813", "7911"]'
    assert evaluate(folded, EvalContext({"km": 60, "mcc": "7911"}, ENV)) is True
    assert evaluate(folded, EvalContext({"km": 60, "mcc": "5411"}, ENV)) is False


def test_fold_computes_constants_and_prunes_booleans() -> None:
    def f(text: str, **params: Any) -> str:
        return to_source(fold(compile_expr(text, SCOPE), params, {}))

    assert f("params.max_km * 2 + 1 > km", max_km=10) == "21 > km"
    assert f("km > 1 and params.max_km > 100", max_km=10) == "false"
    assert f("km > 1 or params.max_km > 1", max_km=10) == "true"
    assert f("km > 1 and params.max_km > 1", max_km=10) == "km > 1"
    assert f("alcohol and params.max_km > 1", max_km=10) == "alcohol"
    assert f("extra and true") == "extra and true"  # "any" stays wrapped in a bool result
    assert f("not (params.max_km > 1)", max_km=10) == "false"
    assert f("contains_any('酒楼', ['酒'])") == "true"
    assert f("distance_km(0, 0, 0, 0) == 0") == "true"
    assert f("hour(time) > 1 if params.max_km > 1 else false", max_km=10) == "hour(time) > 1"
    # Functions that read reference data are never folded.
    assert f("unit('U-TS').grassroots") == 'unit("U-TS").grassroots'
    assert f("local_date(time) < params.limit_day", limit_day="2026-03-01") == (
        'local_date(time) < date("2026-03-01")'
    )


def test_fold_keeps_unbound_params() -> None:
    node = compile_expr("km > params.max_km", SCOPE)
    assert fold(node, {}, {}) == node


def test_folded_tree_means_the_same() -> None:
    text = "(km > params.max_km) == (mcc in entertainment_mcc) or km * 0 == 1"
    node = compile_expr(text, SCOPE)
    params, lists = {"max_km": 3}, {"entertainment_mcc": ["a"]}
    folded = fold(node, params, lists)
    for ev in ({"km": 5, "mcc": "a"}, {"km": 1, "mcc": "a"}, {"km": 5}, {}):
        slow = evaluate(node, EvalContext(ev, ENV, params=params, lists=lists))
        assert evaluate(folded, EvalContext(ev, ENV)) == slow


# ------------------------------------------------------------------------- closures


def test_compile_predicate_is_reusable_and_matches_evaluate() -> None:
    node = compile_expr(
        "unit(owner_unit_id).grassroots and dispatched(passenger, time) and not "
        "(mcc in entertainment_mcc or contains_any(merchant_name, entertainment_words))",
        SCOPE,
    )
    pred = compile_predicate(node)
    lists = {"entertainment_mcc": ("5813",), "entertainment_words": ("KTV", "酒吧")}
    base = {"owner_unit_id": "U-TS", "time": T, "mcc": "5411", "merchant_name": "农家饭店"}
    cases = [
        (base, True),
        ({**base, "mcc": "5813"}, False),
        ({**base, "merchant_name": "欢乐ktv"}, False),
        ({**base, "owner_unit_id": "U-CTY"}, False),
    ]
    for event, expected in cases:
        ctx = EvalContext(event, ENV, variables={"passenger": "C1"}, lists=lists)
        assert pred(ctx) is expected
        assert evaluate(node, ctx) is expected
    ctx = EvalContext(base, ENV, variables={"passenger": "C9"}, lists=lists)
    assert pred(ctx) is False


def test_hand_built_tree_evaluates() -> None:
    node = BoolOp(
        "or", (Compare("==", Field("a", "str"), Literal("x", "str")), Literal(None, "null"))
    )
    assert evaluate(node, EvalContext({"a": "x"}, ENV)) is True
    assert evaluate(node, EvalContext({}, ENV)) is False
    with pytest.raises(TypeError):
        compile_predicate("km > 1")  # type: ignore[arg-type]
