"""Pack loading: every YAML, schema, clause and expression error is located (file:line:column),
coded and hinted; county override files change parameters and switch rules off."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError, FourinErrors
from fourin_rules.packs.loader import Pack, bundled_rules_dir, load_packs
from fourin_rules.packs.yamlpos import load_yaml
from fourin_rules.plan import build_plan

ROOT = Path(__file__).resolve().parents[1]
SMALL_REFERENCE = ROOT / "examples" / "small" / "reference.yaml"

# A valid one-rule pack. Line numbers used below (1-based):
#   6 "  - id: X1"   7 "    clause: ..."   9 "    title: ..."   10 "    on: card_txn"
#   11 "    when: amount_cny > 100"
PACK = """\
pack:
  id: demo
  version: 1.0.0
  title: {zh: 演示, en: Demo}
rules:
  - id: X1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 大额消费, en: Big spend}
    on: card_txn
    when: amount_cny > 100
    message: {zh: "{cadre_id}消费{amount_cny}元", en: "{cadre_id} spent {amount_cny}"}
"""

# A second rule, appended to PACK it starts on line 13 ("  - id: X2" at 13, "on:" at 17).
SECOND_RULE = """\
  - id: X2
    clause: 不准公款娱乐
    kind: match
    title: {zh: 报销, en: Claim}
    on: reimbursement
    when: amount_cny > 200
    message: {zh: "{cadre_id}", en: "{cadre_id}"}
"""

# A vehicle-trip rule whose condition is a literal block scalar: "when: |" is line 11, the
# expression's lines are 12 and 13, and `owner_unit` starts at column 13 of line 13.
BLOCK_PACK = """\
pack:
  id: demo
  version: 1.0.0
  title: {zh: 演示, en: Demo}
rules:
  - id: X1
    clause: 不准占用基层车辆
    kind: match
    title: {zh: 用车, en: Car}
    on: vehicle_trip
    when: |
      km > 1
        and owner_unit == "T01"
    subject: {id: driver_id}
    message: {zh: "{plate}", en: "{plate}"}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _errors(exc: BaseException) -> list[FourinError]:
    if isinstance(exc, FourinErrors):
        return exc.errors
    assert isinstance(exc, FourinError)
    return [exc]


def _fail(paths: list[Path], **kw: Any) -> list[FourinError]:
    """Load and compile ``paths``; they must fail. Returns the errors."""
    with pytest.raises((FourinError, FourinErrors)) as info:
        build_plan(load_packs(paths, **kw))
    return _errors(info.value)


def _one(paths: list[Path], **kw: Any) -> FourinError:
    errors = _fail(paths, **kw)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


def _where(e: FourinError) -> tuple[str, int, int]:
    assert e.span is not None, e.render()
    return Path(e.span.path).name, e.span.line, e.span.column


# ------------------------------------------------------------------------------ valid packs


