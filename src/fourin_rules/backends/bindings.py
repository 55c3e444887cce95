"""Variable binding for predicates: the ``for_each`` element and the ``let`` values of an event.

Both backends bind variables the same way (here), so that they differ only in how ``where`` is
tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fourin_rules.expr import EvalContext, compile_predicate
from fourin_rules.plan import Predicate

Compiled = Callable[[EvalContext], Any]


class BoundPredicate:
    """A predicate with its expressions turned into closures once."""

    __slots__ = ("each", "each_var", "env", "lets", "predicate", "where")

    def __init__(self, predicate: Predicate, env: Any) -> None:
        self.predicate = predicate
        self.env = env
        self.where: Compiled = compile_predicate(predicate.where)
        self.each_var = predicate.for_each[0] if predicate.for_each else None
        self.each: Compiled | None = (
            compile_predicate(predicate.for_each[1]) if predicate.for_each else None
        )
        self.lets = tuple((name, compile_predicate(node)) for name, node in predicate.lets)

    def bindings(
        self, event: Mapping[str, Any], memo: dict | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each set of variables the predicate is tested with (one per for_each element)."""
        if self.each is None:
            yield self._lets(event, {}, memo)
            return
        items = self.each(EvalContext(event=event, env=self.env, memo=memo))
        if items is None:  # the list field is absent on this event type: one pass, var null
            yield self._lets(event, {self.each_var: None}, memo)
            return
        seen: set[Any] = set()
        for item in items:
            key = item if isinstance(item, str | int | float | bool) else repr(item)
            if key in seen:  # a cadre listed twice aboard is one passenger
                continue
            seen.add(key)
            yield self._lets(event, {self.each_var: item}, memo)

    def _lets(
        self, event: Mapping[str, Any], variables: dict[str, Any], memo: dict | None
    ) -> dict[str, Any]:
        for name, fn in self.lets:
            variables[name] = fn(EvalContext(event, self.env, variables, memo=memo))
        return variables

    def test(
        self, event: Mapping[str, Any], variables: Mapping[str, Any], memo: dict | None = None
    ) -> bool:
        return bool(self.where(EvalContext(event, self.env, variables, memo=memo)))
