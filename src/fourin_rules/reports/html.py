"""Findings as one self-contained HTML page for inspectors: run counts, charts by clause and
severity, an empty-post calendar, a timeline per subject and the findings table.

Nothing is loaded from anywhere: CSS and the small script are inline, charts are SVG drawn here,
and a Content-Security-Policy forbids every fetch and any script but our own (by its hash). The
page shows everything without JavaScript; the script only adds the filter box and sorting. Every
text from findings or reference data is HTML-escaped, in elements and attributes alike.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fourin_rules.model.clauses import CLAUSES, EMPTY_POST
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData
from fourin_rules.reference import ReferenceIndex
from fourin_rules.reports.xlsx import (
    DEFAULT_TITLE,
    KIND_ZH,
    SEVERITIES,
    SEVERITY_ZH,
    STATS_ZH,
    STATUS_ZH,
    ReportContext,
    stats_counts,
)

__all__ = ["render_html", "write_html"]

SEVERITY_COLOUR = {"high": "#c62828", "medium": "#ef6c00", "low": "#f2b705", "info": "#1e88e5"}
_TABLE_HEADS = (
    "线索编号:id|规则:rule|条款:clause|等级:severity|对象:subject|时段:window|内容:message"
    "|证据:evidence|未找到的记录:not found|复核:review|状态:status"
)

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0;
 color:#222;background:#f6f7f9;font-size:14px}
header{background:#8b1a1a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:24px}.en{color:#777;font-weight:normal;font-size:.85em}
header .en{color:#f3d6d6}main{padding:8px 28px 28px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:12px 16px}
h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin-top:10px}
.card{background:#fff;color:#222;border-radius:5px;padding:6px 12px;min-width:72px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
.sev{display:inline-block;border-radius:3px;padding:1px 6px;color:#fff;font-size:12px;
 white-space:nowrap}.sev-low{color:#222}
.scroll{overflow-x:auto}svg text{font-size:12px;fill:#333}svg .small{font-size:10px;fill:#777}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#eee;position:sticky;top:0;cursor:pointer;white-space:nowrap}
td ul{margin:0;padding-left:16px}td.msg{min-width:220px}td.clause{min-width:110px}
td.neg{min-width:180px}
td.ev{min-width:150px;overflow-wrap:anywhere}
td.fid{max-width:96px;word-break:break-all}
td.nw{white-space:nowrap}code{font-size:12px}
.legend span{margin-right:14px}.note{color:#666;font-size:12px}
#q{padding:4px 8px;width:320px;margin-bottom:8px}
"""