def test_valid_pack_loads_and_compiles(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.yaml", PACK + SECOND_RULE)
    packs = load_packs([path])
    assert [p.id for p in packs] == ["demo"]
    assert packs[0].version == "1.0.0"
    assert [r.id for r in packs[0].file.rules] == ["X1", "X2"]
    plan = build_plan(packs)
    assert [r.rule_id for r in plan.rules] == ["X1", "X2"]
    assert plan.rule("X2").clause == "不准公款娱乐"


def test_bundled_packs_load_when_no_path_is_given() -> None:
    packs = load_packs()
    assert sorted(p.id for p in packs) == [
        "duty-presence",
        "four-in-balance",
        "ten-prohibitions",
        "three-avoidances",
    ]
    plan = build_plan(packs)
    assert {r.rule_id for r in plan.rules} >= {"D1", "P2", "P6-canteen", "P8", "A3-promise"}
    assert bundled_rules_dir().is_dir()


def test_a_folder_expands_to_its_yaml_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", PACK)
    _write(tmp_path, "b.yml", PACK.replace("id: demo", "id: other").replace("X1", "Y1"))
    _write(tmp_path, "notes.txt", "not a pack")
    assert sorted(p.id for p in load_packs([tmp_path])) == ["demo", "other"]


# ------------------------------------------------------------------------------ YAML level


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    # Line 9 becomes "    on: x: y": a second ':' in a plain scalar at column 10.
    path = _write(tmp_path, "bad.yaml", PACK.replace("    on: card_txn", "    on: x: y"))
    e = _one([path])
    assert e.code == "yaml-syntax"
    assert _where(e) == ("bad.yaml", 10, 10)
    assert f"{path}:10:10: error[yaml-syntax]" in e.render()
    assert "on: x: y" in e.render()  # the source line is shown


def test_yaml_unclosed_flow_mapping_is_a_syntax_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", "pack: {id: demo, version: 1.0.0\nrules: []\n")
    e = _one([path])
    assert e.code == "yaml-syntax"
    assert _where(e)[0] == "bad.yaml"
    assert _where(e)[1] == 2


def test_missing_pack_file_is_an_input_error(tmp_path: Path) -> None:
    e = _one([tmp_path / "nope.yaml"])
    assert e.code == "input-file"
    assert "nope.yaml" in e.message


def test_anchors_are_refused_where_they_stand(tmp_path: Path) -> None:
    text = PACK.replace("title: {zh: 大额消费, en: Big spend}", "title: &t {zh: 大, en: B}")
    text += SECOND_RULE.replace("title: {zh: 报销, en: Claim}", "title: *t")
    e = _one([_write(tmp_path, "alias.yaml", text)])
    assert e.code == "yaml-too-complex"
    assert "anchors" in e.message
    assert _where(e) == ("alias.yaml", 9, 12)  # the '&t', the first of the two


def test_an_anchor_alone_is_refused(tmp_path: Path) -> None:
    text = PACK.replace("title: {zh: 大额消费, en: Big spend}", "title: &t {zh: 大, en: B}")
    e = _one([_write(tmp_path, "anchor.yaml", text)])
    assert e.code == "yaml-too-complex"
    assert _where(e) == ("anchor.yaml", 9, 12)


def test_an_alias_is_refused_at_the_alias(tmp_path: Path) -> None:
    text = PACK + SECOND_RULE.replace("title: {zh: 报销, en: Claim}", "title: *t")
    e = _one([_write(tmp_path, "alias.yaml", text)])
    assert e.code == "yaml-too-complex"
    assert "aliases" in e.message
    assert _where(e) == ("alias.yaml", 16, 12)
    assert "title: *t" in e.render()


def test_merge_keys_are_refused() -> None:
    with pytest.raises(FourinError) as info:
        load_yaml("a: {x: 1}\nb:\n  <<: {y: 2}\n", "m.yaml")
    assert info.value.code == "yaml-too-complex"
    assert (info.value.span.line, info.value.span.column) == (3, 3)


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = _write(tmp_path, "lol.yaml", "\n".join(lines) + "\n")  # 9**10 strings if expanded
    started = time.perf_counter()
    e = _one([path])
    assert time.perf_counter() - started < 2.0
    assert e.code == "yaml-too-complex"
    assert _where(e)[0] == "lol.yaml"


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.yaml", "a: " + "[" * 100 + "]" * 100 + "\n")
    e = _one([path])
    assert e.code == "yaml-too-complex"
    assert "nesting" in e.message
    assert _where(e)[:2] == ("deep.yaml", 1)


def test_moderate_nesting_is_fine() -> None:
    data, _ = load_yaml("a: " + "[" * 40 + "]" * 40 + "\n", "ok.yaml")
    depth, node = 0, data["a"]
    while node:
        node, depth = node[0], depth + 1
    assert depth == 39


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = PACK.replace(
        "    when: amount_cny > 100\n", "    when: amount_cny > 100\n    when: true\n"
    )
    e = _one([_write(tmp_path, "dup.yaml", text)])
    assert e.code == "pack-schema"
    assert "duplicate key 'when'" in e.message
    assert _where(e) == ("dup.yaml", 12, 5)


def test_yaml_12_booleans_only() -> None:
    data, _ = load_yaml("on: 1\nno: yes\noff: on\ny: n\nt: true\nf: False\n", "b.yaml")
    assert data == {"on": 1, "no": "yes", "off": "on", "y": "n", "t": True, "f": False}


def test_on_key_of_a_rule_stays_the_string_on(tmp_path: Path) -> None:
    text = PACK.replace("rules:", "lists:\n  answers: [no, yes, off, on]\nrules:")
    packs = load_packs([_write(tmp_path, "demo.yaml", text)])
    rule = packs[0].file.rules[0]
    assert rule.on == ["card_txn"]
    assert packs[0].lists["answers"] == ["no", "yes", "off", "on"]


def test_marks_record_key_and_value_positions() -> None:
    data, marks = load_yaml(textwrap.dedent(PACK), "demo.yaml")
    assert data["rules"][0]["when"] == "amount_cny > 100"
    span = marks.span(("rules", 0, "when"))
    assert (span.line, span.column) == (11, 11)
    key = marks.span(("rules", 0, "when"), key=True)
    assert (key.line, key.column, key.length) == (11, 5, 4)
    # an unknown path falls back to its nearest known ancestor
    assert marks.span(("rules", 0, "nothing")).line == 6


# ------------------------------------------------------------------------------ schema level


def test_unknown_key_in_a_rule_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "typo.yaml", PACK.replace("    when:", "    wehn:"))
    e = _one([path])
    assert e.code == "pack-schema"
    assert e.message == "unknown key 'wehn'"
    assert e.suggestion == "did you mean 'when'?"
    assert _where(e) == ("typo.yaml", 11, 5)
    assert (e.span.length) == 4
    text = e.render()
    assert text.startswith(f"{path}:11:5: error[pack-schema]: unknown key 'wehn'")
    assert "hint: did you mean 'when'?" in text
    assert "    ^^^^" in text


@pytest.mark.parametrize(
    ("old", "new", "message", "hint", "where"),
    [
        ("  id: demo", "  id: demo\n  versoin: 1", "unknown key 'versoin'", "version", (3, 3)),
        ("rules:", "rule:", "unknown key 'rule'", "rules", (5, 1)),
        ("en: Big spend}", "eng: Big spend}", "unknown key 'eng'", "en", (9, 23)),
    ],
)
def test_unknown_keys_elsewhere(
    tmp_path: Path, old: str, new: str, message: str, hint: str, where: tuple[int, int]
) -> None:
    errors = _fail([_write(tmp_path, "typo.yaml", PACK.replace(old, new))])
    unknown = [e for e in errors if e.message == message]
    assert len(unknown) == 1, [e.render() for e in errors]
    assert unknown[0].code == "pack-schema"
    assert unknown[0].suggestion == f"did you mean '{hint}'?"
    assert _where(unknown[0])[1:] == where


def test_missing_required_key_in_a_rule(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "missing.yaml", PACK.replace("    title: {zh: 大额消费, en: Big spend}\n", "")
    )
    e = _one([path])
    assert e.code == "pack-schema"
    assert e.message == "missing key 'title'"
    assert _where(e) == ("missing.yaml", 6, 5)  # the rule that lacks it


def test_missing_required_key_in_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "missing.yaml", PACK.replace("  version: 1.0.0\n", ""))
    e = _one([path])
    assert e.code == "pack-schema"
    assert e.message == "missing key 'version'"
    assert _where(e) == ("missing.yaml", 2, 3)


