"""Findings as JSON Lines and CSV (Chinese headers optional), safe for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

from fourin_rules.model.finding import Finding

CSV_COLUMNS: Sequence[tuple[str, str]] = (
    ("id", "线索编号"),
    ("rule_id", "规则"),
    ("clause", "条款"),
    ("severity", "等级"),
    ("subject", "对象"),
    ("window_start", "开始"),
    ("window_end", "结束"),
    ("title", "标题"),
    ("message", "内容"),
    ("evidence", "证据"),
    ("negative_evidence", "未找到的记录"),
    ("needs_review", "需人工复核"),
    ("status", "状态"),
    ("pack", "规则包"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Make text inert in a spreadsheet: a leading = + - @ (a formula) gets a quote prefix."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def findings_to_jsonl(findings: Iterable[Finding]) -> str:
    """One JSON object a line, in the contract's field order."""
    return "".join(orjson.dumps(f.to_json_dict()).decode() + "\n" for f in findings)


def _row(f: Finding) -> dict[str, str]:
    return {
        "id": f.id,
        "rule_id": f.rule_id,
        "clause": f.clause,
        "severity": f.severity,
        "subject": f"{f.subject.kind}:{f.subject.id}",
        "window_start": f.window.start.isoformat(),
        "window_end": f.window.end.isoformat(),
        "title": f.title.zh,
        "message": f.message.zh,
        "evidence": " ".join(f"{e.type}:{e.id}" for e in f.evidence),
        "negative_evidence": " | ".join(f.negative_evidence),
        "needs_review": "是" if f.needs_review else "否",
        "status": f.status,
        "pack": f"{f.pack.id}@{f.pack.version}",
    }


def findings_to_csv(findings: Iterable[Finding], *, chinese_headers: bool = True) -> str:
    """CSV with one finding a row; every cell neutralised against formula injection."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([zh if chinese_headers else key for key, zh in CSV_COLUMNS])
    for f in findings:
        row = _row(f)
        writer.writerow([neutralise(row[key]) for key, _ in CSV_COLUMNS])
    return buf.getvalue()


def write_findings(findings: Sequence[Finding], path: str | Path, fmt: str) -> None:
    """Write findings to ``path`` as ``jsonl`` or ``csv`` (CSV with a BOM, for Excel)."""
    p = Path(path)
    if fmt == "jsonl":
        p.write_text(findings_to_jsonl(findings), encoding="utf-8")
    elif fmt == "csv":
        p.write_text(findings_to_csv(findings), encoding="utf-8-sig")
    else:
        raise ValueError(f"unknown format {fmt!r}")
