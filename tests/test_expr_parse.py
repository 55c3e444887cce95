"""Parsing: the whitelist, positions of errors, limits, and source/JSON round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourin_rules.errors import FourinError, Span
from fourin_rules.expr import (
    Scope,
    compile_expr,
    from_json,
    parse_expr,
    to_json,
    to_source,
    walk,
)

SCOPE = Scope(
    fields={
        "owner_unit_id": "str",
        "plate": "str",
        "time": "time",
        "end": "time",
        "km": "number",
        "mcc": "str",
        "merchant_name": "str",
        "amount_cny": "number",
        "alcohol": "bool",
        "passenger_ids": "list[str]",
        "items": "list[record:item]",
        "lat": "number",
        "lon": "number",
        "extra": "any",
    },
    variables={"passenger": "str"},
    params={"max_km": "number", "words": "list[str]"},
    lists={"entertainment_mcc": "list[str]", "entertainment_words": "list[str]"},
)
SPAN = Span("rules/p.yaml", 42, 11)


def error_of(text: str, scope: Scope = SCOPE) -> FourinError:
    with pytest.raises(FourinError) as info:
        compile_expr(text, scope, SPAN)
    return info.value


@pytest.mark.parametrize(
    ("text", "code", "column"),
    [
        ("__import__('os')", "unknown-function", 1),
        ("().__class__", "expr-forbidden", 4),
        ("plate.__dict__", "expr-forbidden", 7),
        ("lambda: 1", "expr-forbidden", 1),
        ("[a for a in b]", "expr-forbidden", 1),
        ("any(p in s for p in x)", "expr-forbidden", 4),
        ("items[0]", "expr-forbidden", 1),
        ('f"{plate}"', "expr-forbidden", 1),
        ("{'a': 1}", "expr-forbidden", 1),
        ("{1, 2}", "expr-forbidden", 1),
        ("(y := 1)", "expr-forbidden", 2),
        ("km ** 2 > 1", "expr-forbidden", 1),
        ("km % 2 == 0", "expr-forbidden", 1),
        ("plate is None", "expr-forbidden", 1),
        ("_x == 1", "expr-forbidden", 1),
        ("len(*passenger_ids)", "expr-forbidden", 5),
        ("lower(s=plate)", "expr-forbidden", 7),
        ("plate.lower()", "expr-forbidden", 1),
        ("b'x' == plate", "expr-forbidden", 1),
        ("1j == km", "expr-forbidden", 1),
        ("(1, 2)", "expr-forbidden", 1),
        ("km == 1 and await x", "expr-forbidden", 13),
        ("plate ==", "expr-syntax", 9),
        ("km +* 2", "expr-syntax", 5),
        ("", "expr-syntax", 1),
        ("km) or (km", "expr-syntax", 3),
        ("km > (1 + max(2, 3)", "expr-syntax", 6),
        ("km > 1 and 'abc", "expr-syntax", 12),
    ],
)
def test_rejections_carry_code_and_column(text: str, code: str, column: int) -> None:
    err = error_of(text)
    assert err.code == code, err.render()
    assert err.span is not None
    assert (err.span.path, err.span.line, err.span.column) == ("rules/p.yaml", 42, 10 + column)


def test_dunder_call_is_unknown_function_without_dunder_hint() -> None:
    err = error_of("__import__('os')")
    assert err.message == "unknown function '__import__'"
    assert err.suggestion is None


def test_forbidden_messages_name_the_construct() -> None:
    assert "lambda" in error_of("lambda: 1").message
    assert "generator expression" in error_of("any(p in s for p in x)").message
    assert "'__class__'" in error_of("().__class__").message
    assert "f-string" in error_of('f"{plate}"').message
    assert "keyword argument" in error_of("lower(s=plate)").message


def test_depth_bomb_is_forbidden_not_a_crash() -> None:
    err = error_of("(" * 200 + "km" + ")" * 200 + " > 1")
    assert err.code == "expr-forbidden"
    assert "too deep" in err.message
    assert err.span is not None and err.span.column == 10 + 65  # the 65th bracket


def test_deep_operator_chain_is_forbidden() -> None:
    assert error_of("not " * 70 + "alcohol").code == "expr-forbidden"
    assert "too deep" in error_of(" + ".join(["km"] * 80) + " > 1").message


def test_too_long_is_forbidden() -> None:
    err = error_of("km == 1 or " * 1000 + "km == 2")
    assert err.code == "expr-forbidden"
    assert "too long" in err.message


def test_nesting_inside_limit_is_fine() -> None:
    node = compile_expr("(" * 60 + "km" + ")" * 60 + " > 1", SCOPE)
    assert to_source(node) == "km > 1"


def test_brackets_inside_strings_do_not_count() -> None:
    node = compile_expr("plate == '((((' + \"]]]\"", SCOPE)
    assert to_source(node) == 'plate == "((((" + "]]]"'


def test_multiline_expression_points_at_the_right_line() -> None:
    text = "unit(owner_unit_id).grassroots\nand km > 1\nand nosuch"
    err = error_of(text)
    assert err.code == "unknown-name"
    assert err.span is not None
    assert (err.span.line, err.span.column) == (44, 11 + 4)


def test_column_counts_characters_not_bytes() -> None:
    text = "merchant_name == '酒店酒店' and nosuch"
    err = error_of(text)
    assert err.span is not None
    assert err.span.column == 10 + text.index("nosuch") + 1 == 39
    assert err.span.length == len("nosuch")


def test_syntax_error_at_end_points_after_the_text() -> None:
    err = error_of("km > 1 and")
    assert err.code == "expr-syntax"
    assert err.span is not None and err.span.column == 10 + 11


def test_error_without_span_shows_source_line() -> None:
    with pytest.raises(FourinError) as info:
        compile_expr("km > 1 and owner_unit", SCOPE)
    rendered = info.value.render()
    assert "<expr>:1:12: error[unknown-field]" in rendered
    assert "km > 1 and owner_unit\n" in rendered
    assert "           ^^^^^^^^^^" in rendered
    assert "hint: did you mean 'owner_unit_id'?" in rendered


def test_parse_expr_returns_python_tree_only_after_whitelist() -> None:
    body, src = parse_expr("km > 1", SPAN)
    assert type(body).__name__ == "Compare"
    assert src.span == SPAN


ROUND_TRIP = [
    "km > 1",
    "unit(owner_unit_id).grassroots and dispatched(passenger, time) and not "
    "(mcc in entertainment_mcc or contains_any(merchant_name, entertainment_words))",
    "1 < km < 10",
    "km > 1 and (alcohol or km < 0)",
    "(km > 1 and alcohol) and km < 5",
    "not not alcohol",
    "-km + 2 * (km - 3) / 4 > -1.5",
    "km - (km - 1) == 0",
    '"a" + plate + "b" != "x"',
    "(km if alcohol else 2) > 1 if km > 0 else false",
    "km if alcohol else km if km > 1 else null",
    "mcc not in ['5813', '7911'] and plate in \"京A\"",
    "params.max_km < distance_km(lat, lon, 30.5, 120.1)",
    "hour(time) >= 22 or minute_of_day(end) < 6 * 60",
    "items_total(items, params.words, ['酒店']) > 0",
    "(1 < km) == alcohol",
    "coalesce(extra, 1) == 1 and extra.x == true",
    "len([]) == 0 and [1, -2.5] != [1]",
    "km == 1e+20 or km == 0.1 or km == -3",
    'merchant_name == "tab\\tquote\\"中文"',
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_to_source_round_trips(text: str) -> None:
    node = compile_expr(text, SCOPE)
    printed = to_source(node)
    assert compile_expr(printed, SCOPE) == node
    assert to_source(compile_expr(printed, SCOPE)) == printed


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_json_round_trips(text: str) -> None:
    node = compile_expr(text, SCOPE)
    assert from_json(to_json(node)) == node


def test_from_json_refuses_names_the_compiler_would_reject() -> None:
    bad = {
        "node": "Attr",
        "obj": {"node": "Field", "name": "plate", "type": "str"},
        "name": "__class__",
        "type": "any",
    }
    with pytest.raises(ValueError):
        from_json(bad)
    with pytest.raises(ValueError):
        from_json({"node": "Call", "fn": "exec", "args": [], "type": "any"})
    with pytest.raises(ValueError):
        from_json({"node": "Lambda"})


def test_walk_visits_every_node_parents_first() -> None:
    node = compile_expr("km > 1 and unit(owner_unit_id).grassroots", SCOPE)
    kinds = [type(n).__name__ for n in walk(node)]
    assert kinds == ["BoolOp", "Compare", "Field", "Literal", "Attr", "Call", "Field"]


# ---------------------------------------------------------------------- property test

_atoms_num = st.sampled_from(["km", "amount_cny", "0", "1", "2.5", "params.max_km", "-3"])
_atoms_str = st.sampled_from(["plate", "mcc", '"5813"', "'中文'", "lower(plate)"])


def _num_expr() -> st.SearchStrategy[str]:
    return st.recursive(
        _atoms_num,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda x: f"-({x})"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
        ),
        max_leaves=6,
    )


def _bool_expr() -> st.SearchStrategy[str]:
    num, s = _num_expr(), _atoms_str
    cmp_num = st.tuples(num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    chain = st.tuples(num, num, num).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}")
    cmp_str = st.tuples(s, st.sampled_from(["==", "!=", "in", "not in"]), s).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    member = st.tuples(s, st.sampled_from(["in", "not in"])).map(
        lambda t: f"{t[0]} {t[1]} entertainment_mcc"
    )
    atoms = st.one_of(cmp_num, chain, cmp_str, member, st.just("alcohol"), st.just("true"))
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda x: f"not ({x})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        ),
        max_leaves=8,
    )


@settings(max_examples=300, deadline=None)
@given(_bool_expr())
def test_generated_expressions_round_trip(text: str) -> None:
    node = compile_expr(text, SCOPE, expect="bool")
    printed = to_source(node)
    assert compile_expr(printed, SCOPE) == node
    assert from_json(to_json(node)) == node
