"""Findings as an Excel workbook for inspectors: all leads, one sheet per clause, a per-subject
summary and a sheet that explains the run and the columns.

Times are written as real Excel datetimes in the dataset's local time (the reference data's time
zone, else the offset the finding carries), without a zone, formatted ``yyyy-mm-dd hh:mm``: Excel
has no time zones, and a real date sorts and filters as a date. Every text cell is neutralised
against formula injection and stored as a string, never as a formula.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from fourin_rules.model.clauses import CLAUSES
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData
from fourin_rules.reference import ReferenceIndex
from fourin_rules.reports.flat import neutralise

__all__ = [
    "DEFAULT_TITLE",
    "FINDING_COLUMNS",
    "ReportContext",
    "clause_sheet_names",
    "stats_counts",
    "write_xlsx",
]

DEFAULT_TITLE = "四进攻坚纪律检查问题线索"
DATE_FORMAT = "yyyy-mm-dd hh:mm"
SEVERITIES = ("high", "medium", "low", "info")
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低", "info": "提示"}
STATUS_ZH = {"provisional": "暂定", "final": "确定"}
KIND_ZH = {"cadre": "干部", "group": "工作组", "township": "乡镇"}
STATS_ZH = {
    "read": "读取事件",
    "valid": "有效",
    "duplicate": "重复",
    "conflict": "冲突",
    "late": "迟到",
    "quarantined": "隔离(拒收)",
}
_SEVERITY_FILL = {"high": "F4CCCC", "medium": "FCE5CD", "low": "FFF2CC", "info": "DDEBF7"}
_MAX_CELL = 32_000  # Excel refuses cells over 32,767 characters
_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})

#: The columns of the finding sheets: (header, what it means, width, wraps).
FINDING_COLUMNS: Sequence[tuple[str, str, int, bool]] = (
    ("线索编号", "线索的唯一编号，每次运行相同 / finding id, stable across runs", 22, False),
    ("规则", "规则编号 / rule id", 12, False),
    ("条款", "所依据的纪律条款原文 / the clause the rule enforces", 26, True),
    ("等级", "高/中/低/提示 / severity high, medium, low, info", 6, False),
    ("对象类型", "干部/工作组/乡镇 / subject kind", 9, False),
    ("对象", "对象编号 / subject id", 10, False),
    ("姓名", "对象姓名或名称(来自基础数据) / name from the reference data", 12, False),
    ("开始", "线索覆盖时段的开始(当地时间) / window start, local time", 17, False),
    ("结束", "线索覆盖时段的结束(当地时间，不含) / window end, local time, exclusive", 17, False),
    ("标题", "线索标题 / title", 22, True),
    ("内容", "线索说明 / message", 60, True),
    ("证据", "作为证据的事件(类型:编号，每行一条) / evidence events, type:id", 28, True),
    ("未找到的记录", "查找过但未找到的记录 / what was searched for and not found", 50, True),
    ("需人工复核", "是: 须经人工核实后方可使用 / needs a person's review", 10, False),
    ("状态", "确定, 或暂定(数据截止后可能变化) / final, or provisional", 8, False),
    ("规则包", "规则包及版本 / rule pack and version", 24, False),
)


def _text(value: str) -> str:
    """A string safe to store: no characters XML forbids, not too long, no formula start."""
    clean = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)[:_MAX_CELL]
    return neutralise(clean)


def _set(ws: Worksheet, row: int, col: int, value: Any) -> None:
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = _text(value)
        # Belt and braces: whatever the value, a text cell is a string, never a formula.
        cell.data_type = "s"
    else:
        cell.value = value
        if isinstance(value, datetime):
            cell.number_format = DATE_FORMAT


class ReportContext:
    """Names and local time for reports, from the optional reference data (shared by the
    workbook and the HTML report)."""

    def __init__(self, reference: ReferenceData | ReferenceIndex | None) -> None:
        if isinstance(reference, ReferenceData):
            reference = ReferenceIndex(reference)
        self.index = reference
        self.tz = ZoneInfo(reference.timezone) if reference is not None else None

    def name(self, kind: str, subject_id: str) -> str:
        """The name of a cadre, group or township; empty when unknown."""
        if self.index is None:
            return ""
        if kind == "cadre":
            record = self.index.cadre(subject_id)
        elif kind == "group":
            record = self.index.group(subject_id)
        else:
            record = self.index.unit(subject_id)
        return str(record.get("name") or "") if record else ""

    def dispatched(self) -> list[str]:
        """Ids of the cadres with an assignment in the reference data, in its order."""
        if self.index is None:
            return []
        return list(dict.fromkeys(a.cadre_id for a in self.index.data.assignments))

    def local(self, moment: datetime) -> datetime:
        """Naive local time (the dataset's time zone, else the offset ``moment`` carries)."""
        return (moment.astimezone(self.tz) if self.tz else moment).replace(tzinfo=None)


def _finding_row(f: Finding, ctx: ReportContext) -> list[Any]:
    return [
        f.id,
        f.rule_id,
        f.clause,
        SEVERITY_ZH[f.severity],
        KIND_ZH.get(f.subject.kind, f.subject.kind),
        f.subject.id,
        ctx.name(f.subject.kind, f.subject.id),
        ctx.local(f.window.start),
        ctx.local(f.window.end),
        f.title.zh,
        f.message.zh,
        "\n".join(f"{e.type}:{e.id}" for e in f.evidence),
        "\n".join(f.negative_evidence),
        "是" if f.needs_review else "否",
        STATUS_ZH[f.status],
        f"{f.pack.id}@{f.pack.version}",
    ]


def _table(
    ws: Worksheet,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int],
    wraps: Sequence[bool],
    severity_col: int | None = None,
) -> None:
    """Header row, data rows, frozen header, autofilter over the table, widths and wrapping."""
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="D9D9D9")
    for col, header in enumerate(headers, start=1):
        _set(ws, 1, col, header)
        ws.cell(row=1, column=col).font = bold
        ws.cell(row=1, column=col).fill = head_fill
    n = 1
    zh_to_sev = {v: k for k, v in SEVERITY_ZH.items()}
    for n, row in enumerate(rows, start=2):
        for col, value in enumerate(row, start=1):
            _set(ws, n, col, value)
            if wraps[col - 1]:
                ws.cell(row=n, column=col).alignment = Alignment(wrap_text=True, vertical="top")
            else:
                ws.cell(row=n, column=col).alignment = Alignment(vertical="top")
        if severity_col is not None:
            sev = zh_to_sev.get(str(row[severity_col - 1]))
            if sev:
                ws.cell(row=n, column=severity_col).fill = PatternFill(
                    "solid", fgColor=_SEVERITY_FILL[sev]
                )
    last = get_column_letter(len(headers))
    ws.auto_filter.ref = f"A1:{last}{n}"
    ws.freeze_panes = "A2"
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width


