"""Evaluate IR trees over events: compiled once into nested closures, then called per event.

Semantics (the same for every backend): a missing field is null; ``==``/``!=`` compare as usual
(null == null); ``< <= > >=`` with a null operand are false; ``x in list`` with null ``x`` is
false; ``and``/``or`` short-circuit and count null as false; ``not null`` is true. Data never
makes evaluation raise (a value of the wrong run-time type gives false or null); an error inside
a registered function on well-typed arguments propagates, so the engine can report it.

>>> from fourin_rules.expr.nodes import Compare, Field, Literal
>>> pred = compile_predicate(Compare(">", Field("km", "number"), Literal(50, "number")))
>>> pred(EvalContext(event={"km": 80}, env=None)), pred(EvalContext(event={}, env=None))
(True, False)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fourin_rules.expr.functions import REGISTRY, Env
from fourin_rules.expr.nodes import (
    Arith,
    Attr,
    BoolOp,
    Call,
    Compare,
    Field,
    IfElse,
    ListLit,
    ListRef,
    Literal,
    Neg,
    Node,
    Not,
    Param,
    Var,
)
from fourin_rules.model.types import ANY, BOOL, is_list

__all__ = ["EvalContext", "compile_predicate", "evaluate"]

Compiled = Callable[["EvalContext"], Any]


@dataclass(slots=True)
class EvalContext:
    """What an expression sees: the current event, the engine's env, bound names."""

    event: Mapping[str, Any]
    env: Env
    variables: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    lists: Mapping[str, Any] = field(default_factory=dict)
    #: Per-event results of reference and calendar lookups, shared by every rule tested on the
    #: same event (``dispatched(cadre_id, time)`` is asked by a dozen rules), or None.
    memo: dict[tuple[Any, ...], Any] | None = None


# Compiled trees, by node identity (the node is kept so its id stays valid).
_CACHE: dict[int, tuple[Node, Compiled]] = {}
_CACHE_MAX = 4096


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """The value of ``node`` for ``ctx`` (compiles the tree once and caches the closure)."""
    hit = _CACHE.get(id(node))
    if hit is None or hit[0] is not node:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        hit = (node, compile_predicate(node))
        _CACHE[id(node)] = hit
    return hit[1](ctx)


def compile_predicate(node: Node) -> Compiled:
    """Turn a tree into one Python closure ``f(ctx) -> value`` (no eval/exec, no re-walking).

    Raises:
        TypeError: ``node`` is not an IR node.
    """
    builder = _BUILDERS.get(type(node))
    if builder is None:
        raise TypeError(f"not an expression node: {node!r}")
    return builder(node)


# ----------------------------------------------------------------------------- leaves


def _constant(value: Any) -> Compiled:
    return lambda ctx: value


def _literal(node: Literal) -> Compiled:
    return _constant(node.value)


def _field(node: Field) -> Compiled:
    name = node.name
    return lambda ctx: ctx.event.get(name)


def _var(node: Var) -> Compiled:
    name = node.name
    return lambda ctx: ctx.variables.get(name)


def _param(node: Param) -> Compiled:
    name = node.name
    return lambda ctx: ctx.params.get(name)


def _listref(node: ListRef) -> Compiled:
    name = node.name
    return lambda ctx: ctx.lists.get(name)


def _listlit(node: ListLit) -> Compiled:
    if all(isinstance(i, Literal) for i in node.items):
        return _constant(tuple(i.value for i in node.items))  # type: ignore[union-attr]
    parts = [compile_predicate(i) for i in node.items]
    return lambda ctx: tuple(p(ctx) for p in parts)


def _attr(node: Attr) -> Compiled:
    obj, name = compile_predicate(node.obj), node.name
    if type(node.obj) is Var:  # ``first.fields``: the variable read here, one call fewer
        var = node.obj.name

        def var_attr(ctx: EvalContext) -> Any:
            o = ctx.variables.get(var)
            if type(o) is dict:
                return o.get(name)
            return o.get(name) if isinstance(o, Mapping) else None

        return var_attr

    def attr(ctx: EvalContext) -> Any:
        o = obj(ctx)
        if type(o) is dict:
            return o.get(name)
        # Only mappings have attributes here: never getattr on data.
        return o.get(name) if isinstance(o, Mapping) else None

    return attr


def _call(node: Call) -> Compiled:
    fn = REGISTRY[node.fn]
    impl = fn.impl
    args = [compile_predicate(a) for a in node.args]
    fallback = False if node.type == BOOL else None
    # Arguments typed "any" may hold anything at run time: a wrong type there is data, not a
    # registry bug, so it gives null (or false) instead of an exception.
    guarded = any(ANY in a.type for a in node.args)
    if not fn.pure and not guarded and args:
        return _memoised(node.fn, impl, args)
    if len(args) == 1 and not guarded:
        (a0,) = args
        return lambda ctx: impl(ctx.env, a0(ctx))
    if len(args) == 2 and not guarded:
        a0, a1 = args
        return lambda ctx: impl(ctx.env, a0(ctx), a1(ctx))
    if not guarded:
        return lambda ctx: impl(ctx.env, *[a(ctx) for a in args])

    def call(ctx: EvalContext) -> Any:
        try:
            return impl(ctx.env, *[a(ctx) for a in args])
        except (TypeError, ValueError, AttributeError, KeyError):
            return fallback

    return call


_MISSING = object()


