"""Message templates: text with ``{expression}`` and ``{expression:format}`` slots.

``{{`` and ``}}`` are literal braces. A slot's expression is compiled like any other (same
scope, same errors, positions inside the template). The format after ``:`` is ``strftime`` for
times and dates (local time as stored) and a Python format spec otherwise; null renders as
``—`` and an integral float without ``.0``.

>>> from fourin_rules.expr.compiler import Scope
>>> t = compile_template("行程{km}公里", Scope(fields={"km": "number"}), None)
>>> t.render(EvalContext(event={"km": 12.0}, env=None))
'行程12公里'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fourin_rules.errors import FourinError, Span
from fourin_rules.expr.compiler import Scope, compile_expr
from fourin_rules.expr.evaluate import EvalContext, compile_predicate
from fourin_rules.expr.nodes import Node, from_json, to_json
from fourin_rules.model.types import ANY, BOOL, DATE, NUMBER, STR, TIME

__all__ = ["NULL_TEXT", "Slot", "Template", "compile_template", "pair_renderer"]

#: How a null value is shown in a message.
NULL_TEXT = "—"

_DIRECTIVE = re.compile(r"%[-_0^#]?[A-Za-z%]")
#: Widest width or precision a format spec may ask for: ``{amount_cny:999999999}`` would build
#: a string of a billion characters for every message (and once more when the pack loads).
MAX_FORMAT_WIDTH = 1000
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Slot:
    """One ``{expression:spec}`` of a template."""

    node: Node
    spec: str | None = None


@dataclass(frozen=True)
class Template:
    """A compiled message template; :meth:`render` fills it for one evaluation context."""

    text: str
    parts: tuple[str | Slot, ...]
    _renderers: tuple[Callable[[EvalContext], str], ...] = field(
        default=(), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self._renderers:
            joiner = "、" if _has_cjk(self.text) else ", "
            renderers = tuple(_renderer(p, joiner) for p in self.parts)
            object.__setattr__(self, "_renderers", renderers)
        # Compiled once: the literal text as a ``str.format`` pattern with one ``{}`` per slot,
        # and the slots' renderers in order, so a render is one C-level format call.
        pattern = "".join(
            p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}"
            for p in self.parts
        )
        slots = tuple(
            r for p, r in zip(self.parts, self._renderers, strict=True) if not isinstance(p, str)
        )
        object.__setattr__(self, "_pattern", pattern)
        object.__setattr__(self, "_slots", slots)

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The expressions of the slots, in order."""
        return tuple(p.node for p in self.parts if isinstance(p, Slot))

    def render(self, ctx: EvalContext) -> str:
        """The message for ``ctx``."""
        return self._pattern.format(*[r(ctx) for r in self._slots])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record (slots hold their IR)."""
        parts: list[Any] = [
            p if isinstance(p, str) else {"expr": to_json(p.node), "spec": p.spec}
            for p in self.parts
        ]
        return {"text": self.text, "parts": parts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Template:
        """Rebuild a template written by :meth:`to_json`."""
        parts = tuple(
            p if isinstance(p, str) else Slot(from_json(p["expr"]), p.get("spec"))
            for p in data["parts"]
        )
        return cls(data["text"], parts)


def _has_cjk(text: str) -> bool:
    return any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


# ------------------------------------------------------------------------------ render


#: Directives written from the value's own fields, with the digits C strftime gives them.
_FIELD_FORMATS = {
    "%Y": "{0.year}",
    "%m": "{0.month:02d}",
    "%d": "{0.day:02d}",
    "%H": "{0.hour:02d}",
    "%M": "{0.minute:02d}",
    "%S": "{0.second:02d}",
    "%%": "%",
}
_TIME_OF_DAY = frozenset({"%H", "%M", "%S"})


@functools.lru_cache(maxsize=256)
def _field_pattern(spec: str) -> tuple[str | None, bool]:
    """``spec`` as a ``str.format`` pattern over a date's fields, and whether it needs a time of
    day; ``(None, False)`` when it has a directive outside :data:`_FIELD_FORMATS`."""
    out: list[str] = []
    at, needs_time = 0, False
    for m in _DIRECTIVE.finditer(spec):
        directive = m.group(0)
        if directive not in _FIELD_FORMATS:
            return None, False
        out.append(spec[at : m.start()].replace("{", "{{").replace("}", "}}"))
        out.append(_FIELD_FORMATS[directive])
        needs_time = needs_time or directive in _TIME_OF_DAY
        at = m.end()
    out.append(spec[at:].replace("{", "{{").replace("}", "}}"))
    return "".join(out), needs_time


def _strftime(value: date, spec: str) -> str:
    # Common directives (%Y-%m-%d %H:%M) straight from the fields, in one format call. Others go
    # directive by directive, so text around them (月, 日) never goes through C strftime.
    t = type(value)
    if (t is datetime or t is date) and value.year >= 1000:
        pattern, needs_time = _field_pattern(spec)
        if pattern is not None and (t is datetime or not needs_time):
            return pattern.format(value)
    return _DIRECTIVE.sub(lambda m: value.strftime(m.group(0)), spec)


def _plain(value: Any, joiner: str) -> str:
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int:
        return str(value)
    if value is None:
        return NULL_TEXT
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | frozenset | set):
        return joiner.join(_plain(v, joiner) for v in value)
    if isinstance(value, Mapping):
        name = value.get("name")
        return str(name) if name is not None else NULL_TEXT
    return str(value)


def format_value(value: Any, spec: str | None, joiner: str = ", ") -> str:
    """One value as message text (see the module docstring for the rules)."""
    if spec is None or value is None:
        return _plain(value, joiner)
    if isinstance(value, date):
        return _strftime(value, spec)
    if isinstance(value, bool):
        return format(_plain(value, joiner), spec)
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        if isinstance(value, float) and value.is_integer():
            try:
                return format(int(value), spec)  # "{n:d}" with n == 3.0
            except (ValueError, TypeError):
                pass
        return _plain(value, joiner)


def _renderer(part: str | Slot, joiner: str) -> Callable[[EvalContext], str]:
    if isinstance(part, str):
        return lambda ctx: part
    fn, fmt = compile_predicate(part.node), _formatter(part.spec, joiner)
    return lambda ctx: fmt(fn(ctx))


def _formatter(spec: str | None, joiner: str) -> Callable[[Any], str]:
    """A slot's value as text: what :func:`_renderer` does once the value is known."""
    if spec is None:

        def plain(value: Any) -> str:
            return value if type(value) is str else _plain(value, joiner)

        return plain

    def formatted(value: Any) -> str:
        t = type(value)
        if t is datetime or t is date:
            return _strftime(value, spec)
        if t is float or t is int or t is str:
            try:
                return format(value, spec)
            except (ValueError, TypeError):
                pass
        return format_value(value, spec, joiner)

    pattern, needs_time = _field_pattern(spec)  # the common strftime specs, compiled once
    if pattern is None:
        return formatted
    fields = pattern.format

    def formatted_time(value: Any) -> str:
        t = type(value)
        if (t is datetime or (t is date and not needs_time)) and value.year >= 1000:
            return fields(value)
        return formatted(value)

    return formatted_time


