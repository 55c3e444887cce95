"""Putting already validated events (dicts, as the ingest hands them out) into event tables.

This is the path of events pushed from Python (``Engine.run(events)``) and of tests; files take
the loader's fast path, where DuckDB itself parses the input.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import orjson
from sqlglot import exp

from fourin_rules.backends.sql.schema import create_table, table_columns, table_name
from fourin_rules.findings import json_ready


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
    by_type: dict[str, list[bytes]] = {}
    seq = start_seq
    for event in events:
        data = json_ready(dict(event))
        raw = orjson.dumps(data).decode()
        row = {"_seq": seq, "_file": file, "_line": 0, "_raw": raw, **data}
        by_type.setdefault(event["type"], []).append(orjson.dumps(row))
        seq += 1
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
            select = exp.select(*[exp.column(n, quoted=True) for n, _ in cols]).from_(
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
            insert = exp.insert(select, table_name(etype))
            con.execute(insert.sql(dialect="duckdb"))
    return seq