def _memoised(name: str, impl: Callable[..., Any], args: list[Compiled]) -> Compiled:
    """A lookup in reference data or the calendar: deterministic for its arguments, so its
    result is kept in the event's memo (when the caller gives one)."""

    if len(args) == 1:  # the common case (``cadre(subject)``), without the list
        (a0,) = args

        def call1(ctx: EvalContext) -> Any:
            value = a0(ctx)
            memo = ctx.memo
            if memo is None:
                return impl(ctx.env, value)
            try:
                key = (name, value)
                hit = memo.get(key, _MISSING)
            except TypeError:  # an unhashable argument (a list): no memo
                return impl(ctx.env, value)
            if hit is _MISSING:
                hit = memo[key] = impl(ctx.env, value)
            return hit

        return call1

    def call(ctx: EvalContext) -> Any:
        values = [a(ctx) for a in args]
        memo = ctx.memo
        if memo is None:
            return impl(ctx.env, *values)
        try:
            key = (name, *values)
            hit = memo.get(key, _MISSING)
        except TypeError:  # an unhashable argument (a list): no memo
            return impl(ctx.env, *values)
        if hit is _MISSING:
            hit = memo[key] = impl(ctx.env, *values)
        return hit

    return call


# -------------------------------------------------------------------------- operators


def _not(node: Not) -> Compiled:
    operand = compile_predicate(node.operand)
    return lambda ctx: not operand(ctx)


def _boolop(node: BoolOp) -> Compiled:
    parts = [compile_predicate(v) for v in node.values]
    if node.op == "and":
        if len(parts) == 2:
            a, b = parts
            return lambda ctx: bool(a(ctx) and b(ctx))

        def all_of(ctx: EvalContext) -> bool:
            return all(p(ctx) for p in parts)

        return all_of
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: bool(a(ctx) or b(ctx))

    def any_of(ctx: EvalContext) -> bool:
        return any(p(ctx) for p in parts)

    return any_of


_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _as_list(v: Any) -> Any:
    return list(v) if type(v) is tuple else v


def _compare(node: Compare) -> Compiled:
    left, right = compile_predicate(node.left), compile_predicate(node.right)
    op = node.op
    if op in ("==", "!="):
        lists = (
            is_list(node.left.type)
            or is_list(node.right.type)
            or ANY
            in (
                node.left.type,
                node.right.type,
            )
        )
        if lists:  # a list literal is a tuple, event data a list: compare them as lists
            if op == "==":
                return lambda ctx: _as_list(left(ctx)) == _as_list(right(ctx))
            return lambda ctx: _as_list(left(ctx)) != _as_list(right(ctx))
        if op == "==":
            return lambda ctx: left(ctx) == right(ctx)
        return lambda ctx: left(ctx) != right(ctx)
    if op in _ORDER:
        cmp = _ORDER[op]
        if isinstance(node.right, Literal) and node.right.value is not None:
            bound = node.right.value  # ``x >= 0.7``: the constant side read once

            def order_const(ctx: EvalContext) -> bool:
                a = left(ctx)
                if a is None:
                    return False
                try:
                    return bool(cmp(a, bound))
                except TypeError:
                    return False

            return order_const

        def order(ctx: EvalContext) -> bool:
            a = left(ctx)
            if a is None:
                return False
            b = right(ctx)
            if b is None:
                return False
            try:
                return bool(cmp(a, b))
            except TypeError:  # e.g. an "any" field holding a str, compared with a number
                return False

        return order
    member = _member(node.right, right)
    if op == "in":
        return lambda ctx: member(left(ctx), ctx)
    return lambda ctx: not member(left(ctx), ctx)


def _member(container: Node, right: Compiled) -> Callable[[Any, EvalContext], bool]:
    """``x in container`` with null semantics; constant lists become frozensets."""
    if isinstance(container, Literal | ListLit):
        value = right(None)  # type: ignore[arg-type]  # constants ignore the context
        if isinstance(value, tuple) and all(isinstance(v, Hashable) for v in value):
            members = frozenset(value)

            def in_set(x: Any, ctx: EvalContext) -> bool:
                if x is None:
                    return False
                try:
                    return x in members
                except TypeError:  # unhashable x cannot equal a hashable constant
                    return False

            return in_set

    def in_value(x: Any, ctx: EvalContext) -> bool:
        if x is None:
            return False
        y = right(ctx)
        if y is None:
            return False
        if isinstance(y, str):
            return isinstance(x, str) and x in y
        try:
            return x in y
        except TypeError:
            return False

    return in_value


_ARITH_FNS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _arith(node: Arith) -> Compiled:
    left, right = compile_predicate(node.left), compile_predicate(node.right)
    fn = _ARITH_FNS[node.op]

    def arith(ctx: EvalContext) -> Any:
        a = left(ctx)
        if a is None:
            return None
        b = right(ctx)
        if b is None:
            return None
        try:
            return fn(a, b)
        except (TypeError, ZeroDivisionError, OverflowError):
            return None

    return arith


def _neg(node: Neg) -> Compiled:
    operand = compile_predicate(node.operand)

    def neg(ctx: EvalContext) -> Any:
        v = operand(ctx)
        if v is None:
            return None
        try:
            return -v
        except TypeError:
            return None

    return neg


def _ifelse(node: IfElse) -> Compiled:
    cond, then, other = (compile_predicate(n) for n in (node.cond, node.then, node.other))
    return lambda ctx: then(ctx) if cond(ctx) else other(ctx)


_BUILDERS: dict[type, Callable[[Any], Compiled]] = {
    Literal: _literal,
    Field: _field,
    Var: _var,
    Param: _param,
    ListRef: _listref,
    ListLit: _listlit,
    Attr: _attr,
    Call: _call,
    Not: _not,
    BoolOp: _boolop,
    Compare: _compare,
    Arith: _arith,
    Neg: _neg,
    IfElse: _ifelse,
}
