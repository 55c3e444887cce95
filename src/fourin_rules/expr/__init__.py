"""A small, safe expression language for rule conditions and messages.

Text is parsed by Python's parser, held to a whitelist, resolved and type-checked against a
:class:`Scope`, and compiled to a typed IR (:mod:`fourin_rules.expr.nodes`); it is never
``eval``-ed. :func:`fold` substitutes parameters and lists, :func:`compile_predicate` turns a
tree into a closure, :func:`compile_template` compiles a message template.

>>> scope = Scope(fields={"km": "number"}, params={"max_km": "number"})
>>> node = fold(compile_expr("km > params.max_km", scope, expect="bool"), {"max_km": 50}, {})
>>> to_source(node), evaluate(node, EvalContext(event={"km": 80}, env=None))
('km > 50', True)
"""

from __future__ import annotations

from fourin_rules.expr.compiler import Scope, compile_expr
from fourin_rules.expr.evaluate import EvalContext, compile_predicate, evaluate
from fourin_rules.expr.fold import fold
from fourin_rules.expr.functions import REGISTRY, Env, Function
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
    from_json,
    to_json,
    to_source,
    walk,
)
from fourin_rules.expr.parse import parse_expr
from fourin_rules.expr.records import RECORD_SCHEMAS, event_record_kind
from fourin_rules.expr.template import Slot, Template, compile_template

__all__ = [
    "RECORD_SCHEMAS",
    "REGISTRY",
    "Arith",
    "Attr",
    "BoolOp",
    "Call",
    "Compare",
    "Env",
    "EvalContext",
    "Field",
    "Function",
    "IfElse",
    "ListLit",
    "ListRef",
    "Literal",
    "Neg",
    "Node",
    "Not",
    "Param",
    "Scope",
    "Slot",
    "Template",
    "Var",
    "compile_expr",
    "compile_predicate",
    "compile_template",
    "evaluate",
    "event_record_kind",
    "fold",
    "from_json",
    "parse_expr",
    "to_json",
    "to_source",
    "walk",
]
