"""Safe YAML loading that remembers where every value came from.

``load_yaml(text, path)`` returns plain Python data plus a :class:`Marks` side table from a key
path (``("rules", 0, "when")``) to the :class:`~fourin_rules.errors.Span` of that value, so that
schema and expression errors can name file, line and column. Aliases and anchors are refused
outright (they are how "billion laughs" bombs work, and packs have no need of them), and so are
tags outside the YAML core schema; nesting depth, node count and scalar size are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml

from fourin_rules.errors import FourinError, Span

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_SCALAR_CHARS = 1_000_000
MAX_FILE_BYTES = 20 * 1024 * 1024

Path_ = tuple[Hashable, ...]


class PackLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false. Under YAML 1.1 the key ``on:`` (used
    by every rule) and values such as ``no``, ``yes`` or ``off`` would silently become booleans."""


PackLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# One constructor turns scalar nodes (already tag-resolved by compose) into Python values.
_SCALARS = PackLoader("")


class Marks:
    """Key path -> span of the value (and of the key, for mapping entries)."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.values: dict[Path_, Span] = {}
        self.keys: dict[Path_, Span] = {}
        self.block: dict[Path_, bool] = {}

    def span(self, loc: Path_, *, key: bool = False) -> Span:
        """The span at ``loc``, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        loc = tuple(loc)
        while loc:
            if loc in table:
                return table[loc]
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), Span(self.path, 1, 1))

    def source_line(self, span: Span) -> str | None:
        if 1 <= span.line <= len(self.lines):
            return self.lines[span.line - 1]
        return None

    def is_block_scalar(self, loc: Path_) -> bool:
        """True when the value at ``loc`` is a ``|`` or ``>`` block scalar."""
        return self.block.get(tuple(loc), False)

    def error(
        self, code: str, message: str, loc: Path_, *, key: bool = False, **kw: Any
    ) -> FourinError:
        """A FourinError pointing at ``loc``, with the source line attached."""
        span = self.span(loc, key=key)
        return FourinError(code, message, span=span, source_line=self.source_line(span), **kw)