def test_wrong_kind_value_is_a_schema_error(tmp_path: Path) -> None:
    e = _one([_write(tmp_path, "kind.yaml", PACK.replace("kind: match", "kind: matc"))])
    assert e.code == "pack-schema"
    assert "kind" in e.message
    assert _where(e) == ("kind.yaml", 8, 11)


def test_a_match_rule_needs_on(tmp_path: Path) -> None:
    e = _one([_write(tmp_path, "on.yaml", PACK.replace("    on: card_txn\n", ""))])
    assert e.code == "pack-schema"
    assert "needs on" in e.message
    assert _where(e)[:2] == ("on.yaml", 6)


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    e = _one([_write(tmp_path, "list.yaml", "- a\n- b\n")])
    assert e.code == "pack-schema"
    assert _where(e) == ("list.yaml", 1, 1)


def test_unknown_clause_suggests_the_seed_text(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "clause.yaml", PACK.replace("clause: 不准公款娱乐", "clause: 不准公款娱")
    )
    e = _one([path])
    assert e.code == "unknown-clause"
    assert e.suggestion == "did you mean '不准公款娱乐'?"
    assert _where(e) == ("clause.yaml", 7, 13)


def test_duplicate_rule_id_in_one_pack(tmp_path: Path) -> None:
    path = _write(tmp_path, "dup.yaml", PACK + SECOND_RULE.replace("X2", "X1"))
    e = _one([path])
    assert e.code == "duplicate-rule"
    assert "X1" in e.message
    assert _where(e) == ("dup.yaml", 13, 9)


