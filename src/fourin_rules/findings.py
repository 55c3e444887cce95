"""Building findings: deterministic ids, rendered messages, stable order.

A finding's id is a content hash of (pack id, rule id, subject, window, evidence), so the same
inputs and packs give the same id on every run, whatever the order or batching of events. The pack
*version* is left out on purpose: a lead keeps its id when the county upgrades the bundled packs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from fourin_rules.expr import EvalContext
from fourin_rules.model.finding import Finding
from fourin_rules.plan import RulePlan
from fourin_rules.timeutil import to_iso

SEVERITY_ORDER = {"info": 0, "low": 1, "medium": 2, "high": 3}


def finding_id(
    rule: RulePlan,
    subject_kind: str,
    subject_id: str,
    start: datetime,
    end: datetime,
    evidence: Sequence[tuple[str, str]],
) -> str:
    """The deterministic id: 20 hex digits of a SHA-256 over the finding's identity."""
    payload = orjson.dumps(
        [
            rule.pack_id,
            rule.rule_id,
            subject_kind,
            subject_id,
            to_iso(start),
            to_iso(end),
            sorted([list(e) for e in evidence]),
        ]
    )
    return hashlib.sha256(payload).hexdigest()[:20]


def event_ref(event: Mapping[str, Any]) -> tuple[str, str]:
    return (event["type"], event["id"])


def json_ready(value: Any) -> Any:
    """``value`` with times and dates as ISO text, tuples as lists, mappings as dicts."""
    if isinstance(value, datetime):
        return to_iso(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    return value


def make_finding(
    rule: RulePlan,
    env: Any,
    *,
    subject_id: str,
    start: datetime,
    end: datetime,
    evidence: Iterable[tuple[str, str]],
    ctx: EvalContext,
    severity: str | None = None,
    negative_evidence: Sequence[str] = (),
    status: str = "final",
    facts: Mapping[str, Any] | None = None,
    subject_kind: str | None = None,
) -> Finding:
    """Assemble a finding; messages are rendered from the rule's templates with ``ctx``."""
    refs = sorted(set(evidence))
    subject_kind = subject_kind or rule.subject_kind
    fid = finding_id(rule, subject_kind, subject_id, start, end, refs)
    data: dict[str, Any] = {
        "id": fid,
        "rule_id": rule.rule_id,
        "pack": {"id": rule.pack_id, "version": rule.pack_version},
        "clause": rule.clause,
        "title": {"zh": rule.title[0], "en": rule.title[1]},
        "severity": severity or rule.severity,
        "subject": {"kind": subject_kind, "id": subject_id},
        "cadre_id": subject_id if subject_kind == "cadre" else None,
        "window": {"start": start, "end": end},
        "evidence": [{"type": t, "id": i} for t, i in refs],
        "negative_evidence": list(negative_evidence),
        "message": {"zh": rule.message[0].render(ctx), "en": rule.message[1].render(ctx)},
        "needs_review": rule.needs_review,
        "status": status,
        "params": json_ready(dict(rule.params)),
        "tags": list(rule.tags),
        "facts": json_ready(dict(facts or {})),
    }
    return Finding.model_validate(data)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable output order: window start, rule, subject, id."""
    return sorted(findings, key=lambda f: (f.window.start, f.rule_id, f.subject.id, f.id))
