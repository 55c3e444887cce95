"""Renderers of findings: JSON Lines, CSV, a terminal table. Each takes findings, returns text
or writes a file; none changes a finding."""

from fourin_rules.reports.flat import findings_to_csv, findings_to_jsonl, write_findings
from fourin_rules.reports.table import print_summary, summary_table

__all__ = [
    "findings_to_csv",
    "findings_to_jsonl",
    "print_summary",
    "summary_table",
    "write_findings",
]
