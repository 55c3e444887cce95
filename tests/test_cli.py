"""The ``fourin-rules`` command over the bundled packs and examples/small, via CliRunner."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fourin_rules.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "small"
EVENTS = str(SMALL / "events.jsonl")
REFERENCE = str(SMALL / "reference.yaml")
RULES = str(ROOT / "rules")

CONTRACT_FIELDS = (
    "id",
    "rule_id",
    "pack",
    "clause",
    "title",
    "severity",
    "subject",
    "cadre_id",
    "window",
    "evidence",
    "negative_evidence",
    "message",
    "needs_review",
    "status",
)

# What examples/small/make_events.py plants: (rule, cadre, local day the finding starts on).
PLANTED = {
    ("D1", "K02", "2026-03-04"),  # no check-in at all that day
    ("P2", "K03", "2026-03-07"),  # an enterprise car on a Saturday evening
    ("P8", "K01", "2026-03-06"),  # a claimed KTV bill
    ("P6-canteen", "K01", "2026-03-01"),  # four free canteen lunches in March
    ("A3-promise", "K02", "2026-03-03"),  # an unconfirmed promise never closed
}
NEAR_MISSES = {"trip-2", "card-2", "meal-paid", "lv-K03-2026-03-05"}

# A pack with one passing and one failing embedded test.
FAILING_TEST_PACK = """\
pack:
  id: demo
  version: 1.0.0
  title: {zh: 演示, en: Demo}
rules:
  - id: X1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 大额消费, en: Big spend}
    params: {limit: 100}
    on: card_txn
    when: amount_cny > params.limit
    message: {zh: "{cadre_id}消费{amount_cny}元", en: "{cadre_id} spent {amount_cny}"}
    tests:
      - name: a big spend fires
        events:
          - {type: card_txn, id: a1, time: "2026-03-10T10:00:00+08:00", cadre_id: K01,
             amount_cny: 500}
        expect: [{rule: X1, subject: K01, evidence: [a1]}]
      - name: the expectation is wrong
        events:
          - {type: card_txn, id: a1, time: "2026-03-10T10:00:00+08:00", cadre_id: K01,
             amount_cny: 500}
          - {type: card_txn, id: a2, time: "2026-03-10T11:00:00+08:00", cadre_id: K02,
             amount_cny: 50}
        expect: [{rule: X1, subject: K02}]
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _run(runner: CliRunner, *extra: str, env: dict[str, str] | None = None) -> Result:
    return _invoke(runner, "run", EVENTS, "--reference", REFERENCE, *extra, env=env)


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _keys(findings: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(f["rule_id"], f["cadre_id"], f["window"]["start"][:10]) for f in findings}


@pytest.fixture(scope="module")
def jsonl_run(runner: CliRunner) -> Result:
    return _run(runner, "--format", "jsonl")


# ------------------------------------------------------------------------------ run


def test_run_jsonl_prints_one_contract_finding_per_line(jsonl_run: Result) -> None:
    assert jsonl_run.exit_code == 0  # findings are not an error
    lines = [line for line in jsonl_run.stdout.splitlines() if line.strip()]
    assert len(lines) == 5
    for line in lines:
        finding = json.loads(line)
        for name in CONTRACT_FIELDS:
            assert name in finding, name
        assert set(finding["pack"]) == {"id", "version"}
        assert set(finding["title"]) == {"zh", "en"}
        assert set(finding["message"]) == {"zh", "en"}
        assert finding["subject"] == {"kind": "cadre", "id": finding["cadre_id"]}
        assert finding["severity"] in ("high", "medium", "low", "info")
        assert finding["status"] in ("provisional", "final")
        assert isinstance(finding["needs_review"], bool)
        assert set(finding["window"]) == {"start", "end"}
        assert all(set(e) == {"type", "id"} for e in finding["evidence"])
        assert all(isinstance(s, str) for s in finding["negative_evidence"])
        assert re.fullmatch(r"[0-9a-f]{8,}", finding["id"])


