"""Reference data and the duty calendar as DuckDB tables, for the SQL compiler to look up.

The tables are derived from the engine's :class:`~fourin_rules.runtime.env.RuleEnv` so that a
lookup in SQL answers exactly what the Python function would:

- ``ref_unit``, ``ref_cadre``, ``ref_vehicle``, ``ref_group``, ``ref_staff``: one row per id
  (the last record of an id wins, as in :class:`~fourin_rules.reference.ReferenceIndex`);
- ``ref_assignment``: assignments with the days ``eff_from .. eff_to`` on which
  ``assignment_at`` answers that row (rows never overlap, so a lookup finds at most one);
- ``ref_staff_of`` / ``ref_leaders_of``: the sorted id lists of ``staff_of`` / ``leaders_of``;
- ``ref_group_kinds``: the target kinds of each group (``target_share``);
- ``ref_fence``: the geofences of ``township_at``, once per grid cell they are seen from;
- ``cal_day``: every day of every year the calendar knows, with its duty flag and holiday name.

All values go into the SQL as literals built by sqlglot (never by string concatenation).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
from sqlglot import exp

from fourin_rules.backends.sql.schema import column_type
from fourin_rules.expr.records import RECORD_SCHEMAS
from fourin_rules.runtime.env import RuleEnv

__all__ = [
    "RECORD_TABLES",
    "RefTable",
    "SqlEnv",
    "create_reference_tables",
    "reference_tables",
    "sql_literal",
]

#: Keyed record lookups: function name -> (table, key column).
RECORD_TABLES: dict[str, tuple[str, str]] = {
    "unit": ("ref_unit", "unit_id"),
    "cadre": ("ref_cadre", "cadre_id"),
    "vehicle": ("ref_vehicle", "plate"),
    "group": ("ref_group", "group_id"),
    "staff": ("ref_staff", "staff_id"),
}

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class SqlEnv:
    """What the expression compiler needs to know about the tables :func:`create_reference_tables`
    made: constants of the calendar and of the geofence grid."""

    #: Work-hours intervals as microseconds of the local day, ``[start, end)``.
    work_hours_us: tuple[tuple[int, int], ...]
    #: Degrees per geofence grid cell (``ReferenceIndex._cell``); None when there are no fences.
    fence_cell: float | None
    timezone: str


def sql_literal(value: Any, type_: str | None = None) -> exp.Expression:
    """A literal SQL value for a Python value (dates, lists and records included)."""
    if value is None:
        if type_ is None or type_ == "null":
            return exp.null()
        return exp.cast(exp.null(), column_type(type_))
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        if abs(value) < 2**31:
            return exp.Literal.number(value)
        return exp.cast(exp.Literal.string(repr(float(value))), "DOUBLE")
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, date) and not hasattr(value, "hour"):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if hasattr(value, "hour") and isinstance(value, date):  # datetime
        return exp.cast(exp.Literal.string(value.isoformat()), "TIMESTAMPTZ")
    if isinstance(value, list | tuple):
        inner = type_[5:-1] if type_ and type_.startswith("list[") else None
        arr = exp.Array(expressions=[sql_literal(v, inner) for v in value])
        return exp.cast(arr, column_type(type_)) if type_ and not value else arr
    if isinstance(value, dict) and type_ and type_.startswith("record:"):
        fields = RECORD_SCHEMAS[type_.removeprefix("record:")]
        struct = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier(n), expression=sql_literal(value.get(n), t))
                for n, t in fields.items()
            ]
        )
        return exp.cast(struct, column_type(type_))
    raise TypeError(f"no SQL literal for {value!r}")


@dataclass(frozen=True)
class RefTable:
    """One table's schema and rows, the rows as JSON Lines (empty when there are none)."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, contract type)
    jsonl: bytes


def _table(
    name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
) -> RefTable:
    names = [n for n, _ in columns]
    lines = [orjson.dumps(dict(zip(names, row, strict=True))) for row in rows]
    return RefTable(name, tuple(columns), b"\n".join(lines) + b"\n" if lines else b"")


