"""Read raw event rows from JSON Lines and CSV files, with their file and physical line.

Readers never raise for a bad row: a row that cannot be decoded comes back with ``error`` set
(and ``field`` when one cell is to blame), so the ingestor can quarantine it and go on.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from fourin_rules.errors import FourinError
from fourin_rules.model import types as vt
from fourin_rules.model.events import EVENT_MODELS, BaseEvent, model_field_types

__all__ = ["RawRow", "iter_raw"]

_JSONL = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_CSV = (".csv", ".csv.gz")
_NON_FINITE = re.compile(rb"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_BOM = b"\xef\xbb\xbf"
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read: ``data`` when it decoded, else ``error`` (and the ``field`` to blame).

    ``line`` is the 1-based physical line where the row starts; ``raw`` is its text.
    """

    file: str
    line: int
    data: dict[str, Any] | None
    error: str | None = None
    field: str | None = None
    raw: str = ""


def iter_raw(
    path: str | Path, models: Mapping[str, type[BaseEvent]] = EVENT_MODELS
) -> Iterator[RawRow]:
    """Yield the rows of a ``.jsonl``/``.ndjson``/``.csv`` file (or ``.gz`` of one).

    ``models`` tells the CSV reader which cells hold lists and booleans.

    Raises:
        FourinError: ``input-file`` when the file cannot be opened or its extension is unknown.
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith(_JSONL):
        kind = "jsonl"
    elif name.endswith(_CSV):
        kind = "csv"
    else:
        raise FourinError(
            "input-file",
            f"unknown events file type: {p} (use .jsonl, .ndjson or .csv, optionally .gz)",
        )
    opener = gzip.open if name.endswith(".gz") else open
    file = str(path)
    try:
        with opener(p, "rb") as handle:
            if kind == "jsonl":
                yield from _iter_jsonl(file, handle)
            else:
                yield from _iter_csv(file, handle, models)
    except (OSError, EOFError) as exc:
        # Missing, unreadable, or a truncated .gz mid-file: the file, not a row, is broken.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise FourinError("input-file", f"cannot read events file {p}: {reason}") from None


def _iter_jsonl(file: str, handle: IO[bytes]) -> Iterator[RawRow]:
    for lineno, line in enumerate(handle, 1):
        if lineno == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield RawRow(file, lineno, None, _json_reason(line, exc), None, _text(line))
            continue
        if not isinstance(data, dict):
            reason = f"not a JSON object: got {_json_kind(data)}"
            yield RawRow(file, lineno, None, reason, None, _text(line))
            continue
        yield RawRow(file, lineno, data, raw=_text(line))


def _json_reason(line: bytes, exc: orjson.JSONDecodeError) -> str:
    if _NON_FINITE.search(line):
        return "invalid JSON: NaN/Infinity are not numbers"
    # orjson counts lines inside the row ("line 2 column 1"); within one row only the
    # character position means anything to the reader.
    return f"invalid JSON: {exc.msg} at character {exc.pos + 1} of the row"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return f"a {type(value).__name__}" if not isinstance(value, str) else "a string"


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


class _Lines:
    """Feeds csv.reader and keeps the physical lines of the current row (for ``raw``)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.lines: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.lines.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.lines).rstrip("\r\n")
        self.lines.clear()
        return text


def _iter_csv(
    file: str, handle: IO[bytes], models: Mapping[str, type[BaseEvent]]
) -> Iterator[RawRow]:
    # Undecodable bytes become lone surrogates (surrogateescape) so that one bad byte costs its
    # own row, not the rest of the file: the decoder reads ahead in blocks, so a strict decoder
    # would fail on a bad byte far below the row being read.
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FourinError("input-file", f"cannot read the CSV header of {file}: {exc}") from None
    bad = _bad_utf8(lines.take())
    if bad:
        raise FourinError("input-file", f"cannot read the CSV header of {file}: {bad}")
    if header is None:
        return
    header = [h.strip() for h in header]
    end = reader.line_num
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield RawRow(file, start, None, f"invalid CSV: {exc}", None, _readable(lines.take()))
            continue
        end = reader.line_num
        raw = lines.take()
        bad = _bad_utf8(raw)
        if bad:
            yield RawRow(file, start, None, bad, None, _readable(raw))
            continue
        if not any(c.strip() for c in cells):
            continue
        yield _csv_row(file, start, header, cells, raw, models)


def _bad_utf8(text: str) -> str | None:
    """Why ``text`` (decoded with surrogateescape) is not UTF-8, or None when it is."""
    found = _ESCAPED.search(text)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    return f"not UTF-8 text: byte 0x{byte:02x} at character {found.start() + 1} of the row"


def _readable(text: str) -> str:
    """The row's text with undecodable bytes shown as U+FFFD (safe to print and to encode)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").rstrip("\r\n")


def _csv_row(
    file: str,
    line: int,
    header: list[str],
    cells: list[str],
    raw: str,
    models: Mapping[str, type[BaseEvent]],
) -> RawRow:
    if len(cells) > len(header):
        reason = f"row has {len(cells)} cells but the header has {len(header)}"
        return RawRow(file, line, None, reason, None, raw)
    data: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        if name and cell != "":  # an empty cell is an absent value
            data[name] = cell
    model = models.get(data.get("type", ""))
    if model is None:
        return RawRow(file, line, data, raw=raw)  # the validator names the unknown type
    types = model_field_types(model)
    for name, value in data.items():
        kind = types.get(name)
        if kind is None:
            continue
        try:
            data[name] = _convert(value, kind)
        except ValueError as exc:
            return RawRow(file, line, None, str(exc), name, raw)
    return RawRow(file, line, data, raw=raw)


def _convert(cell: str, kind: str) -> Any:
    """A CSV cell as the declared type wants it (numbers and timestamps stay text)."""
    if kind == vt.BOOL:
        word = cell.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"not a boolean: {cell!r} (use true/false, 1/0 or yes/no)")
    if not vt.is_list(kind):
        return cell
    stripped = cell.strip()
    if stripped.startswith("["):
        try:
            return orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"list cell is not valid JSON: {exc}") from None
    if vt.element_type(kind) == vt.STR:
        return [part.strip() for part in stripped.split(";") if part.strip()]
    raise ValueError(f"list cell must be JSON text, e.g. [{{...}}]: {cell!r}")