def test_duplicate_rule_id_across_packs(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", PACK)
    other = PACK.replace("id: demo", "id: other").replace("en: Demo", "en: Other")
    _write(tmp_path, "b.yaml", other)
    e = _one([tmp_path])
    assert e.code == "duplicate-rule"
    assert "demo" in e.message
    assert _where(e) == ("b.yaml", 6, 9)


def test_same_pack_loaded_twice(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", PACK)
    b = _write(tmp_path, "b.yaml", PACK)
    e = _one([a, b])
    assert e.code == "duplicate-rule"
    assert "loaded twice" in e.message
    assert _where(e)[0] == "b.yaml"


# ------------------------------------------------------------------------------ expressions


def test_expression_error_in_a_block_scalar_points_at_the_token(tmp_path: Path) -> None:
    path = _write(tmp_path, "block.yaml", BLOCK_PACK)
    e = _one([path])
    assert e.code == "unknown-field"
    assert "owner_unit" in e.message
    assert e.suggestion == "did you mean 'owner_unit_id'?"
    assert _where(e) == ("block.yaml", 13, 13)
    assert e.span.length == len("owner_unit")
    text = e.render()
    assert text.startswith(f"{path}:13:13: error[unknown-field]")
    assert '        and owner_unit == "T01"' in text  # the source line of the token


def test_expression_error_in_a_strip_block_scalar(tmp_path: Path) -> None:
    e = _one([_write(tmp_path, "block.yaml", BLOCK_PACK.replace("when: |", "when: |-"))])
    assert (e.code, _where(e)) == ("unknown-field", ("block.yaml", 13, 13))


@pytest.mark.parametrize(
    ("when", "column"),
    [
        ('when: km > 1 and owner_unit == "T01"', 22),
        ("when: 'km > 1 and owner_unit == \"T01\"'", 23),
        ("when: \"km > 1 and owner_unit == 'T01'\"", 23),
    ],
)
def test_expression_error_in_one_line_scalars(tmp_path: Path, when: str, column: int) -> None:
    text = BLOCK_PACK.replace('when: |\n      km > 1\n        and owner_unit == "T01"', when)
    e = _one([_write(tmp_path, "line.yaml", text)])
    assert e.code == "unknown-field"
    assert e.suggestion == "did you mean 'owner_unit_id'?"
    assert _where(e) == ("line.yaml", 11, column)


def test_expression_error_in_a_folded_block_scalar(tmp_path: Path) -> None:
    text = BLOCK_PACK.replace(
        'when: |\n      km > 1\n        and owner_unit == "T01"',
        'when: >\n      km > 1 and\n      owner_unit == "T01"',
    )
    e = _one([_write(tmp_path, "folded.yaml", text)])
    assert e.code == "unknown-field"
    assert _where(e) == ("folded.yaml", 13, 7)


def test_expression_error_in_a_block_scalar_with_a_leading_blank_line(tmp_path: Path) -> None:
    text = BLOCK_PACK.replace(
        'when: |\n      km > 1\n        and owner_unit == "T01"',
        'when: |\n\n      km > 1 and\n      owner_unit == "T01"',
    )
    e = _one([_write(tmp_path, "blank.yaml", text)])
    assert _where(e) == ("blank.yaml", 14, 7)


# A rule with `when` last, so that each block scalar below starts on line 13 ("when:" line).
TAIL_PACK = """\
pack:
  id: demo
  version: 1.0.0
  title: {zh: 演示, en: Demo}
rules:
  - id: X1
    clause: 不准占用基层车辆
    kind: match
    title: {zh: 用车, en: Car}
    on: vehicle_trip
    subject: {id: driver_id}
    message: {zh: "{plate}", en: "{plate}"}
"""


@pytest.mark.parametrize(
    ("when", "where"),
    [
        ("    when: |\n      owner_unit == 1\n        and km > 1\n", (14, 7)),
        (  # folded, with a more-indented continuation (as in the bundled P2)
            "    when: >\n      km > 1\n      and not (km == 2\n"
            "               and owner_unit == 1)\n",
            (16, 20),
        ),
        ("    when: >-\n      km > 1 and\n      km > 2 and\n      owner_unit == 1\n", (16, 7)),
        ("    when: >\n      km > 1 and\n      km > 1 and owner_unit == 1\n", (15, 18)),
        ("    when: |+\n      km > 1\n\n      and owner_unit == 1\n\n", (16, 11)),
        ("    when: |2\n        km > 1\n        and owner_unit == 1\n", (15, 13)),
    ],
    ids=[
        "literal-first-line",
        "folded-more-indented",
        "folded-strip",
        "repeated-text",
        "keep",
        "indent-indicator",
    ],
)
def test_block_scalar_shapes_map_back_to_the_file(
    tmp_path: Path, when: str, where: tuple[int, int]
) -> None:
    e = _one([_write(tmp_path, "shape.yaml", TAIL_PACK + when)])
    assert e.code == "unknown-field"
    assert _where(e) == ("shape.yaml", *where)
    assert e.render().splitlines()[1].strip().startswith(("owner_unit", "and", "km"))


def test_template_error_in_a_folded_message(tmp_path: Path) -> None:
    text = TAIL_PACK.replace(
        '    message: {zh: "{plate}", en: "{plate}"}\n',
        '    when: km > 1\n    message:\n      en: "{plate}"\n      zh: >-\n'
        "        车辆{plate}\n        行程{kms}公里\n",
    )
    e = _one([_write(tmp_path, "tpl.yaml", text)])
    assert e.code == "unknown-field"
    assert e.suggestion == "did you mean 'km'?"
    assert _where(e) == ("tpl.yaml", 17, 12)  # columns count characters, not bytes


def test_unknown_field_in_a_message_template(tmp_path: Path) -> None:
    text = PACK.replace(
        'message: {zh: "{cadre_id}消费{amount_cny}元", en: "{cadre_id} spent {amount_cny}"}',
        'message:\n      zh: "{cadre}消费"\n      en: "{cadre_id}"',
    )
    e = _one([_write(tmp_path, "tpl.yaml", text)])
    assert e.code == "unknown-field"
    assert e.suggestion == "did you mean 'cadre_id'?"
    assert _where(e) == ("tpl.yaml", 13, 13)  # the name inside the braces


def test_unknown_event_type_in_on_suggests(tmp_path: Path) -> None:
    e = _one([_write(tmp_path, "type.yaml", PACK.replace("on: card_txn", "on: card_tx"))])
    assert e.code == "unknown-event-type"
    assert e.suggestion == "did you mean 'card_txn'?"
    assert _where(e) == ("type.yaml", 10, 9)


def test_unknown_event_type_in_a_list(tmp_path: Path) -> None:
    text = PACK.replace("on: card_txn", "on: [card_txn, reimbursment]")
    e = _one([_write(tmp_path, "type.yaml", text)])
    assert e.code == "unknown-event-type"
    assert e.suggestion == "did you mean 'reimbursement'?"
    assert _where(e)[:2] == ("type.yaml", 10)


# ------------------------------------------------------------------------------ many errors


def test_several_schema_errors_are_reported_together(tmp_path: Path) -> None:
    text = (PACK + SECOND_RULE).replace("    when: amount_cny > 100", "    wehn: amount_cny > 100")
    text = text.replace("title: {zh: 报销, en: Claim}", "title: {zh: 报销, eng: Claim}")
    with pytest.raises(FourinErrors) as info:
        load_packs([_write(tmp_path, "many.yaml", text)])
    found = {(e.code, e.message, e.span.line, e.span.column) for e in info.value.errors}
    assert ("pack-schema", "unknown key 'wehn'", 11, 5) in found
    assert ("pack-schema", "unknown key 'eng'", 16, 21) in found
    assert info.value.render().endswith(f"{len(info.value.errors)} errors")


def test_clause_and_duplicate_errors_are_reported_together(tmp_path: Path) -> None:
    second = SECOND_RULE.replace("X2", "X1").replace("clause: 不准公款娱乐", "clause: 不准公款")
    with pytest.raises(FourinErrors) as info:
        load_packs([_write(tmp_path, "many.yaml", PACK + second)])
    found = {(e.code, e.span.line, e.span.column) for e in info.value.errors}
    assert found == {("unknown-clause", 14, 13), ("duplicate-rule", 13, 9)}


def test_several_expression_errors_are_reported_together(tmp_path: Path) -> None:
    text = PACK.replace("when: amount_cny > 100", "when: amount_cny > 100 and merchant == 'x'")
    text += SECOND_RULE.replace("on: reimbursement", "on: reimbursements")
    errors = _fail([_write(tmp_path, "many.yaml", text)])
    found = {(e.code, e.span.line, e.span.column, e.suggestion) for e in errors}
    assert found == {
        ("unknown-field", 11, 32, "did you mean 'merchant_name'?"),
        ("unknown-event-type", 17, 9, "did you mean 'reimbursement'?"),
    }


def test_errors_in_several_files_are_reported_together(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", PACK.replace("    when:", "    wehn:"))
    _write(tmp_path, "b.yaml", "pack: [\n")
    with pytest.raises(FourinErrors) as info:
        load_packs([tmp_path])
    found = {(Path(e.span.path).name, e.code) for e in info.value.errors}
    assert found == {("a.yaml", "pack-schema"), ("b.yaml", "yaml-syntax")}


# ------------------------------------------------------------------------------ overrides


def _override(tmp_path: Path, text: str) -> list[Path]:
    return [bundled_rules_dir(), _write(tmp_path, "county.yaml", text)]


def _meals(n: int, cadre: str = "K01") -> list[dict[str, Any]]:
    days = ["2026-03-02", "2026-03-03", "2026-03-09", "2026-03-11", "2026-03-12", "2026-03-13"]
    return [
        {
            "type": "canteen_meal",
            "id": f"m{i}",
            "time": f"{day}T12:05:00+08:00",
            "cadre_id": cadre,
            "meal": "lunch",
            "paid_cny": 0,
        }
        for i, day in enumerate(days[:n])
    ]


def _canteen_findings(packs: list[Pack], n: int) -> list[str]:
    engine = Engine(packs, SMALL_REFERENCE)
    result = engine.run(_meals(n), until="2026-03-31")
    return [f.subject.id for f in result.findings if f.rule_id == "P6-canteen"]


def test_override_changes_a_parameter(tmp_path: Path) -> None:
    default = load_packs()
    assert build_plan(default).rule("P6-canteen").params == {"free_meals_per_month": 3}
    assert _canteen_findings(default, 4) == ["K01"]

    text = "extends: ten-prohibitions\nparams:\n  P6-canteen.free_meals_per_month: 4\n"
    packs = load_packs(_override(tmp_path, text))
    plan = build_plan(packs)
    assert plan.rule("P6-canteen").params == {"free_meals_per_month": 4}
    assert plan.rule("P2").params == {"home_radius_km": 2}  # others untouched
    assert _canteen_findings(packs, 4) == []
    assert _canteen_findings(packs, 5) == ["K01"]
    tp = next(p for p in packs if p.id == "ten-prohibitions")
    assert tp.overrides == [str(tmp_path / "county.yaml")]


def test_override_disables_a_rule(tmp_path: Path) -> None:
    packs = load_packs(_override(tmp_path, "extends: ten-prohibitions\ndisable: [P8]\n"))
    plan = build_plan(packs)
    ids = [r.rule_id for r in plan.rules]
    assert "P8" not in ids
    assert {"D1", "P2", "P6-canteen", "A3-promise"} <= set(ids)
    ktv = {
        "type": "card_txn",
        "id": "k1",
        "time": "2026-03-06T21:30:00+08:00",
        "cadre_id": "K01",
        "amount_cny": 860,
        "merchant_name": "金色年华KTV",
        "mcc": "7911",
    }

    def p8(packs: list[Pack]) -> list[str]:
        findings = Engine(packs, SMALL_REFERENCE).run([ktv]).findings
        return [f.subject.id for f in findings if f.rule_id == "P8"]

    assert p8(load_packs()) == ["K01"]
    assert p8(packs) == []


def test_override_changes_a_severity(tmp_path: Path) -> None:
    packs = load_packs(_override(tmp_path, "extends: ten-prohibitions\nseverity: {P8: low}\n"))
    assert build_plan(packs).rule("P8").severity == "low"


@pytest.mark.parametrize(
    ("text", "code", "where", "hint"),
    [
        (
            "extends: ten-prohibitions\nparams:\n  P6-canten.free_meals_per_month: 4\n",
            "unknown-rule",
            (3, 3),
            "did you mean 'P6-canteen'?",
        ),
        (
            "extends: ten-prohibitions\nparams:\n  P6-canteen.free_meal_per_month: 4\n",
            "unknown-param",
            (3, 3),
            "did you mean 'free_meals_per_month'?",
        ),
        (
            "extends: ten-prohibition\nparams:\n  P6-canteen.free_meals_per_month: 4\n",
            "unknown-pack",
            (1, 10),
            "did you mean 'ten-prohibitions'?",
        ),
        (
            "extends: ten-prohibitions\ndisable: [P8x]\n",
            "unknown-rule",
            (2, 11),
            "did you mean 'P8'?",
        ),
        (
            "extends: ten-prohibitions\nlists: {entertainment_mc: []}\n",
            "unknown-name",
            (2, 9),
            "did you mean 'entertainment_mcc'?",
        ),
        (
            "extends: ten-prohibitions\nparam: {}\n",
            "pack-schema",
            (2, 1),
            "did you mean 'params'?",
        ),
    ],
)
def test_override_errors_are_located_and_hinted(
    tmp_path: Path, text: str, code: str, where: tuple[int, int], hint: str
) -> None:
    e = _one(_override(tmp_path, text))
    assert e.code == code
    assert e.suggestion == hint
    assert _where(e) == ("county.yaml", *where)
    assert f"county.yaml:{where[0]}:{where[1]}: error[{code}]" in e.render()


@pytest.mark.parametrize("value", ["four", "true", "[4]"])
def test_override_with_a_wrong_typed_value(tmp_path: Path, value: str) -> None:
    text = f"extends: ten-prohibitions\nparams:\n  P6-canteen.free_meals_per_month: {value}\n"
    e = _one(_override(tmp_path, text))
    assert e.code == "bad-param"
    assert "expected a value like 3" in e.message
    assert _where(e) == ("county.yaml", 3, 36)


def test_override_with_a_wrong_severity(tmp_path: Path) -> None:
    e = _one(_override(tmp_path, "extends: ten-prohibitions\nseverity: {P8: critical}\n"))
    assert e.code == "pack-schema"
    assert _where(e) == ("county.yaml", 2, 16)


def test_override_errors_are_reported_together(tmp_path: Path) -> None:
    text = (
        "extends: ten-prohibitions\n"
        "params:\n"
        "  P6-canteen.free_meals_per_month: four\n"
        "  P2.home_radius: 3\n"
        "disable: [P99]\n"
    )
    errors = _fail(_override(tmp_path, text))
    assert {(e.code, e.span.line) for e in errors} == {
        ("bad-param", 3),
        ("unknown-param", 4),
        ("unknown-rule", 5),
    }


def test_unknown_rule_in_a_block_disable_list_points_at_the_item(tmp_path: Path) -> None:
    text = "extends: ten-prohibitions\ndisable:\n  - P8\n  - P8x\n"
    e = _one(_override(tmp_path, text))
    assert e.code == "unknown-rule"
    assert _where(e) == ("county.yaml", 4, 5)


# ------------------------------------------------------------------------------ API params


def test_load_packs_params_changes_a_parameter() -> None:
    packs = load_packs(params={"P6-canteen.free_meals_per_month": 4})
    assert build_plan(packs).rule("P6-canteen").params == {"free_meals_per_month": 4}
    assert _canteen_findings(packs, 4) == []
    qualified = load_packs(params={"ten-prohibitions:P6-canteen.free_meals_per_month": 5})
    assert build_plan(qualified).rule("P6-canteen").params == {"free_meals_per_month": 5}
    # the bundled defaults are not changed by an earlier call
    assert build_plan(load_packs()).rule("P6-canteen").params == {"free_meals_per_month": 3}


def test_load_packs_disable() -> None:
    every = {r.rule_id for r in build_plan(load_packs()).rules}
    plan = build_plan(load_packs(disable=["P8", "three-avoidances:A3-promise"]))
    assert {r.rule_id for r in plan.rules} == every - {"P8", "A3-promise"}


@pytest.mark.parametrize(
    ("kw", "code", "hint"),
    [
        ({"params": {"P6-canten.free_meals_per_month": 4}}, "unknown-rule", "P6-canteen"),
        ({"params": {"P6-canteen.free_meal": 4}}, "unknown-param", "free_meals_per_month"),
        ({"params": {"P6-canteen.free_meals_per_month": "x"}}, "bad-param", None),
        ({"disable": ["P8x"]}, "unknown-rule", "P8"),
    ],
)
def test_load_packs_option_errors(kw: dict[str, Any], code: str, hint: str | None) -> None:
    with pytest.raises(FourinError) as info:
        load_packs(**kw)
    assert info.value.code == code
    assert info.value.suggestion == (f"did you mean '{hint}'?" if hint else None)
