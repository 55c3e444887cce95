"""Resolve names and check types: from a whitelisted Python tree to the typed IR.

All type errors are found here, at compile time, so no ill-typed comparison ever reaches a
backend (durable_rules would happily match ``'9' > 10``).

>>> scope = Scope(fields={"mcc": "str", "amount_cny": "number"})
>>> to_source(compile_expr("mcc == '5813' and amount_cny > 100", scope, expect="bool"))
'mcc == "5813" and amount_cny > 100'
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fourin_rules.errors import FourinError, Span, suggest
from fourin_rules.expr.functions import REGISTRY, Function
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
    to_source,
    unify,
)
from fourin_rules.expr.parse import Source, parse_expr
from fourin_rules.expr.records import RECORD_SCHEMAS
from fourin_rules.expr.types import compatible, describe, equatable, orderable
from fourin_rules.model.types import (
    ANY,
    BOOL,
    NULL,
    NUMBER,
    STR,
    element_type,
    is_list,
    is_record,
    record_kind,
)

__all__ = ["Scope", "compile_expr"]

#: Nesting allowed after macros are expanded inline (each macro is itself at most 64 deep).
MAX_EXPANDED_DEPTH = 200

_CONSTANT_NAMES = {"true": True, "false": False, "null": None}
_CMP = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _records_default() -> Mapping[str, Mapping[str, str]]:
    return RECORD_SCHEMAS


@dataclass(frozen=True)
class Scope:
    """What names an expression may use, with their types.

    Resolution order: variables, fields, params, lists, macros, then ``true/false/null``.
    ``params.NAME`` always names a parameter.
    """

    fields: Mapping[str, str]
    variables: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    lists: Mapping[str, str] = field(default_factory=dict)
    macros: Mapping[str, str] = field(default_factory=dict)
    records: Mapping[str, Mapping[str, str]] = field(default_factory=_records_default)

    def names(self) -> set[str]:
        """Every bare name the scope resolves (for "did you mean")."""
        out = set(self.variables) | set(self.fields) | set(self.params) | set(self.lists)
        out |= set(self.macros) | set(_CONSTANT_NAMES)
        return {n for n in out if not n.startswith("_")}


def hint(word: str, candidates: Iterable[str]) -> str | None:
    """``suggest()``, then a shared-prefix guess (``grassland`` -> ``grassroots``)."""
    pool = [c for c in candidates if not c.startswith("_")]
    found = suggest(word, pool)
    if found or len(word) < 4:
        return found
    best, best_len = None, 0
    for c in sorted(pool):
        n = _common_prefix(word.lower(), c.lower())
        if n > best_len:
            best, best_len = c, n
    # Half the word in common, and at least four letters, is a plausible typo, not a chance.
    if best is not None and best_len >= max(4, len(word) // 2):
        return f"did you mean '{best}'?"
    return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _literal_type(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    return STR


class _Compiler:
    def __init__(
        self, scope: Scope, src: Source, macro_stack: tuple[str, ...], cache: dict[str, Node]
    ):
        self.scope = scope
        self.src = src
        self.macro_stack = macro_stack
        self.macro_cache = cache

    def fail(
        self, code: str, message: str, node: ast.AST, suggestion: str | None = None
    ) -> FourinError:
        return self.src.error(code, message, self.src.node_span(node), suggestion)

    # ------------------------------------------------------------------------------ dispatch

    def compile(self, node: ast.expr, depth: int = 0) -> Node:
        if depth > MAX_EXPANDED_DEPTH:
            raise self.fail(
                "expr-forbidden", "expression is too deep once macros are expanded", node
            )
        d = depth + 1
        if isinstance(node, ast.Constant):
            return Literal(node.value, _literal_type(node.value))
        if isinstance(node, ast.Name):
            return self.name(node, d)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, d)
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            values = tuple(self.compile(v, d) for v in node.values)
            for v, raw in zip(values, node.values, strict=True):
                self.need_bool(v, raw, f"'{op}'")
            return BoolOp(op, values)
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand, d)
            if isinstance(node.op, ast.Not):
                self.need_bool(operand, node.operand, "'not'")
                return Not(operand)
            if isinstance(operand, Literal) and operand.type == NUMBER:
                return Literal(-operand.value, NUMBER)  # -5 is a literal, as in list literals
            if operand.type not in (NUMBER, ANY):
                raise self.fail("expr-type", f"cannot negate {describe(operand)}", node)
            return Neg(operand)
        if isinstance(node, ast.BinOp):
            return self.arith(node, d)
        if isinstance(node, ast.Compare):
            return self.compare(node, d)
        if isinstance(node, ast.IfExp):
            cond = self.compile(node.test, d)
            self.need_bool(cond, node.test, "the condition of 'if'")
            then, other = self.compile(node.body, d), self.compile(node.orelse, d)
            if not equatable(then.type, other.type):
                raise self.fail(
                    "expr-type",
                    "the branches of 'if' have different types: "
                    f"{describe(then)} and {describe(other)}",
                    node,
                )
            return IfElse(cond, then, other)
        if isinstance(node, ast.List):
            return self.list_literal(node, d)
        raise self.fail("expr-forbidden", f"{type(node).__name__} is not allowed", node)

    # --------------------------------------------------------------------------------- names

    def name(self, node: ast.Name, depth: int) -> Node:
        name, s = node.id, self.scope
        if name in s.variables:
            return Var(name, s.variables[name])
        if name in s.fields:
            return Field(name, s.fields[name])
        if name in s.params:
            return Param(name, s.params[name])
        if name in s.lists:
            return ListRef(name, s.lists[name])
        if name in s.macros:
            return self.macro(name, node, depth)
        if name in _CONSTANT_NAMES:
            value = _CONSTANT_NAMES[name]
            return Literal(value, _literal_type(value))
        hint_text = hint(name, s.names())
        near = hint_text.split("'")[1] if hint_text else None
        if near is not None and near in s.fields:
            raise self.fail("unknown-field", f"unknown field '{name}'", node, hint_text)
        raise self.fail("unknown-name", f"unknown name '{name}'", node, hint_text)

    def macro(self, name: str, node: ast.Name, depth: int) -> Node:
        if name in self.macro_stack:
            cycle = " -> ".join((*self.macro_stack[self.macro_stack.index(name) :], name))
            raise self.fail("macro-cycle", f"macros refer to each other in a cycle: {cycle}", node)
        if name in self.macro_cache:
            return self.macro_cache[name]
        try:
            body, src = parse_expr(self.scope.macros[name], self.src.node_span(node))
            inner = _Compiler(self.scope, src, (*self.macro_stack, name), self.macro_cache)
            result = inner.compile(body, depth)
        except FourinError as exc:
            if self.macro_stack:  # the outermost use reports it
                raise
            # Point at the use of the macro: the macro's own text has no place in this file.
            raise self.src.error(
                exc.code,
                f"in macro '{name}': {exc.message}",
                self.src.node_span(node),
                exc.suggestion,
            ) from None
        self.macro_cache[name] = result
        return result

    def attribute(self, node: ast.Attribute, depth: int) -> Node:
        s = self.scope
        base = node.value
        if (
            isinstance(base, ast.Name)
            and base.id == "params"
            and "params" not in s.variables
            and "params" not in s.fields
        ):
            if node.attr in s.params:
                return Param(node.attr, s.params[node.attr])
            raise self.src.error(
                "unknown-name",
                f"unknown parameter '{node.attr}'",
                self.src.attr_span(node),
                hint(node.attr, s.params),
            )
        obj = self.compile(base, depth)
        if obj.type == ANY:
            return Attr(obj, node.attr, ANY)
        if not is_record(obj.type):
            raise self.fail(
                "expr-type", f"cannot read attribute '{node.attr}' of {describe(obj)}", node
            )
        kind = record_kind(obj.type)
        schema = s.records.get(kind)
        if schema is None:
            raise self.fail("expr-type", f"no schema is known for record kind '{kind}'", node)
        if node.attr not in schema:
            raise self.src.error(
                "unknown-field",
                f"unknown field '{node.attr}' of {kind} record {to_source(obj)}",
                self.src.attr_span(node),
                hint(node.attr, schema),
            )
        return Attr(obj, node.attr, schema[node.attr])

    # --------------------------------------------------------------------------------- calls

    def call(self, node: ast.Call, depth: int) -> Node:
        assert isinstance(node.func, ast.Name)  # the whitelist allows nothing else
        name = node.func.id
        fn = REGISTRY.get(name)
        if fn is None:
            raise self.fail(
                "unknown-function", f"unknown function '{name}'", node.func, hint(name, REGISTRY)
            )
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            raise self.fail("expr-arity", f"{_arity_text(fn)}, {n} given", node)
        args = tuple(self.compile(a, depth) for a in node.args)
        return Call(name, args, self.check_args(fn, args, node))

    def check_args(self, fn: Function, args: tuple[Node, ...], node: ast.Call) -> str:
        typevar = NULL
        for i, arg in enumerate(args):
            want = fn.arg_types[min(i, len(fn.arg_types) - 1)]
            if want == "T":
                if not equatable(typevar, arg.type):
                    raise self.fail(
                        "expr-type",
                        f"the arguments of '{fn.name}' must have one type; "
                        f"got {typevar} and {describe(arg)}",
                        node.args[i],
                    )
                typevar = unify(typevar, arg.type) if typevar != ANY else ANY
                continue
            if not compatible(want, arg.type):
                raise self.fail(
                    "expr-type",
                    f"argument {i + 1} of '{fn.name}' must be {want.replace('|', ' or ')}, "
                    f"got {describe(arg)}",
                    node.args[i],
                )
        return typevar if fn.return_type == "T" else fn.return_type

    # ----------------------------------------------------------------------------- operators

    def need_bool(self, value: Node, raw: ast.AST, what: str) -> None:
        if value.type not in (BOOL, ANY, NULL):
            raise self.fail("expr-type", f"{what} needs a bool, got {describe(value)}", raw)

    def arith(self, node: ast.BinOp, depth: int) -> Node:
        op = _ARITH[type(node.op)]
        left, right = self.compile(node.left, depth), self.compile(node.right, depth)
        types = {left.type, right.type}
        ok = types <= {NUMBER, ANY} or (op == "+" and types <= {STR, ANY})
        if not ok:
            raise self.fail(
                "expr-type", f"cannot apply '{op}' to {describe(left)} and {describe(right)}", node
            )
        return Arith(op, left, right)

    def compare(self, node: ast.Compare, depth: int) -> Node:
        operands = [self.compile(node.left, depth)]
        operands += [self.compile(c, depth) for c in node.comparators]
        raws = [node.left, *node.comparators]
        parts: list[Node] = []
        for i, op_node in enumerate(node.ops):
            op = _CMP[type(op_node)]
            left, right = operands[i], operands[i + 1]
            self.check_compare(op, left, right, raws[i], raws[i + 1], node)
            parts.append(Compare(op, left, right))
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def check_compare(
        self, op: str, left: Node, right: Node, lraw: ast.AST, rraw: ast.AST, node: ast.Compare
    ) -> None:
        lt, rt = left.type, right.type
        if op in ("in", "not in"):
            if rt == ANY:
                return
            if is_list(rt):
                inner = element_type(rt)
                if lt == NULL or equatable(lt, inner):
                    return
                raise self.fail(
                    "expr-type", f"cannot look for {describe(left)} in {describe(right)}", node
                )
            if rt == STR and lt in (STR, ANY, NULL):
                return
            raise self.fail(
                "expr-type",
                f"'{op}' needs a list or a str on the right, got {describe(right)}",
                rraw,
            )
        ok = equatable(lt, rt) if op in ("==", "!=") else orderable(lt, rt)
        if not ok:
            raise self.fail(
                "expr-type", f"cannot compare {describe(left)} with {describe(right)}", node
            )

    def list_literal(self, node: ast.List, depth: int) -> Node:
        items = tuple(self.compile(e, depth) for e in node.elts)
        t = NULL
        for item, raw in zip(items, node.elts, strict=True):
            if not isinstance(item, Literal):
                raise self.fail("expr-forbidden", "list items must be literals", raw)
            if t not in (NULL, item.type) and item.type != NULL:
                raise self.fail("expr-type", f"a list mixes {t} and {describe(item)}", raw)
            t = unify(t, item.type)
        return ListLit(items)


def _arity_text(fn: Function) -> str:
    lo, hi = fn.min_args, fn.max_args
    if hi is None:
        return f"'{fn.name}' takes at least {lo} arguments"
    if lo == hi:
        return f"'{fn.name}' takes {lo} argument{'s' if lo != 1 else ''}"
    return f"'{fn.name}' takes {lo} to {hi} arguments"


def compile_expr(
    text: str, scope: Scope, span: Span | None = None, expect: str | None = None
) -> Node:
    """Compile expression text to a typed IR tree, checked against ``scope``.

    Args:
        text: the expression (may span lines).
        scope: the names it may use and their types.
        span: where the text starts in its file (errors point inside it).
        expect: the type the result must have (``"bool"`` for a condition), or None.

    Raises:
        FourinError: ``expr-syntax``, ``expr-forbidden``, ``unknown-field``, ``unknown-name``,
            ``unknown-function``, ``expr-type``, ``expr-arity`` or ``macro-cycle``.
    """
    body, src = parse_expr(text, span)
    result = _Compiler(scope, src, (), {}).compile(body)
    if expect is not None and not compatible(expect, result.type):
        raise src.error(
            "expr-type",
            f"expression must be {expect}, got {describe(result)}",
            src.node_span(body),
        )
    return result
