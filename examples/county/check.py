"""Run the bundled packs over examples/county and compare the findings with its ground truth.

Run: python examples/county/check.py [--dir examples/county] [--backend durable|python]

A finding matches a line of ground_truth.jsonl when the rule, the subject and the local date of
the window start agree, and the evidence ids too when the line gives them; each line matches
at most one finding. Prints recall and precision per rule and exits 1 unless both are 100% for
every rule, every rule has at least two lines of truth, no finding touches a near-miss of its
rule (near_misses.jsonl), and no row was quarantined.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from fourin_rules.engine import Engine
from fourin_rules.model.finding import Finding

MIN_TRUTH_PER_RULE = 2


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _describe(f: Finding, start: str) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "subject_kind": f.subject.kind,
        "subject_id": f.subject.id,
        "window_start": start,
        "evidence": sorted(e.id for e in f.evidence),
        "message": f.message.zh,
    }


def evaluate(dir: str | Path, backend: str = "durable") -> dict[str, Any]:
    """Run the bundled packs over the county in ``dir`` and score the findings per rule.

    Returns a dict with ``rules`` (per rule id: truth, found, tp, recall, precision),
    ``totals``, ``false_negatives``, ``false_positives``, ``near_miss_hits``, ``problems`` (all
    reasons to fail), ``ok``, ``finding_ids``, ``event_types``, ``stats`` (ingest counts) and
    ``seconds`` (engine time).
    """
    folder = Path(dir)
    began = time.perf_counter()
    engine = Engine(None, folder / "reference.yaml", backend=backend)
    result = engine.run_files([folder / "events.jsonl"])
    seconds = time.perf_counter() - began
    tz = engine.calendar.tz
    truth = _jsonl(folder / "ground_truth.jsonl")
    near = _jsonl(folder / "near_misses.jsonl")
    rule_ids = sorted(r.rule_id for r in engine.plan.rules)

    findings = result.findings
    starts = [f.window.start.astimezone(tz).date().isoformat() for f in findings]
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for i, f in enumerate(findings):
        by_key.setdefault((f.rule_id, f.subject.id, starts[i]), []).append(i)
    taken: set[int] = set()
    false_negatives, problems = [], []
    tp: dict[str, int] = {}
    # Lines with evidence first, so that a line without it cannot take the finding they name.
    for line in sorted(truth, key=lambda t: "evidence" not in t):
        wanted = set(line["evidence"]) if "evidence" in line else None
        candidates = by_key.get((line["rule_id"], line["subject_id"], line["window_start"]), [])
        hit = next(
            (
                i
                for i in candidates
                if i not in taken
                and (wanted is None or {e.id for e in findings[i].evidence} == wanted)
            ),
            None,
        )
        if hit is None:
            false_negatives.append(line)
            continue
        taken.add(hit)
        tp[line["rule_id"]] = tp.get(line["rule_id"], 0) + 1
        kind = findings[hit].subject.kind
        if line.get("subject_kind", kind) != kind:
            problems.append(
                f"{line['rule_id']} {line['subject_id']}: subject kind {kind}, "
                f"the ground truth says {line['subject_kind']}"
            )
    false_positives = [_describe(f, starts[i]) for i, f in enumerate(findings) if i not in taken]

    near_hits = []
    for n in near:
        ids = set(n["event_ids"])
        for i, f in enumerate(findings):
            if f.rule_id != n["rule_id"] or n.get("subject_id") not in (None, f.subject.id):
                continue  # a shared event may rightly make another subject's finding
            touches = bool(ids & {e.id for e in f.evidence})
            same = n.get("subject_id") is not None and n.get("date") in (None, starts[i])
            if touches or same:
                near_hits.append({"near_miss": n, "finding": _describe(f, starts[i])})

    rules: dict[str, dict[str, Any]] = {}
    known = set(rule_ids)
    for rule in rule_ids:
        n_truth = sum(1 for t in truth if t["rule_id"] == rule)
        found = sum(1 for f in findings if f.rule_id == rule)
        hits = tp.get(rule, 0)
        rules[rule] = {
            "truth": n_truth,
            "found": found,
            "tp": hits,
            "recall": hits / n_truth if n_truth else 1.0,
            "precision": hits / found if found else (1.0 if not n_truth else 0.0),
        }
        if n_truth < MIN_TRUTH_PER_RULE:
            problems.append(
                f"{rule}: {n_truth} expected findings in the ground truth, "
                f"fewer than {MIN_TRUTH_PER_RULE}"
            )
    covered = {n["rule_id"] for n in near}
    problems += [
        f"{rule}: no near-miss in near_misses.jsonl" for rule in rule_ids if rule not in covered
    ]
    problems += [
        f"ground truth names an unknown rule {t['rule_id']}"
        for t in truth
        if t["rule_id"] not in known
    ]
    problems += [
        f"missed: {fn['rule_id']} {fn['subject_id']} {fn['window_start']} ({fn.get('note', '')})"
        for fn in false_negatives
    ]
    problems += [
        f"unexpected: {fp['rule_id']} {fp['subject_id']} {fp['window_start']} {fp['message']}"
        for fp in false_positives
    ]
    problems += [
        f"near-miss hit: {h['finding']['rule_id']} {h['finding']['subject_id']} "
        f"{h['finding']['window_start']} "
        f"({h['near_miss']['reason']})"
        for h in near_hits
    ]
    stats = result.stats.to_dict()
    if stats["quarantined"] or stats["late"] or stats["conflict"]:
        problems.append(f"rows not evaluated: {stats}")
    problems += [f"rule error: {e}" for e in result.errors]

    total_truth, total_found, total_tp = len(truth), len(findings), len(taken)
    types: dict[str, int] = {}
    for e in _jsonl(folder / "events.jsonl"):
        types[e["type"]] = types.get(e["type"], 0) + 1
    return {
        "backend": backend,
        "rules": rules,
        "totals": {
            "truth": total_truth,
            "found": total_found,
            "tp": total_tp,
            "recall": total_tp / total_truth if total_truth else 1.0,
            "precision": total_tp / total_found if total_found else 1.0,
        },
        "false_negatives": false_negatives,
        "false_positives": false_positives,
        "near_miss_hits": near_hits,
        "near_misses": len(near),
        "problems": problems,
        "ok": not problems,
        "finding_ids": sorted(f.id for f in findings),
        "event_types": types,
        "stats": stats,
        "seconds": seconds,
    }


def render(report: dict[str, Any]) -> str:
    """The per-rule table, the totals and every problem, as text."""
    lines = [f"{'rule':<15}{'truth':>6}{'found':>7}{'tp':>5}{'recall':>9}{'precision':>11}"]
    for rule, r in report["rules"].items():
        lines.append(
            f"{rule:<15}{r['truth']:>6}{r['found']:>7}{r['tp']:>5}{r['recall']:>9.0%}{r['precision']:>11.0%}"
        )
    t = report["totals"]
    lines.append(
        f"{'total':<15}{t['truth']:>6}{t['found']:>7}{t['tp']:>5}{t['recall']:>9.0%}{t['precision']:>11.0%}"
    )
    s = report["stats"]
    lines.append(
        f"events {s['read']} (valid {s['valid']}, quarantined {s['quarantined']}) "
        f"of {len(report['event_types'])} types; "
        f"{len(report['finding_ids'])} findings; {report['near_misses']} near-misses, "
        f"{len(report['near_miss_hits'])} touched; "
        f"{report['backend']} backend {report['seconds']:.1f}s"
    )
    lines += [f"  {p}" for p in report["problems"]]
    lines.append("OK" if report["ok"] else f"FAILED: {len(report['problems'])} problems")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent)
    parser.add_argument("--backend", choices=["durable", "python"], default="durable")
    args = parser.parse_args(argv)
    report = evaluate(args.dir, args.backend)
    print(render(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