def test_run_finds_exactly_the_planted_findings(jsonl_run: Result) -> None:
    findings = _jsonl(jsonl_run.stdout)
    assert _keys(findings) == PLANTED
    by_rule = {f["rule_id"]: f for f in findings}
    assert by_rule["D1"]["evidence"] == []
    assert by_rule["D1"]["window"]["start"] == "2026-03-04T00:00:00+08:00"
    assert len(by_rule["D1"]["negative_evidence"]) >= 2
    assert by_rule["P2"]["evidence"] == [{"type": "vehicle_trip", "id": "trip-1"}]
    assert by_rule["P2"]["severity"] == "high"
    assert by_rule["P8"]["evidence"] == [{"type": "card_txn", "id": "card-1"}]
    assert by_rule["P8"]["severity"] == "high"
    assert [e["id"] for e in by_rule["P6-canteen"]["evidence"]] == [f"meal-{i}" for i in range(4)]
    assert by_rule["A3-promise"]["evidence"] == [{"type": "commitment", "id": "promise-1"}]
    assert by_rule["A3-promise"]["status"] == "final"
    cited = {e["id"] for f in findings for e in f["evidence"]}
    assert not cited & NEAR_MISSES
    # no empty post for K03, whose day off was approved sick leave
    assert not any(f["rule_id"] == "D1" and f["cadre_id"] == "K03" for f in findings)


def test_run_reports_its_accounting_on_stderr(jsonl_run: Result) -> None:
    assert "quarantined 3" in jsonl_run.stderr
    assert "duplicate 1" in jsonl_run.stderr
    assert "findings 5" in jsonl_run.stderr
    assert "events.jsonl:6: time:" in jsonl_run.stderr


def test_run_is_deterministic(runner: CliRunner, jsonl_run: Result) -> None:
    again = _run(runner, "--format", "jsonl")
    assert again.stdout == jsonl_run.stdout


@pytest.mark.parametrize("backend", ["python", "durable"])
def test_every_backend_gives_the_same_findings(
    runner: CliRunner, jsonl_run: Result, backend: str
) -> None:
    result = _run(runner, "--format", "jsonl", "--backend", backend)
    assert result.exit_code == 0
    assert result.stdout == jsonl_run.stdout  # the default (duckdb) gave jsonl_run


def test_message_shows_the_parameter(jsonl_run: Result) -> None:
    canteen = next(f for f in _jsonl(jsonl_run.stdout) if f["rule_id"] == "P6-canteen")
    assert "上限3次" in canteen["message"]["zh"]
    assert "(limit 3)" in canteen["message"]["en"]


