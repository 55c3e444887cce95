"""Constant folding: substitute parameters and lists, then compute what needs no event.

Folding uses the evaluator itself, so a folded tree means exactly what the unfolded one did.
Only pure functions are folded (reference lookups and the calendar wait for run time).

>>> from fourin_rules.expr.nodes import BoolOp, Compare, Field, Param, Literal, to_source
>>> tree = BoolOp("and", (Compare(">", Param("limit", "number"), Literal(100, "number")),
...                        Field("alcohol", "bool")))
>>> to_source(fold(tree, {"limit": 50}, {}))
'false'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fourin_rules.expr.evaluate import EvalContext, compile_predicate
from fourin_rules.expr.functions import REGISTRY
from fourin_rules.expr.nodes import (
    Arith,
    Attr,
    BoolOp,
    Call,
    Compare,
    IfElse,
    ListLit,
    ListRef,
    Literal,
    Neg,
    Node,
    Not,
    Param,
)
from fourin_rules.model.types import BOOL, DATE, TIME, element_type

__all__ = ["fold"]


def _coerce(value: Any, type_: str) -> Any:
    """A parameter or list value as a literal value: lists become tuples, ISO text dates."""
    if value is None:
        return None
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return tuple(_coerce(v, element_type(type_)) for v in items)
    if type_ == DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if type_ == TIME and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _is_constant_value(value: Any) -> bool:
    if value is None or isinstance(value, bool | str | int | date):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, tuple | list):
        return all(_is_constant_value(v) for v in value)
    return False


def _const(node: Node) -> bool:
    return isinstance(node, Literal) or (
        isinstance(node, ListLit) and all(isinstance(i, Literal) for i in node.items)
    )


def _compute(node: Node) -> Node:
    """Evaluate a node whose operands are constants; keep it when the result has no literal."""
    value = compile_predicate(node)(EvalContext(event={}, env=None))  # type: ignore[arg-type]
    if isinstance(value, list):
        value = tuple(value)
    if not _is_constant_value(value):
        return node
    return Literal(value, node.type)


def _truthy(node: Node) -> bool | None:
    """The truth of a constant node, or None when it is not constant."""
    if isinstance(node, Literal):
        return bool(node.value)
    return None


def fold(node: Node, params: Mapping[str, Any], lists: Mapping[str, Any]) -> Node:
    """Substitute ``params``/``lists`` values and fold constant sub-expressions.

    A parameter or list without a value is left as it is.
    """
    if isinstance(node, Param):
        if node.name in params:
            return Literal(_coerce(params[node.name], node.type), node.type)
        return node
    if isinstance(node, ListRef):
        if node.name in lists:
            return Literal(_coerce(lists[node.name], node.type), node.type)
        return node
    if isinstance(node, Attr):
        obj = fold(node.obj, params, lists)
        if isinstance(obj, Literal) and obj.value is None:
            return Literal(None, node.type)
        return Attr(obj, node.name, node.type)
    if isinstance(node, Call):
        args = tuple(fold(a, params, lists) for a in node.args)
        new = Call(node.fn, args, node.type)
        if REGISTRY[node.fn].pure and all(_const(a) for a in args):
            return _compute(new)
        return new
    if isinstance(node, Not):
        operand = fold(node.operand, params, lists)
        truth = _truthy(operand)
        return Not(operand) if truth is None else Literal(not truth, BOOL)
    if isinstance(node, BoolOp):
        return _fold_boolop(node, params, lists)
    if isinstance(node, Compare | Arith):
        left, right = fold(node.left, params, lists), fold(node.right, params, lists)
        new = type(node)(node.op, left, right)
        return _compute(new) if _const(left) and _const(right) else new
    if isinstance(node, Neg):
        operand = fold(node.operand, params, lists)
        return _compute(Neg(operand)) if _const(operand) else Neg(operand)
    if isinstance(node, IfElse):
        cond = fold(node.cond, params, lists)
        then, other = fold(node.then, params, lists), fold(node.other, params, lists)
        truth = _truthy(cond)
        if truth is None:
            return IfElse(cond, then, other)
        return then if truth else other
    if isinstance(node, ListLit):
        return ListLit(tuple(fold(i, params, lists) for i in node.items))
    return node


def _fold_boolop(node: BoolOp, params: Mapping[str, Any], lists: Mapping[str, Any]) -> Node:
    stop = node.op == "or"  # the value that decides the whole: true for or, false for and
    kept: list[Node] = []
    for v in node.values:
        folded = fold(v, params, lists)
        truth = _truthy(folded)
        if truth is None:
            kept.append(folded)
        elif truth == stop:
            # Expressions have no side effects, so the deciding constant decides the whole.
            return Literal(stop, BOOL)
        # a neutral constant (true in and, false or null in or) is dropped
    if not kept:
        return Literal(not stop, BOOL)
    if len(kept) == 1 and kept[0].type == BOOL:
        return kept[0]
    return BoolOp(node.op, tuple(kept))
