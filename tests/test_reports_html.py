"""The HTML report: self-contained, escaped, with counts, charts, the empty-post calendar, the
timeline and the findings table; rendered by a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fourin_rules.cli import app
from fourin_rules.engine import Engine
from fourin_rules.ingest import IngestStats
from fourin_rules.model.clauses import EMPTY_POST
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData, load_reference
from fourin_rules.reports.html import render_html, write_html

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "small"
XSS = "<script>alert(1)</script>\"onmouseover=alert(2) x='y' &amp;"
VOID = {"meta", "br", "input", "link", "img", "hr", "wbr"}
SVG_SELF_CLOSING = {"rect", "line", "circle"}


def make_finding(**over: Any) -> Finding:
    data: dict[str, Any] = {
        "id": "f1",
        "rule_id": "D1",
        "pack": {"id": "duty-presence", "version": "1.0.0"},
        "clause": EMPTY_POST,
        "title": {"zh": "空岗", "en": "Empty post"},
        "severity": "medium",
        "subject": {"kind": "cadre", "id": "K02"},
        "window": {"start": "2026-03-04T00:00:00+08:00", "end": "2026-03-05T00:00:00+08:00"},
        "evidence": [],
        "negative_evidence": ["未找到签到 / no check-in"],
        "message": {"zh": "李娜空岗", "en": "empty post"},
    }
    data.update(over)
    return Finding.model_validate(data)


class _Balance(HTMLParser):
    """Checks that every opened element is closed in order (a broken-out attribute or tag from
    unescaped text would show up here)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, _ in attrs:
            if name.startswith("on"):
                self.errors.append(f"event handler attribute {name} on <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SVG_SELF_CLOSING:
            self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _balanced(text: str) -> _Balance:
    checker = _Balance()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    return checker


@pytest.fixture(scope="module")
def small() -> tuple[Engine, Any]:
    engine = Engine(None, SMALL / "reference.yaml")
    return engine, engine.run_files([SMALL / "events.jsonl"])


@pytest.fixture(scope="module")
def small_html(small: tuple[Engine, Any]) -> str:
    engine, result = small
    return render_html(result.findings, reference=engine.index, stats=result.stats)


def test_text_from_findings_and_reference_is_escaped_everywhere() -> None:
    data = load_reference(SMALL / "reference.yaml").model_dump()
    data["cadres"][1]["name"] = XSS
    f = make_finding(
        id=XSS,
        rule_id=XSS,
        message={"zh": XSS, "en": XSS},
        title={"zh": XSS, "en": XSS},
        negative_evidence=[XSS],
        evidence=[{"type": XSS, "id": XSS}],
        subject={"kind": "cadre", "id": "K02"},
    )
    g = make_finding(
        id="g", subject={"kind": "group", "id": XSS}, cadre_id=None, clause="不准公款娱乐"
    )
    text = render_html([f, g], reference=ReferenceData.model_validate(data), title=XSS)
    assert "<script>alert" not in text
    assert '"onmouseover' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(2) x=&#x27;y&#x27;" in text
    assert "&amp;amp;" in text  # an entity in the data stays text, not markup
    checker = _balanced(text)
    assert checker.scripts == 1  # ours, and only ours


def test_only_our_script_may_run_and_nothing_may_be_fetched(small_html: str) -> None:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', small_html)
    assert csp is not None
    policy = csp.group(1)
    assert "default-src 'none'" in policy
    script = re.search(r"<script>(.*?)</script>", small_html, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


def test_the_page_loads_nothing_from_the_network(small_html: str) -> None:
    assert "http://" not in small_html and "https://" not in small_html
    assert not re.search(r"""\b(src|href|xlink:href|url)\s*[=(]""", small_html, re.I)
    assert "@import" not in small_html


def test_a_url_in_a_message_stays_text(tmp_path: Path) -> None:
    f = make_finding(message={"zh": '=HYPERLINK("http://x/a.js","y")', "en": "https://x"})
    text = render_html([f])
    assert "=HYPERLINK(&quot;http://x/a.js&quot;,&quot;y&quot;)" in text
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:|//)""", text, re.I)


def test_header_shows_title_period_and_run_counts(
    small_html: str, small: tuple[Engine, Any]
) -> None:
    assert "<h1>四进攻坚纪律检查问题线索</h1>" in small_html
    assert "2026-03-01 00:00 至 2026-04-01 00:00 (Asia/Shanghai)" in small_html
    counts = re.search(r'<div class="cards" id="counts">(.*?)</header>', small_html, re.S)
    assert counts is not None
    shown = dict(
        (label, int(n))
        for n, label in re.findall(r"<b>(\d+)</b><span>[^<]* (\w+)</span>", counts.group(1))
    )
    assert shown == {
        "read": 71,
        "valid": 67,
        "duplicate": 1,
        "conflict": 0,
        "late": 0,
        "quarantined": 3,
        "findings": len(small[1].findings),
    }


def test_counts_by_severity_and_clause() -> None:
    findings = [
        make_finding(),
        make_finding(id="d2", severity="high", needs_review=True),
        make_finding(id="p8", clause="不准公款娱乐", severity="high"),
        make_finding(
            id="p6", clause="不准在生活上让基层补贴", severity="low", status="provisional"
        ),
        make_finding(id="p6b", clause="不准在生活上让基层补贴", severity="info"),
    ]
    text = render_html(findings)
    sev = dict(re.findall(r'<b data-severity="(\w+)">(\d+)</b>', text))
    assert sev == {"high": "2", "medium": "1", "low": "1", "info": "1"}
    assert "<b>1</b><span>需人工复核 needs review</span>" in text
    assert "<b>1</b><span>暂定 provisional</span>" in text
    chart = re.search(r'<svg id="clause-chart".*?</svg>', text, re.S)
    assert chart is not None
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', chart.group(0))
    assert bars == [
        f"{EMPTY_POST} · 高 high: 1",
        f"{EMPTY_POST} · 中 medium: 1",
        "不准在生活上让基层补贴 · 低 low: 1",
        "不准在生活上让基层补贴 · 提示 info: 1",
        "不准公款娱乐 · 高 high: 1",
    ]
    # Bars are to scale: the longest row (2 findings) is twice as long as a row of one.
    widths = [float(w) for w in re.findall(r'class="bar"[^>]*width="([\d.]+)"', chart.group(0))]
    assert widths[0] + widths[1] == pytest.approx(2 * widths[4])


def test_calendar_marks_the_empty_post_days_only(
    small_html: str, small: tuple[Engine, Any]
) -> None:
    cal = re.search(r'<svg id="d1-calendar".*?</svg>', small_html, re.S)
    assert cal is not None
    marks = re.findall(r'class="d1-mark" data-cadre="(\w+)" data-day="([\d-]+)"', cal.group(0))
    expected = {
        (f.cadre_id, f.window.start.date().isoformat())
        for f in small[1].findings
        if f.clause == EMPTY_POST
    }
    assert ("K02", "2026-03-04") in expected  # planted in examples/small
    assert sorted(marks) == sorted(expected)
    # One row per dispatched cadre (K04 has no assignment), one column per day of March.
    for name in ("张伟(K01)", "李娜(K02)", "王强(K03)"):
        assert f">{name}</text>" in cal.group(0)
    assert "赵敏" not in cal.group(0)
    assert cal.group(0).count('stroke="#ddd"') == 3 * 31 - len(expected)


def test_calendar_marks_every_day_of_a_longer_empty_post_window() -> None:
    f = make_finding(
        window={"start": "2026-03-09T00:00:00+08:00", "end": "2026-03-11T00:00:00+08:00"}
    )
    marks = re.findall(r'data-day="([\d-]+)"', render_html([f]))
    assert marks == ["2026-03-09", "2026-03-10"]


def test_timeline_has_a_dot_per_finding_on_its_subject_row(
    small_html: str, small: tuple[Engine, Any]
) -> None:
    line = re.search(r'<svg id="timeline-chart".*?</svg>', small_html, re.S)
    assert line is not None
    dots = re.findall(r'<g class="dot" data-finding="(\w+)">', line.group(0))
    assert sorted(dots) == sorted(f.id for f in small[1].findings)
    assert line.group(0).count("<circle") == len(small[1].findings)


def test_table_lists_every_finding_with_its_fields(
    small_html: str, small: tuple[Engine, Any]
) -> None:
    body = re.search(r"<tbody>(.*)</tbody>", small_html, re.S)
    assert body is not None
    rows = re.findall(r"<tr data-severity=.*?</tr>", body.group(1), re.S)
    assert len(rows) == len(small[1].findings) >= 5
    d1 = next(r for r in rows if ">D1<" in r)
    assert "李娜(K02)" in d1 and "2026-03-04 00:00" in d1 and "中 medium" in d1
    assert "<li>未找到覆盖该时段的已批准的请假 / no approved leave covering it</li>" in d1
    assert '确定<br><span class="en">final</span>' in d1 and "否 no" in d1
    p6 = next(r for r in rows if ">P6-canteen<" in r)
    assert "<li>canteen_meal:meal-3</li>" in p6 and '暂定<br><span class="en">provisional' in p6
    # The filter box is hidden until the script shows it: without JS the page is all there.
    assert '<input id="q" type="search" hidden' in small_html
    _balanced(small_html)


def test_no_findings_renders_an_empty_report() -> None:
    text = render_html([], stats=IngestStats(read=1, quarantined=1))
    assert "无线索 no findings" in text
    assert "<tbody></tbody>" in text
    _balanced(text)


def test_write_html_writes_utf8(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    write_html([make_finding()], path, title="三月")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "<title>三月</title>" in path.read_text(encoding="utf-8")


def test_cli_html_needs_out_and_writes_the_report(tmp_path: Path) -> None:
    args = ["run", str(SMALL / "events.jsonl"), "-r", str(SMALL / "reference.yaml")]
    result = CliRunner().invoke(app, [*args, "--format", "html"])
    assert result.exit_code == 2
    assert "--out" in result.stderr and "html" in result.stderr
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, [*args, "-f", "html", "-o", str(out), "--title", "T<1>"])
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "<h1>T&lt;1&gt;</h1>" in text and 'data-day="2026-03-04"' in text


# ------------------------------------------------------------------------------ browser


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "chromium is not installed, and the HTML report must be checked in a browser: "
            "apt-get update && apt-get install -y chromium"
        )
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, timeout=60, check=True)


def test_chromium_renders_the_report_of_examples_small(
    small: tuple[Engine, Any], tmp_path: Path
) -> None:
    engine, result = small
    page = tmp_path / "report.html"
    write_html(result.findings, page, reference=engine.index, stats=result.stats)
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    body = re.search(r"<tbody>(.*)</tbody>", dom, re.S)
    assert body is not None
    assert len(re.findall(r"<tr data-severity=", body.group(1))) == len(result.findings) >= 5
    for fid in (f.id for f in result.findings):
        assert f'id="f-{fid}"' in dom
    for chart in ("clause-chart", "d1-calendar", "timeline-chart"):
        assert f'<svg id="{chart}"' in dom
    assert 'class="d1-mark" data-cadre="K02" data-day="2026-03-04"' in dom
    # The script ran under the page's Content-Security-Policy: it marked the page, showed the box.
    assert 'data-js="on"' in dom
    assert re.search(r'<input id="q" type="search" placeholder', dom)

    shot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2000", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
