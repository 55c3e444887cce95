"""Predicates that SQL cannot express, tested in Python over rows fetched from the tables.

The reference matcher's :class:`~fourin_rules.backends.bindings.BoundPredicate` does the test,
so a predicate evaluated here gives exactly the hits it gives in the incremental backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import RuleError
from fourin_rules.backends.bindings import BoundPredicate
from fourin_rules.plan import Plan, Predicate

if TYPE_CHECKING:
    from fourin_rules.backends.sql.run import Events


def python_hits(
    plan: Plan, env: Any, events: Events, predicates: Iterable[Predicate]
) -> tuple[dict[int, list[tuple[int, dict[str, Any]]]], list[RuleError]]:
    """Hits ``(seq, variables)`` of ``predicates``, each list in ``_seq`` order."""
    by_type: dict[str, list[BoundPredicate]] = {}
    for pred in predicates:
        by_type.setdefault(pred.type, []).append(BoundPredicate(pred, env))
    hits: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    errors: list[RuleError] = []
    for etype, bounds in by_type.items():
        for seq, event in events.scan(etype):
            memo: dict = {}
            for bound in bounds:
                try:
                    for variables in bound.bindings(event, memo):
                        if bound.test(event, variables, memo):
                            hits.setdefault(bound.predicate.id, []).append((seq, variables))
                except Exception as exc:  # a rule's bug must not stop the others
                    errors.append(
                        RuleError(
                            bound.predicate.rule_id,
                            etype,
                            event["id"],
                            f"{type(exc).__name__}: {exc}",
                        )
                    )
    return hits, errors