def _insert(con: duckdb.DuckDBPyConnection, table: RefTable, folder: Path) -> None:
    """``CREATE OR REPLACE TABLE`` and its rows, through a JSON Lines file in ``folder`` read
    with the explicit column types: a VALUES list of thousands of literals takes DuckDB seconds
    to parse."""
    schema = exp.Schema(
        this=exp.to_table(table.name),
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(n, quoted=True), kind=column_type(t))
            for n, t in table.columns
        ],
    )
    con.execute(exp.Create(this=schema, kind="TABLE", replace=True).sql(dialect="duckdb"))
    if not table.jsonl:
        return
    path = folder / f"{table.name}.jsonl"
    path.write_bytes(table.jsonl)
    spec = exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.Literal.string(n),
                expression=exp.Literal.string(column_type(t).sql("duckdb")),
            )
            for n, t in table.columns
        ]
    )
    reader = exp.Anonymous(
        this="read_json",
        expressions=[
            exp.Literal.string(str(path)),
            exp.PropertyEQ(this=exp.var("columns"), expression=spec),
            exp.PropertyEQ(
                this=exp.var("format"), expression=exp.Literal.string("newline_delimited")
            ),
        ],
    )
    names = [n for n, _ in table.columns]
    select = exp.select(*[exp.column(n, quoted=True) for n in names]).from_(reader)
    con.execute(exp.insert(select, table.name).sql(dialect="duckdb"))


def _record_rows(records: Iterable[dict[str, Any]], kind: str) -> list[list[Any]]:
    fields = list(RECORD_SCHEMAS[kind])
    return [[r.get(f) for f in fields] for r in records]


def _assignment_rows(env: RuleEnv) -> list[list[Any]]:
    """Assignments with the days on which ``ReferenceIndex.assignment_at`` returns them."""
    rows = sorted(
        (a.model_dump() for a in env.reference.data.assignments),
        key=lambda a: (a["cadre_id"], a["start"]),
    )
    out = []
    for i, a in enumerate(rows):
        # Rows are sorted by (cadre, start): the same cadre's later rows follow at once.
        j = i + 1
        while (
            j < len(rows)
            and rows[j]["cadre_id"] == a["cadre_id"]
            and rows[j]["start"] == a["start"]
        ):
            j += 1
        if j > i + 1:  # bisect_right picks the last of equal starts: this one is never found
            continue
        nxt = rows[j] if j < len(rows) and rows[j]["cadre_id"] == a["cadre_id"] else None
        eff_to = a["end"]
        if nxt is not None:
            stop = nxt["start"] - timedelta(days=1)
            eff_to = stop if eff_to is None else min(eff_to, stop)
        if eff_to is not None and eff_to < a["start"]:
            continue
        fields = [a.get(f) for f in RECORD_SCHEMAS["assignment"]]
        out.append([*fields, a["start"], eff_to])
    return out


def _calendar_rows(env: RuleEnv) -> list[list[Any]]:
    """Every day of the years the calendar can answer: (day, duty, holiday)."""
    cal = env.calendar
    years = {d.year for d in cal.duty_days | cal.rest_days} | set(cal.national)
    try:
        from fourin_rules.calendar import _package_years

        low, high = _package_years()
        years |= set(range(low, high + 1))
    except Exception:
        pass
    out = []
    for year in sorted(years):
        d = date(year, 1, 1)
        while d.year == year:
            try:
                duty: bool | None = cal.is_duty_day(d)
            except Exception:
                duty = None
            try:
                holiday = cal.holiday_name(d)
            except Exception:
                holiday = None
            if duty is not None or holiday is not None:
                out.append([d, duty, holiday])
            d += timedelta(days=1)
    return out


def _us(t: time) -> int:
    if t == time.max:
        return _US_PER_DAY
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def create_reference_tables(con: duckdb.DuckDBPyConnection, env: RuleEnv) -> SqlEnv:
    """Create the reference and calendar tables from ``env`` on ``con``."""
    with tempfile.TemporaryDirectory(prefix="fourin-ref-") as tmp:
        for table in reference_tables(env):
            _insert(con, table, Path(tmp))
    return sql_env(env)


