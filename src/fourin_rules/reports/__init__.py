"""Renderers of findings: JSON Lines, CSV, a terminal table, an Excel workbook, an HTML page.
Each takes findings, returns text or writes a file; none changes a finding."""

from fourin_rules.reports.flat import findings_to_csv, findings_to_jsonl, write_findings
from fourin_rules.reports.html import render_html, write_html
from fourin_rules.reports.table import print_summary, summary_table
from fourin_rules.reports.xlsx import write_xlsx

__all__ = [
    "findings_to_csv",
    "findings_to_jsonl",
    "print_summary",
    "render_html",
    "summary_table",
    "write_findings",
    "write_html",
    "write_xlsx",
]
