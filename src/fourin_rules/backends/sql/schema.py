"""The event tables of the columnar backend: one table per event type, typed from the contract.

Every column type is given explicitly (never inferred from the data), so a field that is absent
from the first rows of a file is still a column, and a value of the wrong type is refused by the
loader instead of widening the column.

>>> column_type("list[str]").sql("duckdb")
'TEXT[]'
>>> table_name("card_txn")
'ev_card_txn'
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import datetime, tzinfo

from sqlglot import exp

from fourin_rules.expr.records import RECORD_SCHEMAS
from fourin_rules.model.events import EVENT_MODELS
from fourin_rules.model.types import TIME, element_type, is_list, is_record

#: Bookkeeping columns every event table starts with.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_seq", "BIGINT"),  # global read order: the first of duplicates stands
    ("_file", "VARCHAR"),
    ("_line", "BIGINT"),
    ("_raw", "VARCHAR"),  # the event's JSON object as read, re-validated for findings
)

_SCALARS = {
    "str": "VARCHAR",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "time": "TIMESTAMPTZ",
    "date": "DATE",
    "any": "JSON",
    "null": "VARCHAR",
}


def column_type(value_type: str) -> exp.DataType:
    """The SQL type of a contract value type (``str``, ``list[record:item]`` ...)."""
    return exp.DataType.build(_type_text(value_type), dialect="duckdb")


def _type_text(value_type: str) -> str:
    if is_list(value_type):
        return f"{_type_text(element_type(value_type))}[]"
    if is_record(value_type):
        fields = RECORD_SCHEMAS[value_type.removeprefix("record:")]
        inner = ", ".join(f"{name} {_type_text(t)}" for name, t in fields.items())
        return f"STRUCT({inner})"
    return _SCALARS[value_type]


def table_name(event_type: str) -> str:
    """The table holding events of ``event_type``."""
    return f"ev_{event_type}"


def integer_fields(event_type: str) -> frozenset[str]:
    """Fields a built-in event model declares as integers (counts): BIGINT columns, so that
    values and their sums stay integers as they are in the Python backends."""
    model = EVENT_MODELS.get(event_type)
    if model is None:
        return frozenset()
    out = set()
    for name, info in model.model_fields.items():
        args = [_bare(a) for a in (typing.get_args(info.annotation) or (info.annotation,))]
        if info.annotation is int or (int in args and float not in args):
            out.add(name)
    return frozenset(out)


def _bare(annotation: object) -> object:
    """``Annotated[int, ...]`` -> ``int``."""
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def table_columns(
    fields: Mapping[str, str], event_type: str | None = None
) -> list[tuple[str, exp.DataType]]:
    """Meta columns, then the declared fields (``type`` excluded: the table says it)."""
    ints = integer_fields(event_type) if event_type else frozenset()
    cols = [(name, exp.DataType.build(t)) for name, t in META_COLUMNS]
    cols += [
        (name, exp.DataType.build("BIGINT") if name in ints else column_type(t))
        for name, t in fields.items()
        if name != "type"
    ]
    return cols


def local_name(field: str) -> str:
    """The column holding the local wall-clock time of the time field ``field``."""
    return f"_local_{field}"


def local_columns(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(column, field)`` of every time field's local wall-clock column: a ``TIMESTAMP``
    (without zone) written once when the event is stored, so that the day, hour or weekday a
    rule asks for is plain arithmetic, not a time zone conversion per row and per use."""
    return [(local_name(name), name) for name, t in fields.items() if t == TIME]


def local_selects(fields: Mapping[str, str]) -> list[exp.Alias]:
    """The local wall-clock columns as ``SELECT`` items over a row of the time fields: each
    instant cast to ``TIMESTAMP`` in the session time zone, which is the dataset's."""
    return [
        exp.cast(exp.column(field, quoted=True), "TIMESTAMP").as_(name, quoted=True)
        for name, field in local_columns(fields)
    ]


def wall_clock(t: exp.Expression) -> exp.Expression:
    """``t``, or the local wall-clock column standing beside it: a time field read from a
    relation that carries those columns is marked so by the compiler
    (``meta["local"]``). ``CAST(. AS DATE)``, ``EXTRACT`` and ``ISODOW`` of either give the
    same local day and clock; of the plain ``TIMESTAMP`` they are several times cheaper."""
    local = t.meta.get("local") if isinstance(t, exp.Column) else None
    if local is None:
        return t
    return exp.column(local, table=t.table, quoted=True)


def create_table(event_type: str, fields: Mapping[str, str]) -> exp.Create:
    """``CREATE TABLE ev_<type> (...)`` as a sqlglot tree: the stored columns, then the local
    wall-clock columns."""
    columns = [*table_columns(fields, event_type)]
    columns += [(name, exp.DataType.build("TIMESTAMP")) for name, _ in local_columns(fields)]
    schema = exp.Schema(
        this=exp.to_table(table_name(event_type)),
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=kind)
            for name, kind in columns
        ],
    )
    return exp.Create(this=schema, kind="TABLE", replace=True)


def zoned(us: int | None, tz: tzinfo) -> datetime | None:
    """A ``TIMESTAMPTZ`` fetched as ``epoch_us(...)``, as the aware datetime DuckDB would give
    (converting it in Python is about eight times faster than DuckDB's own conversion)."""
    if us is None:
        return None
    seconds, micro = divmod(us, 1_000_000)  # exact, unlike a float of seconds
    if micro:
        return datetime.fromtimestamp(seconds, tz).replace(microsecond=micro)
    return datetime.fromtimestamp(seconds, tz)  # whole seconds, as event times mostly are
