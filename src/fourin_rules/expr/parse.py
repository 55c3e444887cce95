"""Parse expression text with Python's own parser, then hold it to a whitelist.

``ast.parse`` is only the tokenizer and parser here: the tree it returns is checked node by node
against what the language allows, and nothing is ever compiled or run by Python. Positions of
the tree are mapped back to the caller's :class:`~fourin_rules.errors.Span`, so an error points
at the file, line and column of the offending token.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from fourin_rules.errors import FourinError, Span

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Source", "parse_expr"]

MAX_LENGTH = 10_000
MAX_DEPTH = 64

_BOOL_OPS = (ast.And, ast.Or)
_CMP_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_UNARY_OPS = (ast.Not, ast.USub)
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.UnaryOp,
    ast.BinOp,
    ast.Compare,
    ast.IfExp,
    ast.List,
    ast.Load,
    *_BOOL_OPS,
    *_CMP_OPS,
    *_BIN_OPS,
    *_UNARY_OPS,
)

_FORBIDDEN_NAMES: dict[type, str] = {
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Subscript: "subscript (indexing)",
    ast.Slice: "slice",
    ast.Starred: "starred argument",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.Tuple: "tuple",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.keyword: "keyword argument",
    ast.Pow: "operator '**'",
    ast.Mod: "operator '%'",
    ast.FloorDiv: "operator '//'",
    ast.MatMult: "operator '@'",
    ast.BitAnd: "operator '&'",
    ast.BitOr: "operator '|'",
    ast.BitXor: "operator '^'",
    ast.LShift: "operator '<<'",
    ast.RShift: "operator '>>'",
    ast.Invert: "operator '~'",
    ast.UAdd: "unary '+'",
    ast.Is: "'is' (use == null)",
    ast.IsNot: "'is not' (use != null)",
}


@dataclass(frozen=True)
class Source:
    """Expression text and the span where it starts; maps parser positions to file spans."""

    text: str
    span: Span
    # The text is parsed as "(" + text + "\n)" so it may span lines; line 1 is shifted by one.
    _lines: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, text: str, span: Span | None) -> Source:
        wrapped = "(" + text + "\n)"
        lines = tuple(line.encode("utf-8") for line in wrapped.split("\n"))
        return cls(text, span or Span("<expr>", 1, 1), lines)

    @property
    def wrapped(self) -> str:
        return "(" + self.text + "\n)"

    def at(self, line: int, column: int, length: int = 1) -> Span:
        """The span of 1-based ``line``/``column`` (characters) of the text itself."""
        return self.span.shifted(line - 1, column, length)

    def _char_col(self, lineno: int, byte_col: int) -> int:
        raw = self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else b""
        col = len(raw[:byte_col].decode("utf-8", errors="replace")) + 1
        return col - 1 if lineno == 1 else col  # undo the leading "("

    def node_span(self, node: ast.AST) -> Span:
        """The span of a parsed node (its first line when it spans several)."""
        line = getattr(node, "lineno", 1)
        col = self._char_col(line, getattr(node, "col_offset", 0))
        end_line = getattr(node, "end_lineno", line) or line
        end_byte = getattr(node, "end_col_offset", None)
        if end_line == line and end_byte is not None:
            length = self._char_col(line, end_byte) - col
        else:
            length = len(self.line_text(line)) - col + 1
        return self.at(line, max(1, col), max(1, length))

    def attr_span(self, node: ast.Attribute) -> Span:
        """The span of the attribute name of ``obj.name`` (not of the whole expression)."""
        line = getattr(node, "end_lineno", node.lineno) or node.lineno
        end = self._char_col(line, node.end_col_offset or 0)
        return self.at(line, max(1, end - len(node.attr)), len(node.attr))

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n")
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def error(
        self, code: str, message: str, span: Span, suggestion: str | None = None
    ) -> FourinError:
        """An error at ``span``; the source line is attached when the text is the whole file."""
        source_line = None
        if self.span.path == "<expr>" and self.span.line == 1 and self.span.column == 1:
            source_line = self.line_text(span.line)
        return FourinError(code, message, span, suggestion, source_line)


def _scan(src: Source) -> None:
    """Check bracket nesting before Python's parser sees the text (it has its own, larger limit)."""
    text = src.text
    depth = 0
    opened: list[tuple[str, int, int]] = []
    line, col = 1, 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch == "#":
            while i + 1 < n and text[i + 1] != "\n":
                i += 1
        elif ch in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            # Keep line/column right after a string that spans lines.
            chunk = text[i : min(j + len(quote), n)]
            if "\n" in chunk:
                line += chunk.count("\n")
                col = len(chunk) - chunk.rfind("\n") - 1
            else:
                col += len(chunk) - 1
            i += len(chunk) - 1
        elif ch in "([{":
            depth += 1
            opened.append((ch, line, col))
            if depth > MAX_DEPTH:
                raise src.error(
                    "expr-forbidden",
                    f"expression is too deep (more than {MAX_DEPTH} nested brackets)",
                    src.at(line, col),
                )
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise src.error("expr-syntax", f"unmatched '{ch}'", src.at(line, col))
            opened.pop()
        i += 1
    if opened:
        # Python would blame the "(" we wrap the text in; name the user's own bracket.
        ch, line, col = opened[-1]
        raise src.error("expr-syntax", f"'{ch}' was never closed", src.at(line, col))