def _finding_sheet(ws: Worksheet, findings: Sequence[Finding], ctx: ReportContext) -> None:
    _table(
        ws,
        [c[0] for c in FINDING_COLUMNS],
        (_finding_row(f, ctx) for f in findings),
        [c[2] for c in FINDING_COLUMNS],
        [c[3] for c in FINDING_COLUMNS],
        severity_col=4,
    )


def clause_sheet_names(clauses: Iterable[str]) -> dict[str, str]:
    """A short, unique, legal sheet name for each clause, numbered in the seed's clause order.

    >>> clause_sheet_names(["不准公款娱乐"])
    {'不准公款娱乐': '10 不准公款娱乐'}
    """
    order = {c: i for i, c in enumerate(CLAUSES, start=1)}
    names: dict[str, str] = {}
    extra = len(CLAUSES)
    for clause in sorted(set(clauses), key=lambda c: (order.get(c, len(order) + 1), c)):
        if clause in order:
            number = order[clause]
        else:
            extra += 1
            number = extra
        # A sheet name: at most 31 characters, none of []:*?/\, no quote at either end.
        short = clause.translate(_BAD_SHEET_CHARS).strip("' ")[:27]
        names[clause] = f"{number:02d} {short}".rstrip()
    return names


def _summary_rows(findings: Sequence[Finding], ctx: ReportContext) -> list[list[Any]]:
    by_subject: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_subject.setdefault((f.subject.kind, f.subject.id), []).append(f)
    order = {c: i for i, c in enumerate(CLAUSES)}
    rows = []
    for (kind, sid), items in by_subject.items():
        sev = Counter(f.severity for f in items)
        clauses = sorted({f.clause for f in items}, key=lambda c: order.get(c, len(order)))
        rows.append(
            [
                f"{KIND_ZH.get(kind, kind)} {sid}",
                ctx.name(kind, sid),
                len(items),
                *(sev.get(s, 0) for s in SEVERITIES),
                sum(f.needs_review for f in items),
                "\n".join(clauses),
            ]
        )
    # Most serious first: by high, then medium, then total, then the subject.
    rows.sort(key=lambda r: (-r[3], -r[4], -r[2], r[0]))
    return rows