def pair_renderer(first: Template, second: Template) -> Callable[[EvalContext], tuple[str, str]]:
    """Render two templates (a message's two languages) for one context, each distinct slot
    expression evaluated once: ``f(ctx) == (first.render(ctx), second.render(ctx))``.

    Should an evaluation raise, both are rendered one after the other as :meth:`Template.render`
    does, so the error is the one rendering them separately gives."""
    index: dict[str, int] = {}
    fns: list[Callable[[EvalContext], Any]] = []
    plans: list[tuple[str, list[tuple[int, Callable[[Any], str]]]]] = []
    for template in (first, second):
        joiner = "、" if _has_cjk(template.text) else ", "
        steps: list[tuple[int, Callable[[Any], str]]] = []
        for part in template.parts:
            if isinstance(part, str):
                continue
            key = repr(part.node)  # structural: equal expressions evaluate alike
            if key not in index:
                index[key] = len(fns)
                fns.append(compile_predicate(part.node))
            steps.append((index[key], _formatter(part.spec, joiner)))
        plans.append((template._pattern, steps))  # type: ignore[attr-defined]
    (p1, s1), (p2, s2) = plans

    def render(ctx: EvalContext) -> tuple[str, str]:
        try:
            values = [fn(ctx) for fn in fns]
        except Exception:
            return first.render(ctx), second.render(ctx)
        return (
            p1.format(*[fmt(values[i]) for i, fmt in s1]),
            p2.format(*[fmt(values[i]) for i, fmt in s2]),
        )

    return render


