"""Name resolution and type checks: every wrong expression fails at compile time."""

from __future__ import annotations

import pytest

from fourin_rules.errors import ERROR_CODES, FourinError, Span
from fourin_rules.expr import (
    RECORD_SCHEMAS,
    REGISTRY,
    Attr,
    BoolOp,
    Call,
    Compare,
    Field,
    ListRef,
    Literal,
    Param,
    Scope,
    Var,
    compile_expr,
    event_record_kind,
)

SCOPE = Scope(
    fields={
        "owner_unit_id": "str",
        "plate": "str",
        "time": "time",
        "km": "number",
        "mcc": "str",
        "merchant_name": "str",
        "alcohol": "bool",
        "passenger_ids": "list[str]",
        "items": "list[record:item]",
        "due": "date",
        "extra": "any",
        "cadre_id": "str",
    },
    variables={"passenger": "str", "a": "record:event:commitment"},
    params={"max_km": "number", "words": "list[str]", "km": "number"},
    lists={"entertainment_mcc": "list[str]", "entertainment_words": "list[str]"},
    macros={
        "grassroots_car": "unit(owner_unit_id).grassroots",
        "far": "km > params.max_km",
        "loop_a": "loop_b and true",
        "loop_b": "not loop_a",
        "self_loop": "self_loop",
        "broken": "nosuch > 1",
    },
    records={
        **RECORD_SCHEMAS,
        event_record_kind("commitment"): {"due": "date", "status": "str", "cadre_id": "str"},
    },
)
SPAN = Span("rules/p.yaml", 7, 9)


def error_of(text: str, expect: str | None = None) -> FourinError:
    with pytest.raises(FourinError) as info:
        compile_expr(text, SCOPE, SPAN, expect=expect)
    assert info.value.code in ERROR_CODES
    return info.value


def test_unknown_field_suggests_the_near_field() -> None:
    err = error_of("unit(owner_unit).grassroots")
    assert err.code == "unknown-field"
    assert err.message == "unknown field 'owner_unit'"
    assert err.suggestion == "did you mean 'owner_unit_id'?"
    assert err.span == Span("rules/p.yaml", 7, 14, len("owner_unit"))


def test_unknown_name_not_like_a_field() -> None:
    err = error_of("entertainment_mc == 1")
    assert err.code == "unknown-name"
    assert err.suggestion == "did you mean 'entertainment_mcc'?"
    assert error_of("zzzz").suggestion is None


def test_record_attribute_is_checked_against_its_schema() -> None:
    err = error_of("unit(owner_unit_id).grassland")
    assert err.code == "unknown-field"
    assert err.suggestion == "did you mean 'grassroots'?"
    assert err.span is not None and err.span.column == 9 + len("unit(owner_unit_id).")
    assert compile_expr("unit(owner_unit_id).grassroots", SCOPE) == Attr(
        Call("unit", (Field("owner_unit_id", "str"),), "record:unit"), "grassroots", "bool"
    )


def test_event_record_variable_attributes() -> None:
    node = compile_expr("a.due < local_date(time)", SCOPE, expect="bool")
    assert node == Compare(
        "<",
        Attr(Var("a", "record:event:commitment"), "due", "date"),
        Call("local_date", (Field("time", "time"),), "date"),
    )
    assert error_of("a.dew").suggestion == "did you mean 'due'?"


def test_attribute_on_a_non_record_is_a_type_error() -> None:
    err = error_of("plate.name == 'x'")
    assert err.code == "expr-type"
    assert "str field 'plate'" in err.message


def test_str_field_compared_with_number() -> None:
    err = error_of("mcc == 5813")
    assert err.code == "expr-type"
    assert err.message == "cannot compare str field 'mcc' with number 5813"
    assert err.span is not None and err.span.column == 9


@pytest.mark.parametrize(
    "text",
    [
        "km > '10'",
        "time > due",
        "alcohol < true",
        "mcc < null",
        "km in passenger_ids",
        "mcc in 5",
        "km + mcc > 1",
        "mcc - 'a' == ''",
        "-mcc == 1",
        "not mcc",
        "mcc and alcohol",
        "(1 if alcohol else 'a') == 1",
        "(1 if mcc else 2) == 1",
        "hour(due) > 1",
        "contains_any(merchant_name, items)",
        "len(km) > 1",
        "coalesce(mcc, 1) == 1",
        "[1, 'a'] == []",
        "unit(km).name == ''",
    ],
)
def test_type_errors(text: str) -> None:
    assert error_of(text).code == "expr-type"


