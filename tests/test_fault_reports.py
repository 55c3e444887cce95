"""Fault and abuse suite, reports: hostile text in events and reference data flows through a
real run (the bundled P8 rule, 不准公款娱乐) into every output, and stays text.

Events carry a merchant name ``<script>alert(1)</script>`` and ``=HYPERLINK("http://x","y")``;
the reference data gives cadres names that are a formula and markup, so that hostile text also
opens a cell (the bundled P8 message starts with the cadre's name: a spreadsheet only reads a
cell as a formula by its first character). The run goes through the ``fourin-rules run``
command into HTML, CSV, XLSX and JSONL files.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from rich.console import Console
from typer.testing import CliRunner

from fourin_rules.cli import app
from fourin_rules.engine import Engine
from fourin_rules.reports.table import print_summary

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "rules" / "fixtures" / "small-county.yaml"

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'
NAMES = {"K02": FORMULA, "K03": "@SUM(1+1)", "K04": "<img src=x onerror=alert(2)>"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _card(event_id: str, cadre: str, merchant: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "card_txn",
        "id": event_id,
        "time": "2026-03-12T21:30:00+08:00",
        "cadre_id": cadre,
        "amount_cny": 860,
        "merchant_name": merchant,
        "mcc": "7911",
        **extra,
    }


EVENTS = [
    _card("x1", "K01", SCRIPT, reimbursed_claim_id="R9"),
    _card("x2", "K02", FORMULA),
    _card("x3", "K03", "-1+2"),
    _card("x4", "K04", f"{SCRIPT}{FORMULA}"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the bundled packs, written in every format by the command line."""
    folder = tmp_path_factory.mktemp("hostile")
    reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    for cadre in reference["cadres"]:
        cadre["name"] = NAMES.get(cadre["cadre_id"], cadre["name"])
    ref = folder / "reference.yaml"
    ref.write_text(yaml.safe_dump(reference, allow_unicode=True), encoding="utf-8")
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    outputs = {}
    runner = CliRunner()
    for fmt in ("html", "csv", "xlsx", "jsonl"):
        out = folder / f"report.{fmt}"
        result = runner.invoke(
            app, ["run", str(events), "-r", str(ref), "-f", fmt, "-o", str(out), "--no-progress"]
        )
        assert result.exit_code == 0, result.output
        outputs[fmt] = out
    findings = Engine(None, ref).run(EVENTS).findings
    p8 = {f.evidence[0].id: f for f in findings if f.rule_id == "P8"}
    assert sorted(p8) == ["x1", "x2", "x3", "x4"]  # the hostile text made real findings
    return {"out": outputs, "p8": p8}


def test_html_escapes_every_hostile_text(run: dict[str, Any]) -> None:
    page = run["out"]["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert page.count("<script") == 1  # the page's own, allowed by its hash in the CSP
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)" in page
    # Inside attributes too: no quote from the data ends an attribute early.
    for attribute in re.findall(r'\s[a-z-]+="([^"]*)"', page):
        assert "<" not in attribute


def test_csv_cells_are_inert(run: dict[str, Any]) -> None:
    text = run["out"]["csv"].read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_START), cell
    message = header.index("内容")
    by_id = {row[header.index("线索编号")]: row for row in body}
    p8 = run["p8"]
    # The formula that opens a cell gets a quote; the one inside it is inert as it is.
    assert by_id[p8["x2"].id][message] == "'" + p8["x2"].message.zh
    assert by_id[p8["x2"].id][message].startswith("'" + FORMULA)
    assert by_id[p8["x3"].id][message].startswith("'@SUM(1+1)")
    assert FORMULA in by_id[p8["x4"].id][message] and SCRIPT in by_id[p8["x1"].id][message]


def test_xlsx_stores_strings_never_formulas(run: dict[str, Any]) -> None:
    path = run["out"]["xlsx"]
    book = load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not cell.value.startswith(FORMULA_START), cell.value
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    sheet = book["全部线索"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    p8 = run["p8"]
    x2 = rows[p8["x2"].id]
    assert x2[header.index("姓名")] == "'" + FORMULA
    assert x2[header.index("内容")] == "'" + p8["x2"].message.zh
    assert rows[p8["x3"].id][header.index("姓名")] == "'@SUM(1+1)"
    assert SCRIPT in rows[p8["x1"].id][header.index("内容")]


def test_jsonl_keeps_the_exact_text(run: dict[str, Any]) -> None:
    lines = run["out"]["jsonl"].read_text(encoding="utf-8").splitlines()
    findings = [json.loads(line) for line in lines]
    p8 = {f["evidence"][0]["id"]: f for f in findings if f["rule_id"] == "P8"}
    assert p8["x1"]["facts"]["merchant_name"] == SCRIPT
    assert p8["x2"]["facts"]["merchant_name"] == FORMULA
    assert p8["x4"]["facts"]["merchant_name"] == SCRIPT + FORMULA
    assert p8["x2"]["message"]["zh"].startswith(FORMULA)  # not quoted: JSON is not a sheet
    assert f"在{SCRIPT}(MCC 7911)" in p8["x1"]["message"]["zh"]
    assert p8["x2"]["message"] == run["p8"]["x2"].message.model_dump()


@pytest.mark.parametrize(
    "cadre", ["[/]", "[link=http://evil.example]K9[/link]", "\x1b]8;;http://evil.example\x07K8"]
)
def test_the_terminal_summary_prints_ids_as_text(cadre: str) -> None:
    findings = Engine(None, REFERENCE, backend="python").run([_card("x1", cadre, "KTV")]).findings
    buffer = io.StringIO()
    print_summary(findings, Console(file=buffer, force_terminal=True, width=200))
    shown = buffer.getvalue()
    if "\x1b" not in cadre:
        assert cadre in shown  # as typed, brackets and all
    assert "\x1b]8;" not in shown  # no hyperlink escape reaches the terminal