def test_table_format_prints_a_summary(runner: CliRunner) -> None:
    result = _run(runner, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "不准公款娱乐" in result.stdout
    assert "张伟(K01)" in result.stdout  # subjects by name and id


def test_fail_on_high_exits_1(runner: CliRunner) -> None:
    result = _run(runner, "--format", "jsonl", "--fail-on", "high")
    assert result.exit_code == 1
    assert len(_jsonl(result.stdout)) == 5  # the findings are still written


def test_fail_on_without_a_level_exits_2(runner: CliRunner) -> None:
    assert _run(runner, "--format", "jsonl", "--fail-on").exit_code == 2


def test_fail_on_counts_only_findings_at_or_above_the_level(runner: CliRunner) -> None:
    # Without P2 and P8 the worst finding is D1 (medium).
    result = _run(
        runner, "--format", "jsonl", "--disable", "P2", "--disable", "P8", "--fail-on", "high"
    )
    assert result.exit_code == 0
    result = _run(
        runner, "--format", "jsonl", "--disable", "P2", "--disable", "P8", "--fail-on", "medium"
    )
    assert result.exit_code == 1


def test_fail_on_unknown_level_exits_2(runner: CliRunner) -> None:
    result = _run(runner, "--format", "jsonl", "--fail-on", "critical")
    assert result.exit_code == 2
    assert "critical" in result.stderr


def test_unknown_format_exits_2(runner: CliRunner) -> None:
    result = _run(runner, "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.stderr


def test_out_csv_has_chinese_headers(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    result = _run(runner, "--out", str(out), "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert str(out) in result.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert {"规则", "条款", "等级", "对象", "内容", "证据", "状态"} <= set(header)
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in header)
    assert len(body) == 5
    rule_col = header.index("规则")
    assert {r[rule_col] for r in body} == {p[0] for p in PLANTED}
    subject_col = header.index("对象")
    assert {r[subject_col] for r in body} == {"cadre:K01", "cadre:K02", "cadre:K03"}


def test_out_jsonl_writes_the_same_findings(
    runner: CliRunner, tmp_path: Path, jsonl_run: Result
) -> None:
    out = tmp_path / "f.jsonl"
    result = _run(runner, "--out", str(out), "--format", "jsonl")
    assert result.exit_code == 0
    assert _jsonl(out.read_text(encoding="utf-8")) == _jsonl(jsonl_run.stdout)


def test_quarantine_file_holds_the_refused_rows(runner: CliRunner, tmp_path: Path) -> None:
    q = tmp_path / "q.jsonl"
    result = _run(runner, "--format", "jsonl", "--quarantine", str(q))
    assert result.exit_code == 0
    records = _jsonl(q.read_text(encoding="utf-8"))
    assert len(records) == 3
    for r in records:
        assert {"file", "line", "field", "reason"} <= set(r)
        assert r["file"] == EVENTS
        assert r["reason"]
    assert [(r["line"], r["field"]) for r in records] == [
        (6, "time"),
        (10, "amount_cny"),
        (13, None),
    ]
    assert "25:00" in records[0]["reason"]
    assert "JSON" in records[2]["reason"]


def test_param_raises_the_canteen_limit(runner: CliRunner) -> None:
    result = _run(runner, "--format", "jsonl", "--param", "P6-canteen.free_meals_per_month=4")
    assert result.exit_code == 0
    assert _keys(_jsonl(result.stdout)) == {p for p in PLANTED if p[0] != "P6-canteen"}


def test_param_errors_exit_2(runner: CliRunner) -> None:
    result = _run(runner, "--param", "P6-canteen.free_meals_per_month")
    assert result.exit_code == 2
    assert "error[bad-param]" in result.stderr
    result = _run(runner, "--param", "P6-canteen.free_meal=4")
    assert result.exit_code == 2
    assert "error[unknown-param]" in result.stderr
    assert "did you mean 'free_meals_per_month'?" in result.stderr


def test_disable_removes_a_rule(runner: CliRunner) -> None:
    result = _run(runner, "--format", "jsonl", "--disable", "P8")
    assert result.exit_code == 0
    assert _keys(_jsonl(result.stdout)) == {p for p in PLANTED if p[0] != "P8"}


def test_disable_unknown_rule_exits_2(runner: CliRunner) -> None:
    result = _run(runner, "--disable", "P88")
    assert result.exit_code == 2
    assert "error[unknown-rule]" in result.stderr
    assert "did you mean 'P8'?" in result.stderr


def test_pack_override_file(runner: CliRunner, tmp_path: Path) -> None:
    county = tmp_path / "county.yaml"
    county.write_text("extends: ten-prohibitions\ndisable: [P2]\n", encoding="utf-8")
    result = _run(runner, "--format", "jsonl", "--pack", RULES, "--pack", str(county))
    assert result.exit_code == 0
    assert _keys(_jsonl(result.stdout)) == {p for p in PLANTED if p[0] != "P2"}


def test_missing_reference_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = _invoke(runner, "run", EVENTS, "--reference", str(missing))
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert "error[reference-missing]" in result.stderr


def test_missing_events_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = _invoke(runner, "run", str(missing), "--reference", REFERENCE)
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert "error[input-file]" in result.stderr


# ------------------------------------------------------------------------------ validate


def test_validate_bundled_packs(runner: CliRunner) -> None:
    result = _invoke(runner, "validate")
    assert result.exit_code == 0
    assert re.search(r"ok: 4 pack\(s\), \d+ active rule\(s\)", result.stdout)


def test_validate_broken_pack_prints_located_errors(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = FAILING_TEST_PACK.replace("    when:", "    wehn:")
    broken.write_text(text, encoding="utf-8")
    result = _invoke(runner, "validate", str(broken))
    assert result.exit_code == 2
    assert f"{broken}:12:5: error[pack-schema]: unknown key 'wehn'" in result.stderr
    assert "hint: did you mean 'when'?" in result.stderr


def test_validate_reports_every_expression_error(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = FAILING_TEST_PACK.replace("on: card_txn", "on: card_tx").replace(
        '"{cadre_id} spent', '"{cadre} spent'
    )
    broken.write_text(text, encoding="utf-8")
    result = _invoke(runner, "validate", str(broken))
    assert result.exit_code == 2
    assert f"{broken}:11:9: error[unknown-event-type]" in result.stderr
    assert "did you mean 'card_txn'?" in result.stderr


# ------------------------------------------------------------------------------ test


def test_test_bundled_rules_all_pass(runner: CliRunner) -> None:
    result = _invoke(runner, "test", RULES)
    assert result.exit_code == 0, result.stdout
    last = [line for line in result.stdout.splitlines() if line.strip()][-1]
    match = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert match is not None, last
    assert int(match.group(1)) >= 20


def test_test_failing_embedded_test_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "demo.yaml"
    pack.write_text(FAILING_TEST_PACK, encoding="utf-8")
    result = _invoke(runner, "test", str(pack), env={"COLUMNS": "200"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert any(
        line.startswith("FAIL demo :: the expectation is wrong") and "demo.yaml:" in line
        for line in lines
    )
    assert not any(line.startswith("PASS") for line in lines)  # passing tests only with -v
    missing = [line.strip() for line in lines if line.strip().startswith("missing:")]
    unexpected = [line.strip() for line in lines if line.strip().startswith("unexpected:")]
    assert len(missing) == 1 and '"subject":"K02"' in missing[0]
    assert len(unexpected) == 1 and "subject=K01" in unexpected[0]
    assert "evidence=[a1]" in unexpected[0]


def test_test_verbose_lists_passing_tests(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "demo.yaml"
    pack.write_text(FAILING_TEST_PACK, encoding="utf-8")
    result = _invoke(runner, "test", str(pack), "-v", "--backend", "python")
    assert result.exit_code == 1
    assert any(
        line.startswith("PASS demo :: a big spend fires") for line in result.stdout.splitlines()
    )


def test_test_output_lines_are_not_wrapped(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "demo.yaml"
    pack.write_text(FAILING_TEST_PACK, encoding="utf-8")
    result = _invoke(runner, "test", str(pack), env={"COLUMNS": "80"})
    unexpected = [line for line in result.stdout.splitlines() if "unexpected:" in line]
    assert "evidence=[a1]" in unexpected[0]


def test_test_on_a_broken_pack_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("pack: [\n", encoding="utf-8")
    result = _invoke(runner, "test", str(broken))
    assert result.exit_code == 2
    assert "error[yaml-syntax]" in result.stderr


# ------------------------------------------------------------------------------ list, schema


def test_list_shows_the_rule_ids(runner: CliRunner) -> None:
    result = _invoke(runner, "list", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for rule_id in ("D1", "P2", "P6-canteen", "P8", "A3-promise"):
        assert re.search(rf"\b{re.escape(rule_id)}\b", result.stdout), rule_id
    assert "ten-prohibitions@1.0.0" in result.stdout


def test_list_marks_disabled_rules(runner: CliRunner, tmp_path: Path) -> None:
    county = tmp_path / "county.yaml"
    county.write_text("extends: ten-prohibitions\ndisable: [P8]\n", encoding="utf-8")
    result = _invoke(runner, "list", RULES, str(county), env={"COLUMNS": "200"})
    assert result.exit_code == 0
    p8 = next(line for line in result.stdout.splitlines() if " P8 " in line)
    assert "disabled" in p8


def test_list_shows_whole_rule_ids_at_80_columns(runner: CliRunner) -> None:
    result = _invoke(runner, "list", env={"COLUMNS": "80"})
    for rule_id in ("P6-canteen", "A3-promise"):
        assert rule_id in result.stdout, rule_id


def test_schema_card_txn(runner: CliRunner) -> None:
    result = _invoke(runner, "schema", "card_txn")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "amount_cny" in schema["properties"]
    assert "amount_cny" in schema["required"]


def test_schema_unknown_name_suggests(runner: CliRunner) -> None:
    result = _invoke(runner, "schema", "card_tx")
    assert result.exit_code == 2
    assert "did you mean 'card_txn'?" in result.stderr


def test_schema_all(runner: CliRunner) -> None:
    result = _invoke(runner, "schema")
    assert result.exit_code == 0
    schemas = json.loads(result.stdout)
    assert {"card_txn", "checkin", "canteen_meal"} <= set(schemas)


# ------------------------------------------------------------------------------ explain


def test_explain_shows_the_rule_of_a_finding(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    assert _run(runner, "--format", "jsonl", "--out", str(out)).exit_code == 0
    finding = next(f for f in _jsonl(out.read_text("utf-8")) if f["rule_id"] == "P6-canteen")
    result = _invoke(runner, "explain", finding["id"][:10], "--findings", str(out))
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["finding"]["id"] == finding["id"]
    rule = shown["rule"]
    assert rule["rule_id"] == "P6-canteen"
    assert rule["clause"] == "不准在生活上让基层补贴"
    assert rule["kind"] == "threshold"
    assert rule["params"] == {"free_meals_per_month": 3}
    assert rule["having"] == "free_meals > 3"
    assert [c["type"] for c in rule["conditions"]] == ["canteen_meal"]


def test_explain_unknown_id_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    assert _run(runner, "--format", "jsonl", "--out", str(out)).exit_code == 0
    result = _invoke(runner, "explain", "zzzz", "--findings", str(out))
    assert result.exit_code == 2
    assert "0 findings match" in result.stderr


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = _invoke(runner)
    assert "run" in result.output and "validate" in result.output


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = _invoke(runner, "--help")
    assert result.exit_code == 0
    for name in ("run", "validate", "test", "list", "schema", "explain"):
        assert name in result.stdout
