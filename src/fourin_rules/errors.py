"""One error shape for every user-facing failure.

Every error has a stable kebab-case ``code``, a message, an optional :class:`Span` (file, line,
column, 1-based) and an optional ``suggestion`` ("did you mean ...?"). Loaders and compiler passes
collect several errors before failing and raise them together as :class:`FourinErrors`.
``docs/errors.md`` lists every code; a test keeps that list and :data:`ERROR_CODES` in sync.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Every error code the package raises, with a one-line meaning (documented in docs/errors.md).
ERROR_CODES: dict[str, str] = {
    "yaml-syntax": "the file is not valid YAML",
    "yaml-too-complex": "the YAML uses aliases, nesting or sizes beyond the safe limits",
    "pack-schema": "a pack key is missing, unknown or of the wrong type",
    "duplicate-rule": "two rules in the loaded packs share an id",
    "unknown-pack": "an override or option names a pack that is not loaded",
    "unknown-rule": "an override, option or test names a rule that does not exist",
    "unknown-param": "a parameter override names a parameter the rule does not declare",
    "bad-param": "a parameter value has the wrong type",
    "unknown-clause": "a rule's clause is not one of the seed's clause texts",
    "unknown-event-type": "a rule or event names an event type that is not declared",
    "expr-syntax": "an expression cannot be parsed",
    "expr-forbidden": "an expression uses a construct the language does not allow",
    "unknown-field": "an expression names a field the event type does not have",
    "unknown-function": "an expression calls a function that does not exist",
    "unknown-name": "an expression names a list, macro, parameter or variable that does not exist",
    "expr-type": "an expression combines values of incompatible types",
    "expr-arity": "a function is called with the wrong number of arguments",
    "macro-cycle": "macros refer to each other in a cycle",
    "template": "a message template cannot be parsed or names something unknown",
    "calendar-missing-year": "no holiday data is known for a year; supply it in reference data",
    "reference-schema": "reference data has a missing, unknown or wrong-typed field",
    "reference-missing": "a reference file or section could not be read",
    "input-file": "an events file cannot be opened or its format is unknown",
    "include-outside": "a pack names a file outside its own folder (absolute, '..' or a symlink)",
    "backend-limit": "the backend cannot run the plan within its limits",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source file: 1-based line and column; ``length`` characters long.

    A span may stand for a whole YAML block scalar, whose text is not laid out in the file as it
    is in the value (indented lines; folded ``>`` scalars joined into one line). Its ``segments``
    then map offsets in the value text to file positions: ``(value offset, line, column)`` for
    each source line, and ``value_lines`` holds the offset at which each line of the value starts.
    """

    path: str
    line: int
    column: int = 1
    length: int = 1
    segments: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)
    value_lines: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def shifted(self, line_offset: int, column: int, length: int = 1) -> Span:
        """A span inside this one: ``line_offset`` lines down the text, at 1-based ``column``."""
        if self.segments:
            start = self.value_lines[line_offset] if line_offset < len(self.value_lines) else 0
            offset = start + column - 1
            seg = self.segments[0]
            for candidate in self.segments:
                if candidate[0] <= offset:
                    seg = candidate
            return Span(self.path, seg[1], seg[2] + offset - seg[0], max(1, length))
        # A one-line (plain or quoted) value: the column offset applies on every line.
        return Span(self.path, self.line + line_offset, self.column + column - 1, max(1, length))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class FourinError(Exception):
    """A user-facing error: a stable code, a message, where, and a hint."""

    def __init__(
        self,
        code: str,
        message: str,
        span: Span | None = None,
        suggestion: str | None = None,
        source_line: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"undocumented error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span
        self.suggestion = suggestion
        self.source_line = source_line

    def render(self) -> str:
        """Render as ``path:line:col: error[code]: message`` with the source line and a hint."""
        where = f"{self.span}: " if self.span else ""
        out = [f"{where}error[{self.code}]: {self.message}"]
        if self.span and self.source_line is not None:
            out.append("    " + self.source_line.rstrip("\n"))
            out.append("    " + " " * (self.span.column - 1) + "^" * self.span.length)
        if self.suggestion:
            out.append(f"  hint: {self.suggestion}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready record of the error."""
        return {
            "code": self.code,
            "message": self.message,
            "path": self.span.path if self.span else None,
            "line": self.span.line if self.span else None,
            "column": self.span.column if self.span else None,
            "suggestion": self.suggestion,
        }

    def __str__(self) -> str:
        return self.render()


class FourinErrors(Exception):
    """Several errors found together (a pack's validation collects all before failing)."""

    def __init__(self, errors: Iterable[FourinError]) -> None:
        self.errors = list(errors)
        super().__init__(self.render())

    def render(self) -> str:
        """All errors, one block each, and a count."""
        blocks = [e.render() for e in self.errors]
        blocks.append(f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}")
        return "\n".join(blocks)


class ErrorCollector:
    """Collects errors during a pass and raises them together at the end."""

    def __init__(self) -> None:
        self.errors: list[FourinError] = []

    def add(self, error: FourinError) -> None:
        self.errors.append(error)

    def extend(self, errors: Iterable[FourinError]) -> None:
        self.errors.extend(errors)

    def raise_if_any(self) -> None:
        if self.errors:
            if len(self.errors) == 1:
                raise self.errors[0]
            raise FourinErrors(self.errors)


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """Return ``"did you mean 'x'?"`` for the nearest candidate, or None when nothing is close.

    >>> suggest("owner_unit", ["owner_unit_id", "plate"])
    "did you mean 'owner_unit_id'?"
    """
    pool = sorted(set(candidates))
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        match = [lowered[m] for m in match]
    if not match:
        prefixed = [c for c in pool if c.startswith(word) or word.startswith(c)]
        match = prefixed[:1]
    return f"did you mean '{match[0]}'?" if match else None
