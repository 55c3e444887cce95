"""The typed IR of the expression language: frozen dataclasses, JSON and source round trips.

Every node has a ``.type`` (one of the strings of :mod:`fourin_rules.model.types`). Backends and
the evaluator see only these nodes, never the Python syntax tree they came from.

>>> to_source(Compare("==", Field("mcc", "str"), Literal("5813", "str")))
'mcc == "5813"'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

from fourin_rules.model.types import ANY, BOOL, DATE, NULL, NUMBER, STR, TIME, element_type, list_of

__all__ = [
    "Arith",
    "Attr",
    "BoolOp",
    "Call",
    "Compare",
    "Field",
    "IfElse",
    "ListLit",
    "ListRef",
    "Literal",
    "Neg",
    "Node",
    "Not",
    "Param",
    "Var",
    "from_json",
    "to_json",
    "to_source",
    "unify",
    "walk",
]

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
ARITH_OPS = ("+", "-", "*", "/")


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: str, int/float (``number``), bool, None (``null``), a date, or a tuple (list)."""

    value: Any
    type: str


@dataclass(frozen=True, slots=True)
class Field:
    """A field of the current event."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Var:
    """A bound variable (``passenger``, ``a``, ``assignment``)."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter; substituted by :func:`fourin_rules.expr.fold.fold`."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class ListRef:
    """A named list of the pack; substituted by :func:`fourin_rules.expr.fold.fold`."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Attr:
    """``obj.name`` on a record value (null when ``obj`` is null)."""

    obj: Node
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Call:
    """A call of the registered function ``fn`` (see :mod:`fourin_rules.expr.functions`)."""

    fn: str
    args: tuple[Node, ...]
    type: str


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand`` (``not null`` is true)."""

    operand: Node

    @property
    def type(self) -> str:
        return BOOL


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` over two or more values, short-circuit, null counts as false."""

    op: str
    values: tuple[Node, ...]

    @property
    def type(self) -> str:
        return BOOL


@dataclass(frozen=True, slots=True)
class Compare:
    """One comparison; a chain ``a < b < c`` becomes a :class:`BoolOp` of these."""

    op: str
    left: Node
    right: Node

    @property
    def type(self) -> str:
        return BOOL


@dataclass(frozen=True, slots=True)
class Arith:
    """``+ - * /`` on numbers, ``+`` on strings."""

    op: str
    left: Node
    right: Node

    @property
    def type(self) -> str:
        types = {self.left.type, self.right.type}
        if STR in types:
            return STR
        if NUMBER in types:
            return NUMBER
        return ANY


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Node

    @property
    def type(self) -> str:
        return NUMBER


@dataclass(frozen=True, slots=True)
class IfElse:
    """``then if cond else other``."""

    cond: Node
    then: Node
    other: Node

    @property
    def type(self) -> str:
        return unify(self.then.type, self.other.type)


@dataclass(frozen=True, slots=True)
class ListLit:
    """A list literal ``[...]`` of literals."""

    items: tuple[Node, ...]

    @property
    def type(self) -> str:
        t = NULL
        for item in self.items:
            t = unify(t, item.type)
        return list_of(ANY if t == NULL else t)


Node: TypeAlias = (
    Literal
    | Field
    | Var
    | Param
    | ListRef
    | Attr
    | Call
    | Not
    | BoolOp
    | Compare
    | Arith
    | Neg
    | IfElse
    | ListLit
)

_NODE_TYPES: tuple[type, ...] = (Literal, Field, Var, Param, ListRef, Attr, Call, Not, BoolOp)
_NODE_TYPES += (Compare, Arith, Neg, IfElse, ListLit)
_NODE_CLASSES: dict[str, type] = {c.__name__: c for c in _NODE_TYPES}


def unify(a: str, b: str) -> str:
    """The common type of two values that may stand in the same place (null gives way)."""
    if a == b or b == NULL:
        return a
    if a == NULL:
        return b
    return ANY


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node``, in source order."""
    if isinstance(node, Attr):
        return (node.obj,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Not | Neg):
        return (node.operand,)
    if isinstance(node, BoolOp):
        return node.values
    if isinstance(node, Compare | Arith):
        return (node.left, node.right)
    if isinstance(node, IfElse):
        return (node.then, node.cond, node.other)
    if isinstance(node, ListLit):
        return node.items
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: deep trees are fine)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


# ------------------------------------------------------------------------------------ JSON


def _value_to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_value_to_json(v) for v in value]
    return value


def _value_from_json(value: Any, type_: str) -> Any:
    if value is None:
        return None
    if type_ == DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if type_ == TIME and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, list):
        inner = element_type(type_)
        return tuple(_value_from_json(v, inner) for v in value)
    return value


def to_json(node: Node) -> dict[str, Any]:
    """A JSON-ready dict of the tree (``{"node": "Compare", "op": "==", ...}``)."""
    name = type(node).__name__
    if isinstance(node, Literal):
        return {"node": name, "value": _value_to_json(node.value), "type": node.type}
    if isinstance(node, Field | Var | Param | ListRef):
        return {"node": name, "name": node.name, "type": node.type}
    if isinstance(node, Attr):
        return {"node": name, "obj": to_json(node.obj), "name": node.name, "type": node.type}
    if isinstance(node, Call):
        return {
            "node": name,
            "fn": node.fn,
            "args": [to_json(a) for a in node.args],
            "type": node.type,
        }
    if isinstance(node, Not | Neg):
        return {"node": name, "operand": to_json(node.operand)}
    if isinstance(node, BoolOp):
        return {"node": name, "op": node.op, "values": [to_json(v) for v in node.values]}
    if isinstance(node, Compare | Arith):
        return {
            "node": name,
            "op": node.op,
            "left": to_json(node.left),
            "right": to_json(node.right),
        }
    if isinstance(node, IfElse):
        return {
            "node": name,
            "cond": to_json(node.cond),
            "then": to_json(node.then),
            "other": to_json(node.other),
        }
    if isinstance(node, ListLit):
        return {"node": name, "items": [to_json(i) for i in node.items]}
    raise TypeError(f"not an expression node: {node!r}")


def _safe_name(value: Any) -> str:
    # A plan read from disk must not smuggle in names the compiler would have rejected.
    if not isinstance(value, str) or not value.isidentifier() or value.startswith("_"):
        raise ValueError(f"bad name in expression JSON: {value!r}")
    return value


def from_json(data: Mapping[str, Any]) -> Node:
    """Rebuild a tree written by :func:`to_json`.

    Raises:
        ValueError: the data is not a tree this module wrote (unknown node, bad name or op).
    """
    kind = data.get("node")
    if kind not in _NODE_CLASSES:
        raise ValueError(f"unknown expression node {kind!r}")
    if kind == "Literal":
        return Literal(_value_from_json(data["value"], data["type"]), data["type"])
    if kind in ("Field", "Var", "Param", "ListRef"):
        return _NODE_CLASSES[kind](_safe_name(data["name"]), data["type"])
    if kind == "Attr":
        return Attr(from_json(data["obj"]), _safe_name(data["name"]), data["type"])
    if kind == "Call":
        from fourin_rules.expr.functions import REGISTRY

        if data["fn"] not in REGISTRY:
            raise ValueError(f"unknown function in expression JSON: {data['fn']!r}")
        return Call(data["fn"], tuple(from_json(a) for a in data["args"]), data["type"])
    if kind in ("Not", "Neg"):
        return _NODE_CLASSES[kind](from_json(data["operand"]))
    if kind == "BoolOp":
        if data["op"] not in ("and", "or"):
            raise ValueError(f"bad boolean operator {data['op']!r}")
        return BoolOp(data["op"], tuple(from_json(v) for v in data["values"]))
    if kind in ("Compare", "Arith"):
        ops = COMPARE_OPS if kind == "Compare" else ARITH_OPS
        if data["op"] not in ops:
            raise ValueError(f"bad operator {data['op']!r}")
        return _NODE_CLASSES[kind](data["op"], from_json(data["left"]), from_json(data["right"]))
    if kind == "IfElse":
        return IfElse(from_json(data["cond"]), from_json(data["then"]), from_json(data["other"]))
    return ListLit(tuple(from_json(i) for i in data["items"]))


# ---------------------------------------------------------------------------------- source

# Binding strength, weakest first; a child weaker than its slot needs parentheses.
_IFELSE, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(1, 10)
_PREC_ARITH = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL}


def literal_source(value: Any) -> str:
    """Source text for a literal value (``true``, ``null``, ``"酒"``, ``[1, 2]``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} has no source form")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return f'datetime("{value.isoformat()}")'
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(literal_source(v) for v in value) + "]"
    raise ValueError(f"value {value!r} has no source form")


def _prec(node: Node) -> int:
    if isinstance(node, Literal):
        v = node.value
        negative = isinstance(v, int | float) and not isinstance(v, bool) and v < 0
        return _NEG if negative else _ATOM
    if isinstance(node, IfElse):
        return _IFELSE
    if isinstance(node, BoolOp):
        return _OR if node.op == "or" else _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Compare):
        return _CMP
    if isinstance(node, Arith):
        return _PREC_ARITH[node.op]
    if isinstance(node, Neg):
        return _NEG
    return _ATOM


def _wrap(node: Node, least: int) -> str:
    text = to_source(node)
    return f"({text})" if _prec(node) < least else text


def to_source(node: Node) -> str:
    """Print the tree as expression source that compiles back to the same tree.

    >>> a, b, c = (Field(n, "bool") for n in "abc")
    >>> to_source(BoolOp("and", (a, BoolOp("or", (b, c)))))
    'a and (b or c)'
    """
    if isinstance(node, Literal):
        return literal_source(node.value)
    if isinstance(node, Field | Var | ListRef):
        return node.name
    if isinstance(node, Param):
        return f"params.{node.name}"
    if isinstance(node, Attr):
        return f"{_wrap(node.obj, _ATOM)}.{node.name}"
    if isinstance(node, Call):
        return f"{node.fn}({', '.join(to_source(a) for a in node.args)})"
    if isinstance(node, Not):
        return f"not {_wrap(node.operand, _NOT)}"
    if isinstance(node, Neg):
        return f"-{_wrap(node.operand, _NEG)}"
    if isinstance(node, BoolOp):
        if len(node.values) == 1:
            # Only fold() makes these; keep the bool result explicit.
            neutral = "true" if node.op == "and" else "false"
            return f"{_wrap(node.values[0], _NOT)} {node.op} {neutral}"
        least = _prec(node) + 1  # a nested same-op BoolOp keeps its parentheses
        return f" {node.op} ".join(_wrap(v, least) for v in node.values)
    if isinstance(node, Compare):
        return f"{_wrap(node.left, _CMP + 1)} {node.op} {_wrap(node.right, _CMP + 1)}"
    if isinstance(node, Arith):
        p = _PREC_ARITH[node.op]
        return f"{_wrap(node.left, p)} {node.op} {_wrap(node.right, p + 1)}"
    if isinstance(node, IfElse):
        then = _wrap(node.then, _IFELSE + 1)
        cond = _wrap(node.cond, _IFELSE + 1)
        return f"{then} if {cond} else {_wrap(node.other, _IFELSE)}"
    if isinstance(node, ListLit):
        return "[" + ", ".join(to_source(i) for i in node.items) + "]"
    raise TypeError(f"not an expression node: {node!r}")
