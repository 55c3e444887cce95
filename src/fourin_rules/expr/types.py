"""Type relations of the expression language: what may be compared, passed or combined."""

from __future__ import annotations

from fourin_rules.expr.nodes import Attr, Call, Field, ListRef, Literal, Node, Param, Var, to_source
from fourin_rules.model.types import ANY, DATE, NULL, NUMBER, STR, TIME, element_type, is_list

__all__ = ["compatible", "describe", "equatable", "orderable"]

_ORDERED = frozenset({NUMBER, STR, TIME, DATE})


def compatible(want: str, actual: str) -> bool:
    """Whether a value of type ``actual`` may stand where ``want`` (``a|b`` allowed) is needed.

    >>> compatible("time|date", "date"), compatible("list[str]", "list[any]")
    (True, True)
    >>> compatible("str", "number")
    False
    """
    if actual in (ANY, NULL):
        return True
    for w in want.split("|"):
        if w in (ANY, actual):
            return True
        if is_list(w) and is_list(actual) and compatible(element_type(w), element_type(actual)):
            return True
    return False


def equatable(a: str, b: str) -> bool:
    """Whether ``a == b`` makes sense (null and any go with everything)."""
    if a == b or ANY in (a, b) or NULL in (a, b):
        return True
    return is_list(a) and is_list(b) and equatable(element_type(a), element_type(b))


def orderable(a: str, b: str) -> bool:
    """Whether ``a < b`` makes sense: both numbers, strs, times or dates (or any)."""
    if NULL in (a, b):
        return False
    if ANY in (a, b):
        return a in _ORDERED or b in _ORDERED or a == b == ANY
    return a == b and a in _ORDERED


def describe(node: Node) -> str:
    """A phrase for error messages: ``str field 'mcc'``, ``number 5813``."""
    t = node.type
    if isinstance(node, Literal):
        return f"{t} {to_source(node)}" if t != NULL else "null"
    if isinstance(node, Field):
        return f"{t} field '{node.name}'"
    if isinstance(node, Var):
        return f"{t} variable '{node.name}'"
    if isinstance(node, Param):
        return f"{t} parameter '{node.name}'"
    if isinstance(node, ListRef):
        return f"{t} list '{node.name}'"
    if isinstance(node, Attr | Call):
        return f"{t} {_short(to_source(node))}"
    return f"{t} expression {_short(to_source(node))}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