# ------------------------------------------------------------------------------- parse


def _too_wide(node: Node, spec: str) -> bool:
    """True when ``spec`` is a Python format spec with a width or precision over the limit."""
    if node.type in (TIME, DATE):
        return False  # strftime text: directive by directive, no widths
    match = _SPEC.fullmatch(spec)
    if match is None:
        return False
    numbers = (match.group("width"), match.group("precision"))
    return any(n and int(n) > MAX_FORMAT_WIDTH for n in numbers)


def _check_spec(node: Node, spec: str) -> bool:
    t = node.type
    samples: tuple[Any, ...]
    if t in (TIME, DATE, ANY):
        return True
    if t == NUMBER:
        samples = (1, 1.5)
    elif t in (STR, BOOL):
        samples = ("x",)
    else:
        return True
    for sample in samples:
        try:
            format(sample, spec)
            return True
        except (ValueError, TypeError):
            continue
    return False


class _Reader:
    """Walks the template text keeping 1-based line and column."""

    def __init__(self, text: str, span: Span | None) -> None:
        self.text, self.span = text, span or Span("<template>", 1, 1)
        self.i, self.line, self.col = 0, 1, 1

    def where(self, length: int = 1) -> Span:
        return self.span.shifted(self.line - 1, self.col, length)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def advance(self) -> str:
        ch = self.text[self.i]
        self.i += 1
        if ch == "\n":
            self.line, self.col = self.line + 1, 1
        else:
            self.col += 1
        return ch

    def error(self, message: str, span: Span | None = None) -> FourinError:
        return FourinError("template", message, span or self.where())


def _read_slot(r: _Reader) -> tuple[str, str | None, Span]:
    """Read after ``{`` up to its ``}``: the expression, the spec, where the expression starts."""
    start = r.where()
    expr: list[str] = []
    depth, quote = 0, ""
    while True:
        ch = r.peek()
        if not ch:
            raise r.error("'{' is never closed", start.shifted(0, 0))
        if quote:
            expr.append(r.advance())
            if ch == "\\" and r.peek():
                expr.append(r.advance())
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth <= 0 and ch == "}":
            r.advance()
            return "".join(expr), None, start
        elif depth <= 0 and ch == ":":
            r.advance()
            spec: list[str] = []
            while r.peek() and r.peek() != "}":
                spec.append(r.advance())
            if not r.peek():
                raise r.error("'{' is never closed", start.shifted(0, 0))
            r.advance()
            return "".join(expr), "".join(spec), start
        expr.append(r.advance())


def compile_template(text: str, scope: Scope, span: Span | None = None) -> Template:
    """Compile a message template against ``scope``.

    Raises:
        FourinError: ``template`` (unbalanced braces, empty slot, bad format spec) or the
            expression's own code (``unknown-name``, ``expr-type``...) with its position.
    """
    r = _Reader(text, span)
    parts: list[str | Slot] = []
    buf: list[str] = []
    while r.peek():
        ch = r.peek()
        if ch == "{" and r.peek(1) == "{":
            r.advance(), r.advance()
            buf.append("{")
        elif ch == "}" and r.peek(1) == "}":
            r.advance(), r.advance()
            buf.append("}")
        elif ch == "}":
            raise r.error("single '}' (write '}}' for a brace)")
        elif ch == "{":
            r.advance()
            expr, spec, where = _read_slot(r)
            if not expr.strip():
                raise r.error(
                    "empty '{}' in template (write '{{' for a brace)", where.shifted(0, 0)
                )
            node = compile_expr(expr, scope, where)
            if spec is not None and _too_wide(node, spec):
                raise r.error(
                    f"format '{spec}' asks for more than {MAX_FORMAT_WIDTH} characters", where
                )
            if spec is not None and not _check_spec(node, spec):
                raise r.error(f"format '{spec}' does not fit a {node.type} value", where)
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Slot(node, spec))
        else:
            buf.append(r.advance())
    if buf:
        parts.append("".join(buf))
    return Template(text, tuple(parts))
