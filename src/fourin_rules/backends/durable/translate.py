"""Translate a predicate's condition into a durable_rules condition over one fact.

Comparisons of a typed event field with a literal become durable_rules comparisons; everything
else (function calls, reference lookups, variables, arithmetic) becomes a *Python leaf*: a boolean
computed before the fact is asserted and stored in the fact as ``_p<N>``. Negation is pushed down
to the leaves, because durable_rules has no ``not``.

Two of the engine's traps are fenced here:
- its type coercion (``'9' > 10`` matches): only fields whose contract type equals the literal's
  type are pushed, and :func:`fact_value` puts only values of that exact Python type in a fact;
- its null handling (``!=`` never matches a missing field, unlike our language, where
  ``null != "x"`` is true): every pushed comparison spells out what null gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fourin_rules.expr.nodes import BoolOp, Compare, Field, Literal, Node, Not
from fourin_rules.model import types as T

PUSHABLE_TYPES = (T.STR, T.NUMBER, T.BOOL)
MAX_IN_LIST = 64  # longer `in` lists become Python leaves: durable_rules fails at 512 siblings
ALWAYS = {"_one": 1}
NEVER = {"_one": 0}
_INVERSE = {
    "==": "!=",
    "!=": "==",
    "<": ">=",
    ">=": "<",
    ">": "<=",
    "<=": ">",
    "in": "not in",
    "not in": "in",
}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}


@dataclass
class Translation:
    """A durable_rules condition, the Python leaves it needs, and the fields it reads."""

    condition: dict[str, Any]
    leaves: list[Node] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # field name -> contract type


def translate(where: Node, leaf_offset: int = 0) -> Translation:
    """Translate ``where``; Python leaves are numbered from ``leaf_offset`` (``_p<N>``)."""
    out = Translation(condition={})
    out.condition = _tr(where, False, out, leaf_offset)
    return out


def _literal_ok(field_type: str, lit: Literal) -> bool:
    v = lit.value
    if v is None:
        return False
    if field_type == T.STR:
        return isinstance(v, str)
    if field_type == T.BOOL:
        return isinstance(v, bool)
    return isinstance(v, int | float) and not isinstance(v, bool)


def _pushable_compare(node: Compare) -> tuple[str, str, Any] | None:
    """(op, field, literal value) when the comparison can run inside durable_rules."""
    left, right, op = node.left, node.right, node.op
    if (
        isinstance(right, Field)
        and isinstance(left, Literal)
        and op in ("==", "!=", "<", "<=", ">", ">=")
    ):
        flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
        left, right, op = right, left, flip.get(op, op)
    if (
        not isinstance(left, Field)
        or left.type not in PUSHABLE_TYPES
        or not isinstance(right, Literal)
    ):
        return None
    if op in ("in", "not in"):
        values = right.value
        if not isinstance(values, list | tuple) or not values or len(values) > MAX_IN_LIST:
            return None
        if not all(_literal_ok(left.type, Literal(v, left.type)) for v in values):
            return None
        return op, left.name, list(values)
    if op not in _INVERSE or not _literal_ok(left.type, right):
        return None
    if left.type == T.BOOL and op not in ("==", "!="):
        return None
    return op, left.name, right.value


def _leaf(node: Node, negate: bool, out: Translation, offset: int) -> dict[str, Any]:
    index = offset + len(out.leaves)
    out.leaves.append(node)
    return {f"_p{index}": not negate}


def _compare(op: str, name: str, value: Any) -> dict[str, Any]:
    if op == "==":
        return {name: value}
    if op == "!=":
        return {"$or": [{"$neq": {name: value}}, {name: None}]}
    if op == "in":
        return {"$or": [{name: v} for v in value]} if len(value) > 1 else {name: value[0]}
    if op == "not in":
        return {"$or": [{name: None}, {"$and": [{"$neq": {name: v}} for v in value]}]}
    strict = {_DURABLE_OP[op]: {name: value}}
    return strict


def _tr(node: Node, negate: bool, out: Translation, offset: int) -> dict[str, Any]:
    if isinstance(node, Literal) and isinstance(node.value, bool):
        return ALWAYS if node.value != negate else NEVER
    if isinstance(node, Not):
        return _tr(node.operand, not negate, out, offset)
    if isinstance(node, BoolOp):
        is_and = (node.op == "and") != negate
        parts = [_tr(v, negate, out, offset) for v in node.values]
        return {"$and" if is_and else "$or": parts}
    if isinstance(node, Field) and node.type == T.BOOL:
        out.fields[node.name] = T.BOOL
        return {node.name: True} if not negate else {"$or": [{node.name: False}, {node.name: None}]}
    if isinstance(node, Compare):
        pushed = _pushable_compare(node)
        if pushed is not None:
            op, name, value = pushed
            field_node = node.left if isinstance(node.left, Field) else node.right
            out.fields[name] = field_node.type
            if negate:
                op = _INVERSE[op]
                if op in ("<", "<=", ">", ">="):
                    # not (x < 5) is true for a null x; durable's $gte is not.
                    return {"$or": [_compare(op, name, value), {name: None}]}
            return _compare(op, name, value)
    return _leaf(node, negate, out, offset)


def fact_value(value: Any, field_type: str) -> Any:
    """The value a fact may carry for a pushed field: the exact contract type, else null."""
    if field_type == T.STR:
        return value if isinstance(value, str) else None
    if field_type == T.BOOL:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
