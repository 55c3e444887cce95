"""The reference backend: predicates tested by plain Python closures.

Small and obviously correct; the oracle that the durable_rules backend is tested against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fourin_rules.backends.base import Hit, RuleError
from fourin_rules.backends.bindings import BoundPredicate
from fourin_rules.plan import Plan


class PythonMatcher:
    """Tests every predicate of an event's type, in predicate order."""

    name = "python"

    def __init__(self, plan: Plan, env: Any) -> None:
        self.errors: list[RuleError] = []
        self.by_type: dict[str, list[BoundPredicate]] = {
            t: [BoundPredicate(p, env) for p in preds]
            for t, preds in plan.predicates_by_type().items()
        }

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[list[Hit]]:
        out: list[list[Hit]] = []
        for event in events:
            hits: list[Hit] = []
            memo: dict = {}  # lookups shared by every predicate tested on this event
            for bound in self.by_type.get(event["type"], ()):
                try:
                    for variables in bound.bindings(event, memo):
                        if bound.test(event, variables, memo):
                            hits.append(Hit(bound.predicate.id, variables))
                except Exception as exc:  # a rule's bug must not stop the others
                    self.errors.append(
                        RuleError(
                            bound.predicate.rule_id,
                            event["type"],
                            event["id"],
                            f"{type(exc).__name__}: {exc}",
                        )
                    )
            out.append(hits)
        return out

    def close(self) -> None:
        self.by_type.clear()


class PythonBackend:
    name = "python"

    def check(self, plan: Plan) -> list[str]:
        return []

    def matcher(self, plan: Plan, env: Any) -> PythonMatcher:
        return PythonMatcher(plan, env)