#: The tables of each environment: (env, tables), at most a few (an engine's runs share them).
_TABLES: dict[int, tuple[RuleEnv, tuple[RefTable, ...]]] = {}


def reference_tables(env: RuleEnv) -> tuple[RefTable, ...]:
    """The reference and calendar tables of ``env``, built once per environment: the reference
    data of an engine do not change between its runs."""
    cached = _TABLES.get(id(env))
    if cached is not None and cached[0] is env:
        return cached[1]
    tables = tuple(_build_tables(env))
    if len(_TABLES) >= 8:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[id(env)] = (env, tables)
    return tables


def _build_tables(env: RuleEnv) -> Iterable[RefTable]:
    index = env.reference
    data = index.data
    for fn, (table, _key) in RECORD_TABLES.items():
        kind = fn
        source = {
            "unit": (u.model_dump() for u in data.units),
            "cadre": (c.model_dump() for c in data.cadres),
            "vehicle": (v.model_dump() for v in data.vehicles),
            "group": (g.model_dump() for g in data.groups),
            "staff": (s.model_dump() for s in data.staff),
        }[fn]
        key = RECORD_TABLES[fn][1]
        last = {r[key]: r for r in source}  # the last record of an id wins
        cols = list(RECORD_SCHEMAS[kind].items())
        yield _table(table, cols, _record_rows(last.values(), kind))
    assignment_cols = [*RECORD_SCHEMAS["assignment"].items(), ("eff_from", "date")]
    assignment_cols.append(("eff_to", "date"))
    yield _table("ref_assignment", assignment_cols, _assignment_rows(env))
    # The id lists are the index's own (sorted, as staff_of/leaders_of return them).
    staff_by_unit = getattr(index, "_staff_by_unit", {})
    leaders = getattr(index, "_leaders", {})
    yield _table(
        "ref_staff_of",
        [("unit_id", "str"), ("ids", "list[str]")],
        [[k, sorted(v)] for k, v in staff_by_unit.items()],
    )
    yield _table(
        "ref_leaders_of",
        [("township_id", "str"), ("ids", "list[str]")],
        [[k, sorted(v)] for k, v in leaders.items()],
    )
    groups = {g.group_id: g for g in data.groups}
    yield _table(
        "ref_group_kinds",
        [("group_id", "str"), ("kinds", "list[str]")],
        [[gid, [t.kind for t in g.targets]] for gid, g in groups.items()],
    )
    fences: list[tuple[float, float, float, str, str]] = list(getattr(index, "_fences", []))
    # A fence is visible from the point cells ReferenceIndex.township_at looks around: rows
    # within one of the fence's, columns within the reach of the point's row. One row per
    # (point cell, fence), so that the lookup is an equi-join on the point's cell.
    fence_rows = []
    for f_lat, f_lon, radius_m, unit_id, township in fences:
        f_row, f_col = index._cell_of(f_lat, f_lon)
        for row in (f_row - 1, f_row, f_row + 1):
            reach = index._lon_cells(row)
            for col in range(f_col - reach, f_col + reach + 1):
                fence_rows.append([row, col, f_lat, f_lon, radius_m, unit_id, township])
    yield _table(
        "ref_fence",
        [
            ("cell_row", "number"),
            ("cell_col", "number"),
            ("lat", "number"),
            ("lon", "number"),
            ("radius_m", "number"),
            ("unit_id", "str"),
            ("township", "str"),
        ],
        fence_rows,
    )
    yield _table(
        "cal_day",
        [("day", "date"), ("duty", "bool"), ("holiday", "str")],
        _calendar_rows(env),
    )


def sql_env(env: RuleEnv) -> SqlEnv:
    """The constants the expression compiler takes from ``env`` (no tables needed)."""
    index = env.reference
    cell: float | None = getattr(index, "_cell", None) if getattr(index, "_fences", None) else None
    hours = tuple((_us(a), _us(b)) for a, b in env.calendar.work_hours)
    return SqlEnv(work_hours_us=hours, fence_cell=cell, timezone=env.calendar.tz.key)