def _span(path: str, node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    length = end.column - start.column if end.line == start.line else 1
    return Span(path, start.line + 1, start.column + 1, max(1, length))


def _block_span(path: str, node: yaml.ScalarNode, lines: list[str]) -> Span:
    """A span for a ``|`` or ``>`` scalar that maps each offset of its value to the file.

    Each source line's content is found, in order, in the value text (folding turns line breaks
    into spaces but keeps the content), which gives one segment per line.
    """
    value = node.value
    segments: list[tuple[int, int, int]] = []
    pos = 0
    for index in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
        raw = lines[index]
        content = raw.strip()
        if not content:
            continue
        found = value.find(content, pos)
        if found < 0:
            break
        indent = len(raw) - len(raw.lstrip())
        segments.append((found, index + 1, indent + 1))
        pos = found + len(content)
    value_lines = [0]
    for i, ch in enumerate(value):
        if ch == "\n":
            value_lines.append(i + 1)
    first = segments[0] if segments else (0, node.start_mark.line + 2, 1)
    return Span(path, first[1], first[2], 1, tuple(segments), tuple(value_lines))


#: Explicit tags a pack may use (the YAML core schema); any other (``!!python/...``, ``!!binary``,
#: ``!custom``) is refused rather than left to a constructor.
CORE_TAGS = frozenset(
    {"!"}
    | {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
)


def _refuse_anchors(text: str, path: str, marks: Marks) -> None:
    """Refuse anchors, aliases, non-core tags and deep nesting in the event stream, where their
    own marks are, before anything is composed: PyYAML composes nodes recursively, so nesting
    deeper than Python's recursion limit would otherwise fail there without a place."""

    def refuse(event: yaml.Event, message: str) -> FourinError:
        mark = event.start_mark
        length = event.end_mark.column - mark.column if event.end_mark.line == mark.line else 1
        span = Span(path, mark.line + 1, mark.column + 1, max(1, length))
        return FourinError("yaml-too-complex", message, span, source_line=marks.source_line(span))

    depth = 0
    try:
        for event in yaml.parse(text, Loader=PackLoader):
            if isinstance(event, yaml.AliasEvent):
                raise refuse(event, "YAML aliases (*name) are not allowed in packs")
            if getattr(event, "anchor", None):
                raise refuse(event, "YAML anchors (&name) are not allowed in packs")
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in CORE_TAGS:
                raise refuse(event, f"YAML tag {tag!r} is not allowed in packs")
            if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
                raise refuse(event, f"a value longer than {MAX_SCALAR_CHARS} characters")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise refuse(event, f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError:
        return  # compose reports syntax errors with their place


def load_yaml(text: str, path: str) -> tuple[Any, Marks]:
    """Parse ``text`` safely into plain data and its marks; raise FourinError on any problem."""
    marks = Marks(path, text.splitlines())
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise FourinError(
            "yaml-too-complex", f"file is larger than {MAX_FILE_BYTES} bytes", Span(path, 1)
        )
    _refuse_anchors(text, path, marks)
    try:
        node = yaml.compose(text, Loader=PackLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1)
        raise FourinError(
            "yaml-syntax",
            f"{exc.problem or exc.context or 'invalid YAML'}",
            span,
            source_line=marks.source_line(span),
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise FourinError("yaml-syntax", str(exc), Span(path, 1)) from None
    except RecursionError:  # pragma: no cover - the pre-scan bounds nesting first
        raise FourinError(
            "yaml-too-complex", f"nesting deeper than {MAX_DEPTH} levels", Span(path, 1)
        ) from None
    if node is None:
        return None, marks
    data = _convert(node, (), marks, path, 0, [0])
    return data, marks


def _convert(
    node: yaml.Node,
    loc: Path_,
    marks: Marks,
    path: str,
    depth: int,
    counter: list[int],
) -> Any:
    span = _span(path, node)
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise FourinError("yaml-too-complex", f"more than {MAX_NODES} YAML nodes", span)
    if depth > MAX_DEPTH:
        raise FourinError("yaml-too-complex", f"nesting deeper than {MAX_DEPTH} levels", span)
    marks.values[loc] = span
    if isinstance(node, yaml.ScalarNode):
        if len(node.value) > MAX_SCALAR_CHARS:
            raise FourinError(
                "yaml-too-complex", f"a value longer than {MAX_SCALAR_CHARS} characters", span
            )
        if node.style in ("|", ">"):
            marks.block[loc] = True
            marks.values[loc] = _block_span(path, node, marks.lines)
        elif node.style in ("'", '"'):
            marks.values[loc] = Span(path, span.line, span.column + 1, max(1, span.length - 2))
        return _SCALARS.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(child, (*loc, i), marks, path, depth + 1, counter)
            for i, child in enumerate(node.value)
        ]
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                kspan = _span(path, key_node)
                raise FourinError("yaml-too-complex", "YAML merge keys (<<) are not allowed", kspan)
            key = _convert(key_node, (*loc, "__key__"), marks, path, depth + 1, counter)
            if not isinstance(key, Hashable):
                raise FourinError(
                    "pack-schema", "mapping keys must be plain values", _span(path, key_node)
                )
            kspan = _span(path, key_node)
            if key in out:
                raise FourinError(
                    "pack-schema",
                    f"duplicate key {key!r}",
                    kspan,
                    source_line=marks.source_line(kspan),
                )
            marks.keys[(*loc, key)] = kspan
            out[key] = _convert(value_node, (*loc, key), marks, path, depth + 1, counter)
        marks.values.pop((*loc, "__key__"), None)
        return out
    raise FourinError("pack-schema", f"unsupported YAML node {node.tag}", span)  # pragma: no cover