def _check_depth(src: Source, tree: ast.Expression) -> None:
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise src.error(
                "expr-forbidden",
                f"expression is too deep (more than {MAX_DEPTH} levels)",
                src.node_span(node),
            )
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                stack.append((child, depth + 1))
            elif isinstance(child, ast.keyword):
                stack.append((child.value, depth + 1))


def _violation(node: ast.AST, parent: ast.AST | None) -> str | None:
    """What is wrong with ``node``, or None when it is allowed."""
    if type(node) in _FORBIDDEN_NAMES:
        return _FORBIDDEN_NAMES[type(node)] + " is not allowed"
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, str | int):
            return None
        if isinstance(v, float):
            return None if math.isfinite(v) else "a number that is not finite is not allowed"
        kind = {bytes: "bytes literal", complex: "complex number"}.get(type(v), "'...'")
        return f"{kind} is not allowed"
    if isinstance(node, ast.Name):
        # A callee named "_x" is reported as an unknown function by the compiler instead.
        callee = isinstance(parent, ast.Call) and parent.func is node
        if node.id.startswith("_") and not callee:
            return f"name '{node.id}' is not allowed (names starting with '_' are reserved)"
        return None
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return f"attribute '{node.attr}' is not allowed (names starting with '_' are reserved)"
        return None
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            return "only registered functions can be called (no method calls)"
        return None
    if isinstance(node, _ALLOWED):
        return None
    return f"{type(node).__name__} is not allowed"


def _position_of(node: ast.AST, parent: ast.AST | None) -> ast.AST:
    # Operators carry no position: point at the expression that uses them.
    return node if hasattr(node, "lineno") else (parent or node)


def _check_whitelist(src: Source, tree: ast.Expression) -> None:
    found: list[tuple[int, int, str, ast.AST]] = []
    stack: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    while stack:
        node, parent = stack.pop()
        problem = _violation(node, parent)
        if problem:
            where = _position_of(node, parent)
            found.append(
                (getattr(where, "lineno", 1), getattr(where, "col_offset", 0), problem, where)
            )
        stack.extend((child, node) for child in ast.iter_child_nodes(node))
    if found:
        _, _, problem, where = min(found, key=lambda f: (f[0], f[1]))
        if isinstance(where, ast.Attribute) and where.attr.startswith("_"):
            span = src.attr_span(where)
        else:
            span = src.node_span(where)
        raise src.error("expr-forbidden", problem, span)


def parse_expr(text: str, span: Span | None = None) -> tuple[ast.expr, Source]:
    """Parse and whitelist-check ``text``; return the expression tree and its :class:`Source`.

    Raises:
        FourinError: ``expr-syntax`` (not parseable) or ``expr-forbidden`` (not allowed, too
            long or too deep), with the span of the offending token.
    """
    src = Source.of(text, span)
    if len(text) > MAX_LENGTH:
        raise src.error(
            "expr-forbidden",
            f"expression is too long ({len(text)} > {MAX_LENGTH} characters)",
            src.at(1, 1),
        )
    if not text.strip():
        raise src.error("expr-syntax", "expression is empty", src.at(1, 1))
    _scan(src)
    try:
        tree = ast.parse(src.wrapped, mode="eval")
    except SyntaxError as exc:
        line = exc.lineno or 1
        nlines = text.count("\n") + 1
        if line > nlines:  # at the closing ")" we added: the text ended too early
            last = src.line_text(nlines)
            raise src.error(
                "expr-syntax", "unexpected end of expression", src.at(nlines, len(last) + 1)
            ) from None
        col = (exc.offset or 1) - (1 if line == 1 else 0)
        raise src.error("expr-syntax", exc.msg, src.at(line, max(1, col))) from None
    except (RecursionError, MemoryError):
        raise src.error("expr-forbidden", "expression is too deep", src.at(1, 1)) from None
    _check_depth(src, tree)
    _check_whitelist(src, tree)
    return tree.body, src
