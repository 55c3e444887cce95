"""Building findings: deterministic ids, rendered messages, stable order.

A finding's id is a content hash of (pack id, rule id, subject, window, evidence), so the same
inputs and packs give the same id on every run, whatever the order or batching of events. The pack
*version* is left out on purpose: a lead keeps its id when the county upgrades the bundled packs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from fourin_rules.expr import EvalContext
from fourin_rules.expr.template import pair_renderer
from fourin_rules.model.clauses import CLAUSES
from fourin_rules.model.finding import EvidenceRef, Finding, LocalText, PackRef, Subject, Window
from fourin_rules.plan import RulePlan
from fourin_rules.timeutil import to_iso

SEVERITY_ORDER = {"info": 0, "low": 1, "medium": 2, "high": 3}


def finding_id(
    rule: RulePlan,
    subject_kind: str,
    subject_id: str,
    start: datetime,
    end: datetime,
    refs: Sequence[Sequence[str]],
) -> str:
    """The deterministic id: 20 hex digits of a SHA-256 over the finding's identity, with
    ``refs`` the evidence sorted and distinct (orjson writes tuples and lists alike)."""
    payload = orjson.dumps(
        [rule.pack_id, rule.rule_id, subject_kind, subject_id, to_iso(start), to_iso(end), refs]
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


#: Values :func:`json_ready` gives back as they are (exact types: subclasses take the full path).
_AS_IS = frozenset({str, int, float, bool, type(None)})


def _ready_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """``json_ready(dict(values))``, without the call per scalar value."""
    return {k: v if type(v) in _AS_IS else json_ready(v) for k, v in values.items()}


# ----------------------------------------------------------------- trusted construction
#
# make_finding builds every field itself, so instead of letting pydantic validate a dict it
# checks the few things validation would refuse (types, literals, the window's order, the
# clause) and builds the models directly, the way ``model_construct`` does. Anything unusual
# goes through ``Finding.model_validate`` as before, so errors stay the same.

_SEVERITIES = frozenset({"high", "medium", "low", "info"})
_KINDS = frozenset({"cadre", "group", "township"})
_STATUSES = frozenset({"provisional", "final"})
_CLAUSE_SET = frozenset(CLAUSES)
_new = object.__new__
# The slots of every pydantic model, set straight through their descriptors (what
# ``object.__setattr__`` ends up calling, without looking the name up each time).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__

_M = TypeVar("_M", bound=BaseModel)


def _construct(cls: type[_M], values: dict[str, Any], fields_set: set[str] | None = None) -> _M:
    """A ``cls`` holding ``values`` (valid, every field, in field order), as validation makes."""
    m = _new(cls)
    _set_dict(m, values)
    _set_fields(m, set(values) if fields_set is None else fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


# The parts are frozen: pydantic never changes their fields-set in place (assignment is refused,
# copies copy it), so all parts of a class share one. That is one object fewer per part for the
# garbage collector to track: findings are long-lived and make many parts.
_EVIDENCE_SET = set(EvidenceRef.model_fields)
_TEXT_SET = set(LocalText.model_fields)
_SUBJECT_SET = set(Subject.model_fields)
_WINDOW_SET = set(Window.model_fields)
#: A finding's fields-set (all fields), copied for each: a finding's own may grow in place.
_FINDING_SET = set(Finding.model_fields)


@dataclass(frozen=True, slots=True)
class _RuleParts:
    """What every finding of one rule shares, built and checked once."""

    rule: RulePlan  # held so that its id() stays this rule's
    trusted: bool  # the rule's own fields pass the model's checks
    pack: PackRef | None
    title: LocalText | None
    params: dict[str, Any]  # json_ready(dict(rule.params))
    flat_params: bool  # a shallow copy of ``params`` is a fresh json_ready result
    tags: tuple[str, ...]
    render: Callable[[EvalContext], tuple[str, str]]  # the message, both languages


_RULES: dict[int, _RuleParts] = {}
_RULES_MAX = 4096


def _is_str(value: Any) -> bool:
    return type(value) is str


def _rule_parts(rule: RulePlan) -> _RuleParts:
    hit = _RULES.get(id(rule))
    if hit is not None and hit.rule is rule:
        return hit
    params = _ready_dict(dict(rule.params))
    title = rule.title
    trusted = (
        _is_str(rule.rule_id)
        and bool(rule.rule_id)
        and _is_str(rule.pack_id)
        and _is_str(rule.pack_version)
        and _is_str(rule.clause)
        and rule.clause in _CLAUSE_SET
        and _is_str(title[0])
        and _is_str(title[1])
        and type(rule.needs_review) is bool
        and all(map(_is_str, rule.tags))
        and all(map(_is_str, params))
    )
    parts = _RuleParts(
        rule=rule,
        trusted=trusted,
        pack=_construct(PackRef, {"id": rule.pack_id, "version": rule.pack_version})
        if trusted
        else None,
        title=_construct(LocalText, {"zh": title[0], "en": title[1]}) if trusted else None,
        params=params,
        flat_params=all(type(v) in _AS_IS for v in params.values()),
        tags=tuple(rule.tags),
        render=pair_renderer(rule.message[0], rule.message[1]),
    )
    if len(_RULES) >= _RULES_MAX:
        _RULES.clear()
    _RULES[id(rule)] = parts
    return parts


#: Whether the trusted construction gives what validation gives (checked on first use).
_TRUSTED_OK: bool | None = None


def _same(a: Finding, b: Finding) -> bool:
    return (
        a == b
        and a.model_dump() == b.model_dump()
        and a.model_dump_json() == b.model_dump_json()
        and repr(a) == repr(b)
        and a.model_fields_set == b.model_fields_set
        and all(
            getattr(a, k).model_fields_set == getattr(b, k).model_fields_set
            for k in ("pack", "title", "subject", "window", "message")
        )
    )


def _trusted(
    parts: _RuleParts,
    fid: str,
    subject_kind: str,
    subject_id: str,
    cadre_id: str | None,
    start: datetime,
    end: datetime,
    refs: list[tuple[str, str]],
    message: tuple[str, str],
    severity: str,
    negative: list[str],
    status: str,
    params: dict[str, Any],
    facts: dict[str, Any],
) -> Finding | None:
    """The finding built without validation, or None when validation must judge the values."""
    if not (
        parts.trusted
        and type(severity) is str
        and severity in _SEVERITIES
        and type(subject_kind) is str
        and subject_kind in _KINDS
        and type(subject_id) is str
        and type(status) is str
        and status in _STATUSES
        and type(start) is datetime  # and aware: to_iso refused naive ones for the id
        and type(end) is datetime
        and not end < start
        and all(map(_is_str, negative))
        and all(map(_is_str, facts))
    ):
        return None
    evidence = []
    for t, i in refs:
        if type(t) is not str or type(i) is not str:
            return None
        evidence.append(_construct(EvidenceRef, {"type": t, "id": i}, _EVIDENCE_SET))
    rule = parts.rule
    return _construct(
        Finding,
        {
            "id": fid,
            "rule_id": rule.rule_id,
            "pack": parts.pack,
            "clause": rule.clause,
            "title": parts.title,
            "severity": severity,
            "subject": _construct(Subject, {"kind": subject_kind, "id": subject_id}, _SUBJECT_SET),
            "cadre_id": cadre_id,
            "window": _construct(Window, {"start": start, "end": end}, _WINDOW_SET),
            "evidence": evidence,
            "negative_evidence": negative,
            "message": _construct(LocalText, {"zh": message[0], "en": message[1]}, _TEXT_SET),
            "needs_review": rule.needs_review,
            "status": status,
            "params": params,
            "tags": list(parts.tags),
            "facts": facts,
        },
        _FINDING_SET.copy(),
    )


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
    global _TRUSTED_OK
    refs = sorted(set(evidence))
    subject_kind = subject_kind or rule.subject_kind
    fid = finding_id(rule, subject_kind, subject_id, start, end, refs)
    severity = severity or rule.severity
    parts = _rule_parts(rule)
    message = parts.render(ctx)
    params = dict(parts.params) if parts.flat_params else _ready_dict(dict(rule.params))
    ready_facts = _ready_dict(dict(facts)) if facts else {}
    negative = list(negative_evidence)
    cadre_id = subject_id if subject_kind == "cadre" else None
    finding = None
    if _TRUSTED_OK is not False:
        finding = _trusted(
            parts,
            fid,
            subject_kind,
            subject_id,
            cadre_id,
            start,
            end,
            refs,
            message,
            severity,
            negative,
            status,
            params,
            ready_facts,
        )
        if finding is not None and _TRUSTED_OK:
            return finding
    data: dict[str, Any] = {
        "id": fid,
        "rule_id": rule.rule_id,
        "pack": {"id": rule.pack_id, "version": rule.pack_version},
        "clause": rule.clause,
        "title": {"zh": rule.title[0], "en": rule.title[1]},
        "severity": severity,
        "subject": {"kind": subject_kind, "id": subject_id},
        "cadre_id": cadre_id,
        "window": {"start": start, "end": end},
        "evidence": [{"type": t, "id": i} for t, i in refs],
        "negative_evidence": negative,
        "message": {"zh": message[0], "en": message[1]},
        "needs_review": rule.needs_review,
        "status": status,
        "params": params,
        "tags": list(rule.tags),
        "facts": ready_facts,
    }
    validated = Finding.model_validate(data)
    if finding is not None:  # first trusted build: keep using it only if it matches
        _TRUSTED_OK = _same(finding, validated)
    return validated


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Stable output order: window start, rule, subject, id."""
    return sorted(findings, key=lambda f: (f.window.start, f.rule_id, f.subject.id, f.id))