def _explain_rows(
    findings: Sequence[Finding], ctx: ReportContext, stats: Any, title: str
) -> list[list[Any]]:
    rows: list[list[Any]] = [["报告标题 title", title]]
    if findings:
        start = min(ctx.local(f.window.start) for f in findings)
        end = max(ctx.local(f.window.end) for f in findings)
        rows.append(
            ["覆盖期间 period", f"{start:%Y-%m-%d %H:%M} 至 {end:%Y-%m-%d %H:%M} (当地时间)"]
        )
    counts = stats_counts(stats)
    for key, zh in STATS_ZH.items():
        if key in counts:
            rows.append([f"{zh} {key}", counts[key]])
    rows.append(["问题线索 findings", len(findings)])
    sev = Counter(f.severity for f in findings)
    for s in SEVERITIES:
        rows.append([f"  其中{SEVERITY_ZH[s]} {s}", sev.get(s, 0)])
    rows.append(["  需人工复核 needs review", sum(f.needs_review for f in findings)])
    rows.append(["  暂定 provisional", sum(f.status == "provisional" for f in findings)])
    rows.append(
        [
            "时间 times",
            "开始/结束为Excel日期时间，数据集当地时间，不带时区 / "
            "Excel datetimes in the dataset's local time, without a zone",
        ]
    )
    rows.append(["提示 note", "线索是检查的线索，不是结论 / a finding is a lead, not a verdict"])
    for header, meaning, _, _ in FINDING_COLUMNS:
        rows.append([f"列 {header}", meaning])
    return rows


def stats_counts(stats: Any) -> dict[str, int]:
    """The ingest counts of ``stats`` (an IngestStats, a mapping, or None) as a dict."""
    if stats is None:
        return {}
    if isinstance(stats, Mapping):
        return {str(k): int(v) for k, v in stats.items()}
    keys = ("read", "valid", "duplicate", "conflict", "late", "quarantined")
    return {k: int(getattr(stats, k)) for k in keys if hasattr(stats, k)}


def write_xlsx(
    findings: Sequence[Finding],
    path: str | Path,
    *,
    reference: ReferenceData | ReferenceIndex | None = None,
    stats: Any = None,
    title: str = DEFAULT_TITLE,
) -> None:
    """Write findings as an .xlsx workbook to ``path``.

    Args:
        findings: the findings, in the order to list them.
        path: the file to write.
        reference: reference data, for names of cadres, groups and townships and the time zone.
        stats: the run's ``IngestStats`` (or a mapping of its counts), shown on 「说明」.
        title: the report title, shown on 「说明」 and in the workbook properties.
    """
    findings = list(findings)
    ctx = ReportContext(reference)
    wb = Workbook()
    ws = wb.active
    ws.title = "全部线索"
    _finding_sheet(ws, findings, ctx)
    by_clause: dict[str, list[Finding]] = {}
    for f in findings:
        by_clause.setdefault(f.clause, []).append(f)
    for clause, name in clause_sheet_names(by_clause).items():
        _finding_sheet(wb.create_sheet(name), by_clause[clause], ctx)
    summary = wb.create_sheet("人员汇总")
    headers = ["对象", "姓名", "合计", "高", "中", "低", "提示", "需复核", "涉及条款"]
    _table(
        summary,
        headers,
        _summary_rows(findings, ctx),
        [16, 12, 7, 6, 6, 6, 6, 8, 44],
        [False] * 8 + [True],
    )
    notes = wb.create_sheet("说明")
    _table(
        notes, ["项目", "内容"], _explain_rows(findings, ctx, stats, title), [28, 90], [False, True]
    )
    wb.properties.title = _text(title)
    wb.properties.creator = "fourin-rules"
    wb.save(Path(path))