@pytest.mark.parametrize(
    "text",
    [
        "km > 10",
        "mcc == null",
        "null != km",
        "extra > 10",
        "extra == 'x'",
        "extra in passenger_ids",
        "passenger in passenger_ids",
        "mcc in entertainment_mcc",
        "mcc in '5813 7911'",
        "local_date(time) == due",
        "minutes_between(time, time) > 5",
        "duty_day(due) and duty_day(time)",
        "coalesce(km, 0) + 1 > 2",
        "coalesce(null, mcc) == 'a'",
        "intersects(passenger_ids, entertainment_mcc)",
        "len(mcc) > len(passenger_ids)",
        "items_contain(items, ['酒'], ['酒店'])",
        "max(km, 1, 2, 3) == 3",
        "round(km) == 1 and round(km, 2) == 1",
        "passenger_ids == []",
        "[null, 'a'] != entertainment_mcc",
    ],
)
def test_well_typed_expressions_compile(text: str) -> None:
    assert compile_expr(text, SCOPE, expect="bool").type == "bool"


def test_condition_must_be_bool() -> None:
    err = error_of("km + 1", expect="bool")
    assert err.code == "expr-type"
    assert "must be bool" in err.message
    assert compile_expr("km + 1", SCOPE, expect="number").type == "number"


def test_unknown_function_and_arity_and_argument_type() -> None:
    err = error_of("contains(merchant_name, ['x'])")
    assert err.code == "unknown-function"
    assert err.suggestion == "did you mean 'contains_any'?"
    arity = error_of("unit(owner_unit_id, km)")
    assert arity.code == "expr-arity"
    assert arity.message == "'unit' takes 1 argument, 2 given"
    assert (
        error_of("contains_any(merchant_name)").message
        == "'contains_any' takes 2 to 3 arguments, 1 given"
    )
    assert error_of("min(km)").code == "expr-arity"
    arg = error_of("hour(mcc) > 1")
    assert arg.code == "expr-type"
    assert arg.message == "argument 1 of 'hour' must be time, got str field 'mcc'"
    assert arg.span is not None and arg.span.column == 9 + len("hour(")


def test_resolution_order_variables_fields_params() -> None:
    assert compile_expr("passenger", SCOPE) == Var("passenger", "str")
    # A field shadows a parameter of the same name; params.NAME still reaches the parameter.
    assert compile_expr("km", SCOPE) == Field("km", "number")
    assert compile_expr("params.km", SCOPE) == Param("km", "number")
    assert compile_expr("max_km", SCOPE) == Param("max_km", "number")
    assert compile_expr("entertainment_mcc", SCOPE) == ListRef("entertainment_mcc", "list[str]")
    assert compile_expr("true", SCOPE) == Literal(True, "bool")
    assert compile_expr("null", SCOPE) == Literal(None, "null")
    assert compile_expr("False", SCOPE) == Literal(False, "bool")


def test_unknown_param_has_hint() -> None:
    err = error_of("params.max_kms > 1")
    assert err.code == "unknown-name"
    assert err.suggestion == "did you mean 'max_km'?"
    assert err.span is not None and err.span.column == 9 + len("params.")


def test_macros_expand_inline() -> None:
    node = compile_expr("grassroots_car and far", SCOPE, expect="bool")
    assert node == BoolOp(
        "and",
        (
            compile_expr("unit(owner_unit_id).grassroots", SCOPE),
            compile_expr("km > params.max_km", SCOPE),
        ),
    )


def test_macro_cycles_are_reported() -> None:
    err = error_of("alcohol or loop_a")
    assert err.code == "macro-cycle"
    assert "loop_a -> loop_b -> loop_a" in err.message
    assert err.span is not None and err.span.column == 9 + len("alcohol or ")
    assert error_of("self_loop").code == "macro-cycle"


def test_error_inside_macro_points_at_its_use() -> None:
    err = error_of("km > 1 and broken")
    assert err.code == "unknown-name"
    assert err.message == "in macro 'broken': unknown name 'nosuch'"
    assert err.span is not None and err.span.column == 9 + len("km > 1 and ")


def test_chain_becomes_and_of_comparisons() -> None:
    node = compile_expr("1 < km <= 10", SCOPE)
    km = Field("km", "number")
    assert node == BoolOp(
        "and",
        (Compare("<", Literal(1, "number"), km), Compare("<=", km, Literal(10, "number"))),
    )


def test_list_items_must_be_literals() -> None:
    assert error_of("mcc in [plate]").code == "expr-forbidden"
    assert error_of("mcc in ['a', 'b' + 'c']").code == "expr-forbidden"
    node = compile_expr("km in [1, -2, 3.5]", SCOPE)
    assert node.right.type == "list[number]"  # type: ignore[union-attr]


def test_registry_types_are_known_types() -> None:
    for fn in REGISTRY.values():
        assert fn.min_args <= len(fn.arg_types)
        assert callable(fn.impl)
