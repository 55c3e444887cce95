"""Explain a finding: its rule, parameters, the evidence events, and which conditions held.

Each evidence event is tested again against the rule's predicates for its type, condition by
condition (the top-level ``and`` parts of ``when``/``where``), with the same variable bindings
the engine used, so an inspector sees why the rule fired on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fourin_rules.backends.bindings import BoundPredicate
from fourin_rules.expr import BoolOp, EvalContext, compile_predicate, to_source
from fourin_rules.expr.nodes import Node
from fourin_rules.findings import json_ready
from fourin_rules.plan import Plan


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, BoolOp) and node.op == "and":
        return [part for value in node.values for part in _conjuncts(value)]
    return [node]


def explain(
    plan: Plan, env: Any, finding: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A JSON-ready explanation of ``finding`` (a finding as a dict, e.g. a JSONL line).

    ``events`` are validated events (dicts as the engine keeps them); those named in the
    finding's evidence are shown and tested condition by condition.
    """
    rule_id = finding["rule_id"]
    try:
        rule = plan.rule(rule_id)
    except KeyError:
        return {"finding": dict(finding), "rule": None, "note": f"rule {rule_id} is not loaded"}
    wanted = {(e["type"], e["id"]) for e in finding.get("evidence", [])}
    found = [e for e in events if (e["type"], e["id"]) in wanted]
    predicates = [p for p in plan.predicates if p.rule_id == rule_id]
    checks = []
    for event in found:
        for pred in (p for p in predicates if p.type == event["type"]):
            bound = BoundPredicate(pred, env)
            for variables in bound.bindings(event):
                ctx = EvalContext(event=event, env=env, variables=variables)
                conditions = [
                    {"condition": to_source(part), "held": bool(compile_predicate(part)(ctx))}
                    for part in _conjuncts(pred.where)
                ]
                checks.append(
                    {
                        "event": {"type": event["type"], "id": event["id"]},
                        "predicate": pred.label,
                        "variables": json_ready(variables),
                        "conditions": conditions,
                        "held": all(c["held"] for c in conditions),
                    }
                )
    return {
        "finding": dict(finding),
        "rule": {**rule.to_json(), "conditions": [p.to_json() for p in predicates]},
        "evidence_events": [json_ready(dict(e)) for e in found],
        "missing_evidence": sorted(
            f"{t}:{i}" for t, i in wanted - {(e["type"], e["id"]) for e in found}
        ),
        "checks": checks,
    }
