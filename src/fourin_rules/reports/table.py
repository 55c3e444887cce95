"""A terminal summary: findings by clause and severity, and the cadres with most findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fourin_rules.model.finding import Finding

SEVERITIES = ("high", "medium", "low", "info")


def _text(value: object) -> Text:
    """Data as plain text: never rich markup, and no control characters for the terminal."""
    return Text("".join(ch if ch.isprintable() else "\ufffd" for ch in str(value)))


SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低", "info": "提示"}


def summary_table(findings: Sequence[Finding]) -> Table:
    """Counts by clause (rows) and severity (columns)."""
    table = Table(title=f"问题线索汇总 Findings by clause ({len(findings)})")
    table.add_column("条款 Clause", no_wrap=True)
    for sev in SEVERITIES:
        table.add_column(f"{SEVERITY_ZH[sev]} {sev}", justify="right")
    table.add_column("需复核 review", justify="right")
    by_clause: dict[str, Counter[str]] = {}
    review: Counter[str] = Counter()
    for f in findings:
        by_clause.setdefault(f.clause, Counter())[f.severity] += 1
        review[f.clause] += f.needs_review
    for clause in sorted(by_clause):
        counts = by_clause[clause]
        table.add_row(
            _text(clause), *(str(counts.get(s, 0)) for s in SEVERITIES), str(review[clause])
        )
    return table


def top_subjects(
    findings: Sequence[Finding], limit: int = 10, names: Mapping[str, str] | None = None
) -> Table:
    """The subjects with most findings, high first (with names, when given)."""
    table = Table(title="线索最多的对象 Top subjects")
    for col in ("对象 Subject", "合计 Total", "高 High", "规则 Rules"):
        table.add_column(col)
    totals: Counter[str] = Counter(f"{f.subject.kind}:{f.subject.id}" for f in findings)
    highs: Counter[str] = Counter(
        f"{f.subject.kind}:{f.subject.id}" for f in findings if f.severity == "high"
    )
    rules: dict[str, set[str]] = {}
    for f in findings:
        rules.setdefault(f"{f.subject.kind}:{f.subject.id}", set()).add(f.rule_id)
    ranked = sorted(totals, key=lambda s: (-highs[s], -totals[s], s))[:limit]
    for s in ranked:
        name = (names or {}).get(s.split(":", 1)[1])
        label = f"{name}({s.split(':', 1)[1]})" if name else s
        table.add_row(
            _text(label), str(totals[s]), str(highs[s]), _text(", ".join(sorted(rules[s])))
        )
    return table


def print_summary(
    findings: Sequence[Finding],
    console: Console | None = None,
    names: Mapping[str, str] | None = None,
) -> None:
    """Print the clause summary and the top subjects (``names``: subject id -> name)."""
    console = console or Console()
    console.print(summary_table(findings))
    if findings:
        console.print(top_subjects(findings, names=names))