_JS = """
(function(){var q=document.getElementById('q'),t=document.getElementById('findings');
if(!q||!t)return;document.documentElement.setAttribute('data-js','on');
var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),n=document.getElementById('shown');
q.hidden=false;q.addEventListener('input',function(){var s=q.value.trim().toLowerCase(),k=0;
rows.forEach(function(r){var v=!s||r.textContent.toLowerCase().indexOf(s)>=0;r.hidden=!v;
if(v)k++;});n.textContent=k;});
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.tabIndex=0;
function sort(){var asc=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
function key(r){var c=r.cells[i];return c.getAttribute('data-sort')||c.textContent;}
rows.sort(function(x,y){var c=key(x).localeCompare(key(y),'zh',{numeric:true});
return asc?c:-c;});rows.forEach(function(r){b.appendChild(r);});}
th.addEventListener('click',sort);
th.addEventListener('keydown',function(e){if(e.key==='Enter')sort();});});})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sev_badge(severity: str) -> str:
    colour = SEVERITY_COLOUR[severity]
    return (
        f'<span class="sev sev-{severity}" style="background:{colour}">'
        f"{SEVERITY_ZH[severity]} {severity}</span>"
    )


def _label(ctx: ReportContext, kind: str, subject_id: str) -> str:
    name = ctx.name(kind, subject_id)
    return f"{name}({subject_id})" if name else f"{KIND_ZH.get(kind, kind)} {subject_id}"


def _section(sid: str, zh: str, en: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{zh} <span class="en">{en}</span></h2>{body}</section>'


def _svg(sid: str, width: float, height: float, parts: list[str]) -> str:
    return (
        f'<div class="scroll"><svg id="{sid}" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg></div>'
    )


def _period(findings: Sequence[Finding], ctx: ReportContext) -> tuple[datetime, datetime] | None:
    if not findings:
        return None
    return (
        min(ctx.local(f.window.start) for f in findings),
        max(ctx.local(f.window.end) for f in findings),
    )


def _days(start: datetime, end: datetime) -> list[date]:
    """The local days from ``start`` to ``end`` (exclusive: a window ending at midnight stops
    the day before)."""
    last = max(start, end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=i) for i in range((last - start.date()).days + 1)]


def _header(findings: Sequence[Finding], ctx: ReportContext, stats: Any, title: str) -> str:
    period = _period(findings, ctx)
    when = (
        f"{period[0]:%Y-%m-%d %H:%M} 至 {period[1]:%Y-%m-%d %H:%M}"
        + (f" ({_e(ctx.index.timezone)})" if ctx.index else "")
        if period
        else "无线索 no findings"
    )
    counts = stats_counts(stats)
    cards = [
        f'<div class="card"><b>{counts[k]}</b><span>{zh} {k}</span></div>'
        for k, zh in STATS_ZH.items()
        if k in counts
    ]
    cards.append(f'<div class="card"><b>{len(findings)}</b><span>线索 findings</span></div>')
    return (
        f"<header><h1>{_e(title)}</h1>"
        '<div class="en">Discipline inspection leads (四进攻坚)</div>'
        f'<p id="period">覆盖期间 <span class="en">period</span>: {when}</p>'
        f'<div class="cards" id="counts">{"".join(cards)}</div></header>'
    )


def _by_severity(findings: Sequence[Finding]) -> str:
    sev = Counter(f.severity for f in findings)
    review = sum(f.needs_review for f in findings)
    provisional = sum(f.status == "provisional" for f in findings)
    cards = "".join(
        f'<div class="card" style="border-left:6px solid {SEVERITY_COLOUR[s]}">'
        f'<b data-severity="{s}">{sev.get(s, 0)}</b><span>{SEVERITY_ZH[s]} {s}</span></div>'
        for s in SEVERITIES
    )
    cards += (
        f'<div class="card"><b>{review}</b><span>需人工复核 needs review</span></div>'
        f'<div class="card"><b>{provisional}</b><span>暂定 provisional</span></div>'
    )
    return _section("by-severity", "按等级", "By severity", f'<div class="cards">{cards}</div>')


def _by_clause(findings: Sequence[Finding]) -> str:
    order = {c: i for i, c in enumerate(CLAUSES)}
    counts: dict[str, Counter[str]] = {}
    for f in findings:
        counts.setdefault(f.clause, Counter())[f.severity] += 1
    clauses = sorted(counts, key=lambda c: (order.get(c, len(order)), c))
    label_w, bar_w, row_h = 330, 500, 26
    top = max((sum(c.values()) for c in counts.values()), default=1)
    parts = []
    for i, clause in enumerate(clauses):
        y = 8 + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(clause)}</text>')
        x = float(label_w)
        for s in SEVERITIES:
            n = counts[clause].get(s, 0)
            if not n:
                continue
            w = bar_w * n / top
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="18" '
                f'fill="{SEVERITY_COLOUR[s]}"><title>{_e(clause)} · {SEVERITY_ZH[s]} {s}: {n}'
                "</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{sum(counts[clause].values())}</text>')
    height = 16 + len(clauses) * row_h
    legend = "".join(
        f'<span><span class="sev sev-{s}" style="background:{SEVERITY_COLOUR[s]}">'
        f"{SEVERITY_ZH[s]}</span> {s}</span>"
        for s in SEVERITIES
    )
    chart = _svg("clause-chart", label_w + bar_w + 60, height, parts)
    return _section(
        "by-clause", "按条款", "By clause", f'<div class="legend">{legend}</div>{chart}'
    )


def _calendar(findings: Sequence[Finding], ctx: ReportContext) -> str:
    period = _period(findings, ctx)
    if period is None:
        return _section("calendar", "空岗日历", "Empty-post days", "<p>无线索 no findings</p>")
    days = _days(*period)
    marks: dict[tuple[str, date], Finding] = {}
    for f in findings:
        if f.clause == EMPTY_POST and f.cadre_id:
            for d in _days(ctx.local(f.window.start), ctx.local(f.window.end)):
                marks.setdefault((f.cadre_id, d), f)
    cadres = ctx.dispatched() or [f.cadre_id for f in findings if f.cadre_id]
    cadres = list(dict.fromkeys(cadres + sorted({c for c, _ in marks})))
    label_w, cell, top = 130, 20, 34
    parts = []
    for j, d in enumerate(days):
        x = label_w + j * cell
        if j == 0 or d.day == 1:
            parts.append(f'<text class="small" x="{x}" y="11">{d:%Y-%m}</text>')
        parts.append(
            f'<text class="small" x="{x + cell / 2}" y="27" text-anchor="middle">{d.day}</text>'
        )
    for i, cadre in enumerate(cadres):
        y = top + i * cell
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">'
            f"{_e(_label(ctx, 'cadre', cadre))}</text>"
        )
        for j, d in enumerate(days):
            x = label_w + j * cell
            f = marks.get((cadre, d))
            if f is None:
                fill = "#eeeeee" if d.weekday() >= 5 else "#ffffff"
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                    f'fill="{fill}" stroke="#ddd"/>'
                )
                continue
            parts.append(
                f'<rect class="d1-mark" data-cadre="{_e(cadre)}" data-day="{d.isoformat()}" '
                f'x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{SEVERITY_COLOUR[f.severity]}"><title>{_e(_label(ctx, "cadre", cadre))} '
                f"{d.isoformat()} {_e(f.title.zh)} · {SEVERITY_ZH[f.severity]}\n"
                f"{_e(f.message.zh)}</title></rect>"
            )
    width = label_w + len(days) * cell + 10
    height = top + len(cadres) * cell + 6
    note = (
        '<p class="note">每格一天；彩色格为空岗线索(颜色表示等级)，浅灰为周六、周日'
        '(仅供参考，值班日以值班日历为准)。<span class="en">One cell a day; coloured: an '
        "empty-post finding; grey: Saturday/Sunday.</span></p>"
    )
    body = note + _svg("d1-calendar", width, height, parts)
    return _section("calendar", "空岗日历", "Empty-post days", body)


def _ticks(start: datetime, end: datetime) -> list[datetime]:
    span = (end - start).days
    step = 1 if span <= 14 else 7 if span <= 90 else 30
    first = datetime.combine(start.date(), datetime.min.time())
    if first < start:
        first += timedelta(days=1)
    return [first + timedelta(days=step * i) for i in range(int(span / step) + 2)]


def _timeline(findings: Sequence[Finding], ctx: ReportContext) -> str:
    period = _period(findings, ctx)
    if period is None:
        return _section("timeline", "时间线", "Timeline", "<p>无线索 no findings</p>")
    start, end = period
    total = max((end - start).total_seconds(), 1.0)
    label_w, plot_w, row_h, top = 150, 860, 28, 26

    def xpos(t: datetime) -> float:
        return label_w + plot_w * (t - start).total_seconds() / total

    by_subject: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_subject.setdefault((f.subject.kind, f.subject.id), []).append(f)
    subjects = sorted(by_subject, key=lambda s: (s[0] != "cadre", s[1]))
    height = top + len(subjects) * row_h + 8
    parts = []
    for t in _ticks(start, end):
        if t > end:
            break
        x = xpos(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#e3e3e3"/>'
            f'<text class="small" x="{x:.1f}" y="{top - 10}" text-anchor="middle">'
            f"{t:%m-%d}</text>"
        )
    for i, subject in enumerate(subjects):
        y = top + i * row_h + row_h / 2
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 4}" text-anchor="end">'
            f"{_e(_label(ctx, *subject))}</text>"
            f'<line x1="{label_w}" y1="{y}" x2="{label_w + plot_w}" y2="{y}" stroke="#ccc"/>'
        )
        for f in by_subject[subject]:
            x0, x1 = xpos(ctx.local(f.window.start)), xpos(ctx.local(f.window.end))
            colour = SEVERITY_COLOUR[f.severity]
            tip = (
                f"{_e(f.rule_id)} {_e(f.title.zh)} · {SEVERITY_ZH[f.severity]}\n"
                f"{ctx.local(f.window.start):%Y-%m-%d %H:%M} — "
                f"{ctx.local(f.window.end):%Y-%m-%d %H:%M}\n{_e(f.message.zh)}"
            )
            span = (
                f'<rect x="{x0:.1f}" y="{y - 4}" width="{x1 - x0:.1f}" height="8" rx="4" '
                f'fill="{colour}" opacity="0.3"/>'
                if x1 - x0 > 3
                else ""
            )
            parts.append(
                f'<g class="dot" data-finding="{_e(f.id)}">{span}<circle cx="{x0:.1f}" '
                f'cy="{y}" r="6" fill="{colour}" stroke="#fff"/><title>{tip}</title></g>'
            )
    width = label_w + plot_w + 30
    note = (
        '<p class="note">每个圆点是一条线索(开始时间)，浅色条为其覆盖时段；悬停可见详情。'
        '<span class="en">A dot per finding at its start; the bar is its window; hover for '
        "details.</span></p>"
    )
    body = note + _svg("timeline-chart", width, height, parts)
    return _section("timeline", "时间线", "Timeline per subject", body)


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in items) + "</ul>" if items else ""


def _table(findings: Sequence[Finding], ctx: ReportContext) -> str:
    heads = [h.split(":") for h in _TABLE_HEADS.split("|")]
    rank = {s: str(i) for i, s in enumerate(SEVERITIES)}
    rows = []
    for f in findings:
        start, end = ctx.local(f.window.start), ctx.local(f.window.end)
        rows.append(
            f'<tr data-severity="{f.severity}" id="f-{_e(f.id)}">'
            f'<td class="fid"><code>{_e(f.id)}</code></td>'
            f"<td>{_e(f.rule_id)}</td>"
            f'<td class="clause">{_e(f.clause)}</td>'
            f'<td data-sort="{rank[f.severity]}">{_sev_badge(f.severity)}</td>'
            f'<td class="nw">{_e(_label(ctx, f.subject.kind, f.subject.id))}</td>'
            f'<td class="nw" data-sort="{start.isoformat()}">{start:%Y-%m-%d %H:%M}<br>'
            f"{end:%Y-%m-%d %H:%M}</td>"
            f'<td class="msg"><b>{_e(f.title.zh)}</b><br>{_e(f.message.zh)}<br>'
            f'<span class="en">{_e(f.message.en)}</span></td>'
            f'<td class="ev">{_list([f"{e.type}:{e.id}" for e in f.evidence])}</td>'
            f'<td class="neg">{_list(f.negative_evidence)}</td>'
            f"<td>{'是 yes' if f.needs_review else '否 no'}</td>"
            f'<td>{STATUS_ZH[f.status]}<br><span class="en">{f.status}</span></td></tr>'
        )
    th = "".join(f'<th scope="col">{zh}<br><span class="en">{en}</span></th>' for zh, en in heads)
    return (
        '<section id="findings-section"><h2>线索明细 <span class="en">Findings</span> '
        f'(<span id="shown">{len(findings)}</span>/{len(findings)})</h2>'
        '<input id="q" type="search" hidden placeholder="筛选 filter: 姓名、规则、条款…" '
        'aria-label="filter">'
        f'<div class="scroll"><table id="findings"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def render_html(
    findings: Sequence[Finding],
    *,
    reference: ReferenceData | ReferenceIndex | None = None,
    stats: Any = None,
    title: str = DEFAULT_TITLE,
) -> str:
    """The report as one self-contained HTML document (see :func:`write_html`)."""
    findings = list(findings)
    ctx = ReportContext(reference)
    script_hash = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + _header(findings, ctx, stats, title)
        + "<main>"
        + _by_severity(findings)
        + _by_clause(findings)
        + _calendar(findings, ctx)
        + _timeline(findings, ctx)
        + _table(findings, ctx)
        + '<p class="note">线索是检查的线索，不是结论。<span class="en">A finding is a lead for '
        "an inspector, not a verdict.</span> fourin-rules</p></main>"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(
    findings: Sequence[Finding],
    path: str | Path,
    *,
    reference: ReferenceData | ReferenceIndex | None = None,
    stats: Any = None,
    title: str = DEFAULT_TITLE,
) -> None:
    """Write the findings report as one self-contained HTML file to ``path``.

    Args:
        findings: the findings, in the order to list them.
        path: the file to write (UTF-8).
        reference: reference data, for names and the time zone, and the calendar's cadre rows.
        stats: the run's ``IngestStats`` (or a mapping of its counts), shown in the header.
        title: the report title.
    """
    Path(path).write_text(
        render_html(findings, reference=reference, stats=stats, title=title), encoding="utf-8"
    )
