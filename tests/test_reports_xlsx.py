"""The Excel report: sheets, headers, rows, filters, frozen headers, dates, names, and cells that
stay text whatever a merchant or a message says (no formula injection)."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from typer.testing import CliRunner

from fourin_rules.cli import app
from fourin_rules.engine import Engine
from fourin_rules.ingest import IngestStats
from fourin_rules.model.clauses import CLAUSES, EMPTY_POST
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import load_reference
from fourin_rules.reference import ReferenceIndex
from fourin_rules.reports.xlsx import FINDING_COLUMNS, clause_sheet_names, write_xlsx

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "small"
HEADERS = [c[0] for c in FINDING_COLUMNS]
EVIL = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def make_finding(**over: Any) -> Finding:
    data: dict[str, Any] = {
        "id": "f1",
        "rule_id": "P8",
        "pack": {"id": "ten-prohibitions", "version": "1.0.0"},
        "clause": "不准公款娱乐",
        "title": {"zh": "公款娱乐", "en": "Entertainment"},
        "severity": "high",
        "subject": {"kind": "cadre", "id": "K01"},
        "window": {"start": "2026-03-06T21:30:00+08:00", "end": "2026-03-06T22:30:00+08:00"},
        "evidence": [{"type": "card_txn", "id": "card-1"}],
        "negative_evidence": [],
        "message": {"zh": "张伟在KTV消费860元", "en": "spent 860 CNY"},
    }
    data.update(over)
    return Finding.model_validate(data)


def synthetic() -> list[Finding]:
    """Five findings over four clauses, three cadres and a group, one of them provisional."""
    return [
        make_finding(
            id="d1",
            rule_id="D1",
            pack={"id": "duty-presence", "version": "1.0.0"},
            clause=EMPTY_POST,
            title={"zh": "空岗", "en": "Empty post"},
            severity="medium",
            subject={"kind": "cadre", "id": "K02"},
            window={"start": "2026-03-04T00:00:00+08:00", "end": "2026-03-05T00:00:00+08:00"},
            evidence=[],
            negative_evidence=["上午签到：未找到", "未找到已批准的请假"],
            message={"zh": "李娜(K02)于2026-03-04空岗", "en": "empty post"},
        ),
        make_finding(),
        make_finding(
            id="p6",
            rule_id="P6-canteen",
            clause="不准在生活上让基层补贴",
            severity="low",
            status="provisional",
            window={"start": "2026-03-01T00:00:00+08:00", "end": "2026-04-01T00:00:00+08:00"},
            evidence=[{"type": "canteen_meal", "id": f"meal-{i}"} for i in range(4)],
        ),
        make_finding(
            id="p2",
            rule_id="P2",
            clause="不准占用基层车辆",
            subject={"kind": "cadre", "id": "K03"},
            window={"start": "2026-03-07T19:10:00+08:00", "end": "2026-03-07T19:50:00+08:00"},
        ),
        make_finding(
            id="a1",
            rule_id="A1",
            pack={"id": "three-avoidances", "version": "1.0.0"},
            clause="避免流于形式",
            severity="info",
            needs_review=True,
            subject={"kind": "group", "id": "G1"},
            window={"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-09T00:00:00+08:00"},
        ),
    ]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    stats = IngestStats(read=10, valid=7, duplicate=1, conflict=1, late=0, quarantined=1)
    reference = load_reference(SMALL / "reference.yaml")
    write_xlsx(synthetic(), path, reference=reference, stats=stats, title="三月检查")
    return load_workbook(path)


def _rows(ws: Any) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(values_only=True))


def test_sheets_are_all_findings_then_clauses_in_seed_order_then_summary_and_notes(
    book: Workbook,
) -> None:
    assert book.sheetnames == [
        "全部线索",
        "01 保证每天在乡镇(街道)工作,决不能出现空岗",
        "04 不准占用基层车辆",
        "08 不准在生活上让基层补贴",
        "10 不准公款娱乐",
        "13 避免流于形式",
        "人员汇总",
        "说明",
    ]


def test_all_findings_sheet_has_chinese_headers_and_one_row_per_finding(book: Workbook) -> None:
    ws = book["全部线索"]
    rows = _rows(ws)
    assert list(rows[0]) == HEADERS
    assert len(rows) == 1 + 5
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:P6"
    assert [r[0] for r in rows[1:]] == ["d1", "f1", "p6", "p2", "a1"]  # the order given
    d1 = dict(zip(HEADERS, rows[1], strict=True))
    assert d1["条款"] == EMPTY_POST
    assert d1["等级"] == "中"
    assert (d1["对象类型"], d1["对象"], d1["姓名"]) == ("干部", "K02", "李娜")
    assert d1["内容"] == "李娜(K02)于2026-03-04空岗"
    assert d1["未找到的记录"].splitlines() == ["上午签到：未找到", "未找到已批准的请假"]
    assert d1["证据"] is None
    assert (d1["需人工复核"], d1["状态"], d1["规则包"]) == ("否", "确定", "duty-presence@1.0.0")
    p6 = dict(zip(HEADERS, rows[3], strict=True))
    assert p6["状态"] == "暂定" and p6["等级"] == "低"
    assert p6["证据"].splitlines() == [f"canteen_meal:meal-{i}" for i in range(4)]
    a1 = dict(zip(HEADERS, rows[5], strict=True))
    assert (a1["对象类型"], a1["姓名"], a1["等级"], a1["需人工复核"]) == (
        "工作组",
        "第一工作组",
        "提示",
        "是",
    )


def test_dates_are_local_excel_datetimes_with_a_number_format(book: Workbook) -> None:
    row = next(r for r in book["全部线索"].iter_rows(min_row=2) if r[1].value == "P2")
    assert row[7].value == datetime(2026, 3, 7, 19, 10)  # naive, Asia/Shanghai wall time
    assert row[7].is_date and row[7].number_format == "yyyy-mm-dd hh:mm"
    assert row[8].value == datetime(2026, 3, 7, 19, 50)


def test_times_are_converted_to_the_reference_time_zone(tmp_path: Path) -> None:
    f = make_finding(window={"start": "2026-03-06T13:30:00Z", "end": "2026-03-06T14:00:00Z"})
    path = tmp_path / "utc.xlsx"
    write_xlsx([f], path, reference=load_reference(SMALL / "reference.yaml"))
    assert load_workbook(path)["全部线索"]["H2"].value == datetime(2026, 3, 6, 21, 30)
    write_xlsx([f], path)  # without reference data: the finding's own offset
    assert load_workbook(path)["全部线索"]["H2"].value == datetime(2026, 3, 6, 13, 30)


def test_each_clause_sheet_holds_only_its_clause(book: Workbook) -> None:
    for name in book.sheetnames[1:-2]:
        ws = book[name]
        rows = _rows(ws)
        assert list(rows[0]) == HEADERS
        assert len(rows) == 2
        assert name[3:] == rows[1][2]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:P2"


def test_summary_counts_per_subject_most_serious_first(book: Workbook) -> None:
    ws = book["人员汇总"]
    rows = _rows(ws)
    assert list(rows[0]) == ["对象", "姓名", "合计", "高", "中", "低", "提示", "需复核", "涉及条款"]
    assert [r[:8] for r in rows[1:]] == [
        ("干部 K01", "张伟", 2, 1, 0, 1, 0, 0),
        ("干部 K03", "王强", 1, 1, 0, 0, 0, 0),
        ("干部 K02", "李娜", 1, 0, 1, 0, 0, 0),
        ("工作组 G1", "第一工作组", 1, 0, 0, 0, 1, 1),
    ]
    assert rows[1][8].splitlines() == ["不准在生活上让基层补贴", "不准公款娱乐"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:I5"


def test_notes_sheet_has_title_run_counts_and_column_meanings(book: Workbook) -> None:
    ws = book["说明"]
    rows = dict(_rows(ws)[1:])
    assert rows["报告标题 title"] == "三月检查"
    assert rows["覆盖期间 period"].startswith("2026-03-01 00:00 至 2026-04-01 00:00")
    assert rows["读取事件 read"] == 10
    assert rows["有效 valid"] == 7
    assert rows["重复 duplicate"] == 1
    assert rows["冲突 conflict"] == 1
    assert rows["迟到 late"] == 0
    assert rows["隔离(拒收) quarantined"] == 1
    assert rows["问题线索 findings"] == 5
    assert rows["  其中高 high"] == 2 and rows["  其中提示 info"] == 1
    assert rows["  需人工复核 needs review"] == 1 and rows["  暂定 provisional"] == 1
    for header in HEADERS:
        assert f"列 {header}" in rows
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:B{ws.max_row}"


def test_the_run_of_examples_small_as_a_workbook(tmp_path: Path) -> None:
    engine = Engine(None, SMALL / "reference.yaml")
    result = engine.run_files([SMALL / "events.jsonl"])
    path = tmp_path / "small.xlsx"
    write_xlsx(result.findings, path, reference=engine.index, stats=result.stats)
    wb = load_workbook(path)
    rows = _rows(wb["全部线索"])
    assert len(rows) == 1 + len(result.findings)
    d1 = next(r for r in rows if r[1] == "D1" and r[5] == "K02")
    assert d1[6] == "李娜" and d1[7] == datetime(2026, 3, 4)
    assert d1[10].startswith("李娜(K02)于2026-03-04在城关镇空岗")
    notes = dict(_rows(wb["说明"])[1:])
    assert (notes["读取事件 read"], notes["有效 valid"], notes["重复 duplicate"]) == (71, 67, 1)
    assert notes["隔离(拒收) quarantined"] == 3
    assert notes["问题线索 findings"] == len(result.findings)
    assert len(wb.sheetnames) == 3 + len({f.clause for f in result.findings})


@pytest.mark.parametrize("evil", EVIL)
def test_formula_like_text_is_stored_as_quoted_text_never_a_formula(
    evil: str, tmp_path: Path
) -> None:
    f = make_finding(
        message={"zh": evil, "en": evil},
        title={"zh": evil, "en": "t"},
        negative_evidence=[evil],
        evidence=[{"type": "card_txn", "id": evil}],
        subject={"kind": "cadre", "id": evil},
    )
    path = tmp_path / "evil.xlsx"
    write_xlsx([f], path, title=evil)
    wb = load_workbook(path)
    ws = wb["全部线索"]
    row = dict(zip(HEADERS, next(ws.iter_rows(min_row=2, max_row=2)), strict=True))
    for header in ("内容", "标题", "未找到的记录", "对象"):
        cell = row[header]
        assert cell.data_type == "s"
        # XML turns a stored CR into LF on reading; the quote is what matters.
        assert cell.value == "'" + evil.replace("\r", "\n")
    # The evidence cell starts with "card_txn:", so it is harmless as it is.
    assert row["证据"].value == "card_txn:" + evil.replace("\r", "\n")
    assert row["证据"].data_type == "s"
    assert wb["人员汇总"]["A2"].data_type == "s"
    assert dict(_rows(wb["说明"])[1:])["报告标题 title"] == "'" + evil.replace("\r", "\n")
    # And no sheet of the file holds a formula element at all.
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >]", z.read(name)), name


def test_characters_xml_forbids_do_not_break_the_workbook(tmp_path: Path) -> None:
    f = make_finding(message={"zh": "坏\x00字\x07符\x1b", "en": "x"})
    path = tmp_path / "ctrl.xlsx"
    write_xlsx([f], path)
    value = load_workbook(path)["全部线索"]["K2"].value
    assert value == "坏\ufffd字\ufffd符\ufffd"


def test_names_come_from_reference_data_or_index_and_are_blank_without(tmp_path: Path) -> None:
    data = load_reference(SMALL / "reference.yaml")
    findings = [
        make_finding(),
        make_finding(id="f2", subject={"kind": "group", "id": "G1"}, cadre_id=None),
        make_finding(id="f3", subject={"kind": "township", "id": "T02"}, cadre_id=None),
        make_finding(id="f4", subject={"kind": "cadre", "id": "K99"}),
    ]
    expected = ["张伟", "第一工作组", "杨桥镇", None]
    for i, reference in enumerate((data, ReferenceIndex(data))):
        path = tmp_path / f"names{i}.xlsx"
        write_xlsx(findings, path, reference=reference)
        names = [r[6] for r in _rows(load_workbook(path)["全部线索"])[1:]]
        assert names == expected
    path = tmp_path / "bare.xlsx"
    write_xlsx(findings, path)
    kinds = [(r[4], r[6]) for r in _rows(load_workbook(path)["全部线索"])[1:]]
    assert kinds == [("干部", None), ("工作组", None), ("乡镇", None), ("干部", None)]


def test_no_findings_still_gives_the_fixed_sheets_with_headers(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    write_xlsx([], path, stats=IngestStats(read=2, valid=2))
    wb = load_workbook(path)
    assert wb.sheetnames == ["全部线索", "人员汇总", "说明"]
    ws = wb["全部线索"]
    assert _rows(ws) == [tuple(HEADERS)]
    assert ws.auto_filter.ref == "A1:P1" and ws.freeze_panes == "A2"
    notes = dict(_rows(wb["说明"])[1:])
    assert notes["读取事件 read"] == 2 and notes["问题线索 findings"] == 0


def test_clause_sheet_names_are_legal_short_and_unique() -> None:
    odd = "不准[乱]:*?/\\" + "很长" * 30
    names = clause_sheet_names([*CLAUSES, odd])
    assert len(set(names.values())) == len(CLAUSES) + 1
    for name in names.values():
        assert 0 < len(name) <= 31
        assert not set(name) & set("[]:*?/\\")
        assert not name.startswith("'") and not name.endswith("'")
    assert names[EMPTY_POST] == "01 保证每天在乡镇(街道)工作,决不能出现空岗"
    assert names[odd].startswith(f"{len(CLAUSES) + 1} 不准_乱______很长")


def test_excel_column_widths_are_set(book: Workbook) -> None:
    ws = book["全部线索"]
    assert ws.column_dimensions["K"].width == 60  # 内容, the message
    assert ws.column_dimensions["A"].width == 22


# ------------------------------------------------------------------------------ CLI


def _run(*extra: str) -> Any:
    return CliRunner().invoke(
        app,
        ["run", str(SMALL / "events.jsonl"), "-r", str(SMALL / "reference.yaml"), *extra],
    )


def test_cli_xlsx_without_out_exits_2_with_a_message() -> None:
    result = _run("--format", "xlsx")
    assert result.exit_code == 2
    assert "--out" in result.stderr and "xlsx" in result.stderr


def test_cli_xlsx_writes_the_workbook_with_its_title(tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    result = _run("--format", "xlsx", "--out", str(out), "--title", "县纪委三月检查")
    assert result.exit_code == 0, result.stderr
    wb = load_workbook(out)
    assert len(_rows(wb["全部线索"])) == 6
    notes = dict(_rows(wb["说明"])[1:])
    assert notes["报告标题 title"] == "县纪委三月检查"
    assert notes["读取事件 read"] == 71
