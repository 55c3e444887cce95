"""Putting already validated events (dicts, as the ingest hands them out) into event tables.

This is the path of events pushed from Python (``Engine.run(events)``) and of tests; files take
the loader's fast path, where DuckDB itself parses the input.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
from sqlglot import exp

from fourin_rules.backends.sql.schema import (
    create_table,
    local_selects,
    table_columns,
    table_name,
)


def create_tables(
    con: duckdb.DuckDBPyConnection, event_types: Mapping[str, Mapping[str, str]]
) -> None:
    """Create (or replace) an empty table for every event type."""
    for name, fields in event_types.items():
        con.execute(create_table(name, fields).sql(dialect="duckdb"))


def insert_events(
    con: duckdb.DuckDBPyConnection,
    events: Iterable[Mapping[str, Any]],
    event_types: Mapping[str, Mapping[str, str]],
    *,
    file: str = "<push>",
    start_seq: int = 0,
) -> int:
    """Insert validated, deduped event dicts; returns the next free ``_seq``.

    The rows go through a temporary JSON Lines file that DuckDB reads with the explicit column
    types (row-by-row inserts from Python are a thousand times slower)."""
    seq = start_seq
    rows: list[EventRow] = []
    for event in events:
        rows.append(EventRow(event, seq, file, 0, None))
        seq += 1
    insert_rows(con, rows, event_types)
    return seq


class EventRow(NamedTuple):
    """A validated event with its bookkeeping: ``raw`` None means "the event as JSON"."""

    event: Mapping[str, Any]
    seq: int
    file: str
    line: int
    raw: str | None


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[EventRow],
    event_types: Mapping[str, Mapping[str, str]],
) -> None:
    """Insert validated events with their own ``_seq``, ``_file``, ``_line`` and ``_raw``."""
    by_type: dict[str, list[bytes]] = {}
    for event, seq, file, line, raw in rows:
        data = _plain(dict(event))
        if raw is None:
            raw = orjson.dumps(data).decode()
        row = {"_seq": seq, "_file": file, "_line": line, "_raw": raw, **data}
        by_type.setdefault(event["type"], []).append(orjson.dumps(row))
    with tempfile.TemporaryDirectory(prefix="fourin-") as tmp:
        for etype, lines in by_type.items():
            path = Path(tmp) / f"{etype}.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            cols = table_columns(event_types[etype], etype)
            spec = exp.Struct(
                expressions=[
                    exp.PropertyEQ(
                        this=exp.Literal.string(n), expression=exp.Literal.string(t.sql("duckdb"))
                    )
                    for n, t in cols
                ]
            )
            locals_ = local_selects(event_types[etype])
            select = exp.select(
                *[exp.column(n, quoted=True) for n, _ in cols],
                *locals_,
            ).from_(
                exp.Anonymous(
                    this="read_json",
                    expressions=[
                        exp.Literal.string(str(path)),
                        exp.PropertyEQ(this=exp.var("columns"), expression=spec),
                        exp.PropertyEQ(
                            this=exp.var("format"),
                            expression=exp.Literal.string("newline_delimited"),
                        ),
                    ],
                )
            )
            names = [n for n, _ in cols] + [a.alias for a in locals_]
            insert = exp.insert(select, table_name(etype), columns=names)
            con.execute(insert.sql(dialect="duckdb"))


def _plain(value: Any) -> Any:
    """``value`` as JSON data: times and dates as full ISO-8601 text (microseconds kept, unlike
    ``json_ready``, so that a TIMESTAMPTZ column holds the event's exact instant)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
