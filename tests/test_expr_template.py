"""Message templates: slots, formats, escapes, errors with positions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from fourin_rules.errors import FourinError, Span
from fourin_rules.expr import EvalContext, Scope, Slot, Template, compile_template

CST = timezone(timedelta(hours=8))


class Env:
    def unit(self, unit_id: str) -> dict[str, Any] | None:
        return {"unit_id": unit_id, "name": "青山镇政府"} if unit_id == "U1" else None

    def cadre(self, cadre_id: str) -> dict[str, Any] | None:
        return {"cadre_id": cadre_id, "name": "张三"} if cadre_id == "C1" else None

    def local_date(self, dt: datetime) -> date:
        return dt.date()


SCOPE = Scope(
    fields={
        "owner_unit_id": "str",
        "plate": "str",
        "time": "time",
        "km": "number",
        "amount_cny": "number",
        "due": "date",
        "passenger_ids": "list[str]",
        "alcohol": "bool",
        "extra": "any",
    },
    variables={"passenger": "str"},
)
SPAN = Span("rules/p.yaml", 30, 14)
EVENT = {
    "owner_unit_id": "U1",
    "plate": "浙A1234",
    "time": datetime(2026, 3, 9, 19, 5, tzinfo=CST),
    "km": 42.0,
    "amount_cny": 1234.5,
    "due": date(2026, 3, 31),
    "passenger_ids": ["C1", "C2"],
}


def render(text: str, event: dict[str, Any] | None = None) -> str:
    t = compile_template(text, SCOPE, SPAN)
    return t.render(EvalContext(EVENT if event is None else event, Env(), {"passenger": "C1"}))  # type: ignore[arg-type]


def test_chinese_message_with_formats() -> None:
    text = (
        "{cadre(passenger).name}于{time:%m月%d日 %H:%M}乘坐{unit(owner_unit_id).name}"
        "车辆{plate}，行程{km}公里"
    )
    assert render(text) == "张三于03月09日 19:05乘坐青山镇政府车辆浙A1234，行程42公里"


def test_number_formats_and_plain_numbers() -> None:
    assert render("{amount_cny:.1f}元 {amount_cny:,.2f} {km:d} {amount_cny}") == (
        "1234.5元 1,234.50 42 1234.5"
    )
    assert render("{km / 4}") == "10.5"
    assert render("{km * 2}") == "84"


def test_nulls_dates_lists_bools() -> None:
    assert render("{unit('X').name}/{extra}/{alcohol}") == "—/—/—"
    assert render("{due}|{due:%Y年%m月%d日}|{time}") == "2026-03-31|2026年03月31日|2026-03-09 19:05"
    assert render("乘车人{passenger_ids}") == "乘车人C1、C2"
    assert render("riders {passenger_ids}") == "riders C1, C2"
    assert render("{km > 1} {not (km > 1)}") == "true false"
    assert render("{extra:.1f}", {"extra": 2}) == "2.0"
    assert render("{extra:.1f}", {"extra": "text"}) == "text"


def test_braces_escape_and_colons_in_strings_and_parens() -> None:
    assert render("{{literal}} {plate}") == "{literal} 浙A1234"
    assert render("{'a:b' + plate}") == "a:b浙A1234"
    assert render("{coalesce(extra, 'x:y')}") == "x:y"
    assert render("{time:%H:%M}") == "19:05"
    assert render("{'}' + plate}") == "}浙A1234"
    assert render("no slots") == "no slots"


@pytest.mark.parametrize(
    ("text", "code", "column"),
    [
        ("车辆{plat}", "unknown-field", 14 + 3),
        ("{km > 'a'}", "expr-type", 14 + 1),
        ("行程{km", "template", 14 + 2),
        ("行程}", "template", 14 + 2),
        ("a {} b", "template", 14 + 2),
        ("{km:%Y}", "template", 14 + 1),
        ("{plate:.2f}", "template", 14 + 1),
        ("{nosuch(km)}", "unknown-function", 14 + 1),
        ("{km.__class__}", "expr-forbidden", 14 + 4),
    ],
)
def test_template_errors_have_code_and_position(text: str, code: str, column: int) -> None:
    with pytest.raises(FourinError) as info:
        compile_template(text, SCOPE, SPAN)
    err = info.value
    assert err.code == code, err.render()
    assert err.span is not None
    assert (err.span.line, err.span.column) == (30, column)


def test_error_on_a_later_line_of_the_template() -> None:
    with pytest.raises(FourinError) as info:
        compile_template("第一行\n{nosuch}", SCOPE, SPAN)
    assert info.value.span is not None
    assert info.value.span.line == 31


def test_template_parts_and_json_round_trip() -> None:
    t = compile_template("行程{km:.1f}公里", SCOPE, SPAN)
    assert [type(p) for p in t.parts] == [str, Slot, str]
    assert len(t.nodes) == 1
    again = Template.from_json(t.to_json())
    assert again == t
    assert again.render(EvalContext(EVENT, Env())) == "行程42.0公里"  # type: ignore[arg-type]
