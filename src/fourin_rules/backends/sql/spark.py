"""The columnar plan on Spark SQL (PySpark): the same sqlglot trees, rendered for Spark.

The run still loads and validates the files with DuckDB (:mod:`.load`) and builds the reference
and calendar tables there (:func:`.predicates.prepare`). :meth:`SparkDb.attach` then copies every
table of that connection to Parquet and registers each as a Spark temp view of the same name
(``ev_*``, ``ref_*``, ``cal_*``); the event views are repartitioned by their subject key
(``cadre_id`` where the type has it) and kept materialized on the executors. From there every
query of the rule kinds (:mod:`.kinds`) runs in Spark; only the rows that pass come back to the
driver, where findings are assembled exactly as with DuckDB.

The trees are written for DuckDB; :func:`to_spark` rewrites the few constructs Spark spells
differently (``epoch``, ``timezone(tz, ts)``, ``list_position``, ``list_sum``, ...) before
rendering. Values come back as DuckDB returns them: timestamps as aware datetimes in the dataset
zone, structs as dicts, lists as lists.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlglot import exp

from fourin_rules.backends.sql.hoist import canonical
from fourin_rules.errors import FourinError

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SUBJECT_KEYS",
    "SparkDb",
    "export_parquet",
    "require_spark",
    "spark_session",
    "to_spark",
]

#: Columns an event table is partitioned by (the first one it has), so that each subject's
#: events meet on one executor; a type without one keeps the Parquet file's partitioning.
SUBJECT_KEYS: tuple[str, ...] = ("cadre_id",)

INSTALL_HINT = "pip install 'fourin-rules[spark]' (PySpark 4) and a Java 17+ runtime"
_EXCLUDED_RULES = "org.apache.spark.sql.catalyst.optimizer.PushProjectionThroughUnion"
_HIDDEN = "__o"  # prefix of the hidden ordering columns of a temp table made from ORDER BY


def require_spark() -> None:
    """Raise ``backend-limit`` unless PySpark imports and a Java runtime is on the machine."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise FourinError(
            "backend-limit",
            f"the spark backend needs PySpark, which is not installed ({exc})",
            suggestion=INSTALL_HINT,
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and (Path(java_home) / "bin" / "java").exists()) and not shutil.which("java"):
        raise FourinError(
            "backend-limit",
            "the spark backend needs a Java runtime: no `java` on PATH and no JAVA_HOME",
            suggestion=INSTALL_HINT,
        )


def spark_session(master: str | None = None, shuffle_partitions: int = 4) -> SparkSession:
    """The process's Spark session: the active one (``spark-submit`` made it, or the caller),
    else a local one (``master``, default ``$FOURIN_SPARK_MASTER`` or ``local[2]``) with the
    UI off and few shuffle partitions."""
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or os.environ.get("FOURIN_SPARK_MASTER", "local[2]")
    # Python workers must run the driver's Python (PySpark refuses another minor version).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("fourin-rules")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.showConsoleProgress", "false")
    )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise FourinError(
            "backend-limit",
            f"Spark did not start: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            suggestion=INSTALL_HINT,
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ------------------------------------------------------------------------------- to_spark


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _micros(t: exp.Expression) -> exp.Expression:
    return _fn("unix_micros", t)


def _epoch(arg: exp.Expression) -> exp.Expression:
    """DuckDB ``epoch(ts)`` / ``epoch(ts - ts)``: seconds as a DOUBLE."""
    inner = arg.unnest() if isinstance(arg, exp.Paren) else arg
    if isinstance(inner, exp.Sub):
        us: exp.Expression = exp.Sub(this=_micros(inner.this), expression=_micros(inner.expression))
    else:
        us = _micros(arg)
    return exp.Paren(
        this=exp.Div(
            this=exp.cast(exp.Paren(this=us), "DOUBLE"), expression=exp.Literal.number("1e6")
        )
    )


def _first_position(
    listed: exp.Expression, x: exp.Expression, pos: exp.Expression
) -> exp.Expression:
    """``list_position(listed, x) = pos`` with DuckDB's 1-based ordinality, on Spark's 0-based
    ``posexplode``: no element before ``pos`` equals ``x`` (NULLs and structs compare equal)."""
    y = exp.to_identifier("_y")
    earlier = _fn("slice", listed, exp.Literal.number(1), pos)
    same = exp.NullSafeEQ(this=exp.column("_y"), expression=x)
    return exp.Not(this=_fn("exists", earlier, exp.Lambda(this=same, expressions=[y])))


def _array_sum(arr: exp.Expression) -> exp.Expression:
    """DuckDB ``list_sum``: the sum of the non-null elements, NULL for none."""
    x, acc = exp.to_identifier("_x"), exp.to_identifier("_acc")
    present = _fn(
        "filter",
        arr,
        exp.Lambda(
            this=exp.Not(this=exp.Is(this=exp.column("_x"), expression=exp.null())), expressions=[x]
        ),
    )
    add = exp.Add(
        this=exp.Coalesce(
            this=exp.column("_acc"), expressions=[exp.cast(exp.Literal.number(0), "DOUBLE")]
        ),
        expression=exp.column("_x"),
    )
    return _fn(
        "aggregate",
        present,
        exp.cast(exp.null(), "DOUBLE"),
        exp.Lambda(this=add, expressions=[acc, x]),
    )


def _argmin_lookup(sub: exp.Subquery) -> exp.Expression | None:
    """``(SELECT arg_min(v, k) FROM t AS a WHERE ...)`` whose ``k`` reads the outer row: Spark
    refuses an aggregate of both outer and local columns, and takes them computed a level
    down: ``(SELECT min_by(_v, _k) FROM (SELECT v AS _v, k AS _k FROM t AS a WHERE ...))``."""
    sel = sub.this
    if not isinstance(sel, exp.Select) or len(sel.expressions) != 1:
        return None
    agg = sel.expressions[0]
    if not isinstance(agg, exp.ArgMin) or sel.args.get("group"):
        return None
    inner = sel.copy()
    inner.set(
        "expressions",
        [agg.this.copy().as_("_v", quoted=True), agg.expression.copy().as_("_k", quoted=True)],
    )
    outer = exp.select(
        exp.ArgMin(this=exp.column("_v", quoted=True), expression=exp.column("_k", quoted=True))
    ).from_(inner.subquery("_m"))
    return exp.Subquery(this=outer, alias=sub.args.get("alias"))


#: Spark functions taking a lambda; a subquery among their arguments is refused.
_HIGHER_ORDER = frozenset(
    {"filter", "transform", "exists", "forall", "aggregate", "reduce", "zip_with"}
)


def _enclosing_select(node: exp.Expression) -> exp.Select | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


def _needs_lift(sub: exp.Subquery, select: exp.Select) -> bool:
    """``sub`` sits in a higher-order function or an UNNEST of ``select``."""
    node = sub.parent
    while node is not None and node is not select:
        if isinstance(node, exp.Lambda | exp.ArrayFilter | exp.Transform | exp.Unnest):
            return True
        if isinstance(node, exp.Anonymous) and node.name.lower() in _HIGHER_ORDER:
            return True
        node = node.parent
    return False


def _reads_only(sub: exp.Subquery, alias: str) -> bool:
    """Every column ``sub`` reads from outside itself is of the row ``alias``."""
    own = {t.alias_or_name for t in sub.find_all(exp.Table)}
    own |= {s.alias for s in sub.find_all(exp.Subquery) if s.alias}
    return all(not c.table or c.table in own or c.table == alias for c in sub.find_all(exp.Column))


def _lift_subqueries(select: exp.Select) -> exp.Select:
    """Subqueries inside higher-order functions or UNNEST (Spark refuses both) become columns of
    a layer over the FROM source: ``FROM (SELECT a.*, (subquery) AS _s1 FROM src AS a) AS a``."""
    source = select.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table | exp.Subquery):
        return select
    alias = source.this.alias_or_name
    scoped = [
        sub
        for sub in select.find_all(exp.Subquery)
        if sub is not source.this
        and _enclosing_select(sub) is select
        and not isinstance(sub.parent, exp.From | exp.Join)
        and _reads_only(sub, alias)
    ]
    if not alias or not any(_needs_lift(sub, select) for sub in scoped):
        return select
    # All of them, so that equal lookups become one column (Spark also fails on many equal
    # correlated subqueries in one filter).
    targets = scoped
    names: dict[str, str] = {}
    columns = []
    for sub in targets:
        text = canonical(sub, "spark")
        if text not in names:
            names[text] = f"_s{len(names) + 1}"
            columns.append(exp.Subquery(this=sub.this.copy()).as_(names[text], quoted=True))
        sub.replace(exp.column(names[text], table=alias, quoted=True))
    layer = exp.select(exp.column(exp.Star(), table=alias), *columns).from_(source.this.copy())
    select.set("from_", exp.From(this=_decorrelate(layer).subquery(alias)))
    return select


def _scope_aliases(select: exp.Select) -> set[str]:
    """The names of the rows ``select`` reads: its FROM source and its joins."""
    sources = [select.args["from_"].this] if select.args.get("from_") else []
    sources += [j.this for j in select.args.get("joins") or []]
    return {s.alias_or_name for s in sources if isinstance(s, exp.Table | exp.Subquery)}


def _lookup_parts(
    sub: exp.Subquery, outer: set[str]
) -> tuple[exp.Table, exp.Expression, exp.Expression, exp.Column] | None:
    """``(SELECT v FROM t AS a WHERE a.k = <outer> AND ...)``, a plain keyed lookup: its
    table, value, condition and a column of ``a`` that is not NULL on a match; else None."""
    sel = sub.this
    if not isinstance(sel, exp.Select) or len(sel.expressions) != 1:
        return None
    if any(sel.args.get(k) for k in ("joins", "group", "order", "limit", "having", "qualify")):
        return None
    table = sel.args["from_"].this if sel.args.get("from_") else None
    where = sel.args.get("where")
    if not isinstance(table, exp.Table) or not table.alias or where is None:
        return None
    if sel.find(exp.AggFunc) or any(s is not sub for s in sel.find_all(exp.Subquery)):
        return None
    alias = table.alias
    if alias in outer or any(
        c.table not in outer | {alias} for c in sel.find_all(exp.Column) if c.table
    ):
        return None
    if any(not c.table for c in sel.find_all(exp.Column)):
        return None
    marker = None
    for cond in _conjuncts(where.this):
        if isinstance(cond, exp.EQ):
            for side, other in ((cond.this, cond.expression), (cond.expression, cond.this)):
                if (
                    isinstance(side, exp.Column)
                    and side.table == alias
                    and alias not in {c.table for c in other.find_all(exp.Column)}
                ):
                    marker = side
        if marker is not None:
            break
    if marker is None:
        return None
    return table, sel.expressions[0].unalias(), where.this, marker


def _conjuncts(cond: exp.Expression) -> list[exp.Expression]:
    inner = cond.unnest() if isinstance(cond, exp.Paren) else cond
    if isinstance(inner, exp.And):
        return _conjuncts(inner.this) + _conjuncts(inner.expression)
    return [inner]


def _decorrelate(select: exp.Select) -> exp.Select:
    """Keyed lookups (scalar subqueries of reference tables by id, or of assignments by cadre
    and day) as LEFT JOINs of this SELECT: Spark plans a subquery correlated on a value that
    another subquery computed wrongly (``SCALAR_SUBQUERY_TOO_MANY_ROWS``), and a join of a
    small table is broadcast anyway. A key matches at most one row (the reference tables hold
    one row per id, assignments do not overlap), so no row is repeated; an unmatched lookup
    is NULL, as the subquery's value is."""
    if not select.args.get("from_") or any(isinstance(e, exp.Star) for e in select.expressions):
        return select
    if any(isinstance(j.this, exp.Unnest) for j in select.args.get("joins") or []):
        return select
    outer = _scope_aliases(select)
    found: list[tuple[exp.Subquery, tuple[exp.Table, exp.Expression, exp.Expression, exp.Column]]]
    found = []
    for sub in select.find_all(exp.Subquery):
        if _enclosing_select(sub) is not select or isinstance(sub.parent, exp.From | exp.Join):
            continue
        parts = _lookup_parts(sub, outer)
        if parts is not None:
            found.append((sub, parts))
    joined: dict[str, str] = {}
    for sub, (table, value, cond, marker) in found:
        text = canonical(sub, "spark")
        if text not in joined:
            joined[text] = table.alias
            select.join(table.copy(), on=cond.copy(), join_type="LEFT", copy=False)
        alias = joined[text]

        def rename(n: exp.Expression, old: str = table.alias, new: str = alias) -> exp.Expression:
            if isinstance(n, exp.Column) and n.table == old:
                return exp.column(n.name, table=new, quoted=True)
            return n

        got = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=rename(marker.copy()), expression=exp.null()), true=exp.null()
                )
            ],
            default=value.copy().transform(rename),
        )
        replacement: exp.Expression = exp.Paren(this=got)
        if sub.alias:
            replacement = replacement.as_(sub.alias, quoted=True)
        sub.replace(replacement)
    return select


def to_spark(tree: exp.Expression, tz: str | None = None) -> exp.Expression:
    """A copy of a DuckDB-flavoured tree that renders to working Spark SQL.

    Assumes the Spark session time zone is the dataset's (``tz``): DuckDB's
    ``timezone(tz, <local timestamp>)`` becomes a cast of the ``TIMESTAMP_NTZ`` to Spark's
    session-local ``TIMESTAMP``.
    """

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            args = node.expressions
            if name == "epoch" and len(args) == 1:
                return _epoch(args[0])
            if name == "epoch_us" and len(args) == 1:
                return _micros(args[0])
            if name == "list_sum" and len(args) == 1:
                return _array_sum(args[0])
            if name == "to_timestamp" and len(args) == 1:
                return _fn("timestamp_seconds", args[0])
            if name == "range" and len(args) == 2:
                last = exp.Sub(this=exp.Paren(this=args[1]), expression=exp.Literal.number(1))
                return exp.If(
                    this=exp.LTE(
                        this=exp.Paren(this=args[1].copy()),
                        expression=exp.Paren(this=args[0].copy()),
                    ),
                    true=exp.Array(expressions=[]),
                    false=_fn("sequence", args[0], last),
                )
            if name == "timezone" and len(args) == 2:
                zone = args[0]
                if tz is not None and isinstance(zone, exp.Literal) and zone.this != tz:
                    raise NotImplementedError(
                        f"timezone({zone.this!r}, ...) differs from the session zone {tz!r}"
                    )
                return exp.cast(args[1], exp.DataType.build("TIMESTAMPTZ"))
        if isinstance(node, exp.EQ):
            left = node.this
            if isinstance(left, exp.Anonymous) and left.name.lower() == "list_position":
                listed, x = left.expressions
                return _first_position(listed, x, node.expression)
        if isinstance(node, exp.Select):
            return _decorrelate(_lift_subqueries(node))
        if isinstance(node, exp.Subquery):
            lookup = _argmin_lookup(node)
            if lookup is not None:
                return lookup
        if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
            # Spark's date_trunc: a TIMESTAMP in the session zone for dates and times alike
            # (sqlglot renders DateTrunc as TRUNC, which returns a DATE).
            unit = node.args.get("unit")
            unit_text = unit.name if isinstance(unit, exp.Literal | exp.Var) else str(unit)
            return _fn("date_trunc", exp.Literal.string(unit_text.upper()), node.this)
        if isinstance(node, exp.TimeToUnix):
            return _epoch(node.this)
        if isinstance(node, exp.UnixToTime):
            return _fn("timestamp_seconds", node.this)
        if isinstance(node, exp.List):
            return exp.ArrayAgg(this=node.expressions[0])
        if isinstance(node, exp.ArraySum):
            return _array_sum(node.this)
        if isinstance(node, exp.ArraySize):
            return _fn("array_size", node.this)
        if isinstance(node, exp.ArrayIntersect):
            return _fn("array_intersect", *node.expressions)
        if isinstance(node, exp.ArrayOverlaps):
            return _fn("arrays_overlap", node.this, node.expression)
        if isinstance(node, exp.DayOfWeekIso):
            return exp.Paren(
                this=exp.Add(this=_fn("weekday", node.this), expression=exp.Literal.number(1))
            )
        if isinstance(node, exp.Extract) and not isinstance(node.parent, exp.Cast):
            # DuckDB's parts are BIGINT (Spark's INT overflows in the microsecond sums), and
            # its MICROSECOND counts the seconds too.
            if node.this.name.upper() == "MICROSECOND":
                seconds = exp.Extract(this=exp.var("SECOND"), expression=node.expression)
                micros = exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000))
                return exp.cast(micros, "BIGINT")
            return exp.cast(node, "BIGINT")
        return node

    return _post_order(tree.copy(), fix)


def _post_order(
    node: exp.Expression, fix: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """Rewrite the children, then the node (each node is seen once, after its children)."""
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _post_order(value, fix))
        elif isinstance(value, list):
            node.set(
                key, [_post_order(v, fix) if isinstance(v, exp.Expression) else v for v in value]
            )
    return fix(node)


# ------------------------------------------------------------------------------- values


def _python(value: Any, zone: ZoneInfo) -> Any:
    """A collected Spark value as DuckDB would return it."""
    from pyspark.sql import Row

    if isinstance(value, datetime):
        # PySpark builds naive datetimes in the process's local zone (fold set for repeated
        # hours), so astimezone gives back the exact instant.
        return value.astimezone(zone)
    if isinstance(value, Row):
        return {k: _python(v, zone) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {k: _python(v, zone) for k, v in value.items()}
    if isinstance(value, list):
        return [_python(v, zone) for v in value]
    return value


def _spark_schema(columns: Mapping[str, str]) -> str:
    """A Spark DDL schema from DuckDB type names."""
    return ", ".join(
        f"`{name}` {exp.DataType.build(t, dialect='duckdb').sql(dialect='spark')}"
        for name, t in columns.items()
    )


# ------------------------------------------------------------------------------- tables


def export_parquet(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, Path]:
    """Write every table of ``con`` (events, reference, calendar) to ``folder/<table>.parquet``;
    returns table -> file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    out = {}
    for name in names:
        path = folder / f"{name}.parquet"
        copy = f"COPY {exp.to_identifier(name, quoted=True).sql('duckdb')} TO "
        con.execute(copy + exp.Literal.string(str(path)).sql("duckdb") + " (FORMAT parquet)")
        out[name] = path
    return out


def _sorted_locally(
    query: exp.Expression,
) -> tuple[exp.Select, list[tuple[bool, bool]]] | None:
    """A query whose ORDER BY can be done on the driver: the query with the sort keys as extra
    trailing columns instead, and each key's ``(desc, nulls_first)``; None when it cannot."""
    if not isinstance(query, exp.Select) or query.args.get("distinct"):
        return None
    order = query.args.get("order")
    if order is None or not order.expressions or query.args.get("limit"):
        return None
    if query.args.get("offset") or any(isinstance(e, exp.Star) for e in query.expressions):
        return None
    unsorted = query.copy()
    unsorted.set("order", None)
    flags = []
    for k, item in enumerate(order.expressions):
        ordered = item if isinstance(item, exp.Ordered) else exp.Ordered(this=item)
        unsorted.select(ordered.this.copy().as_(f"__k{k}", quoted=True), copy=False)
        flags.append((bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first"))))
    return unsorted, flags


def _sort_rows(
    rows: list[tuple[Any, ...]], flags: list[tuple[bool, bool]]
) -> list[tuple[Any, ...]]:
    """Rows whose last ``len(flags)`` values are sort keys, sorted by them (stable, key by key
    from the last), the keys dropped."""
    width = len(rows[0]) - len(flags) if rows else 0
    for i in range(len(flags) - 1, -1, -1):
        desc, nulls_first = flags[i]
        at = width + i
        nulls = [r for r in rows if r[at] is None]
        present = sorted((r for r in rows if r[at] is not None), key=lambda r: r[at], reverse=desc)
        rows = nulls + present if nulls_first else present + nulls
    return [r[:width] for r in rows]


def spark_schema(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The Spark DDL schema of a DuckDB table (JSON columns as strings)."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return _spark_schema({name: "VARCHAR" if t == "JSON" else t for name, t in rows})


class SparkDb:
    """The :class:`~fourin_rules.backends.sql.db.SqlEngine` of a Spark session.

    Each instance works in its own ``newSession()`` (its temp views and time zone are its own;
    the SparkContext is shared). Temp tables are materialized (``localCheckpoint``) so that a
    query reads a snapshot, as a DuckDB temp table is.

    Args:
        spark: the session to derive from (default :func:`spark_session`).
        tz: the dataset time zone (``spark.sql.session.timeZone``).
        staging: where :meth:`attach` writes Parquet (default ``$FOURIN_SPARK_STAGING``, else a
            temporary folder); on a cluster, a folder the driver writes and every executor reads
            (a shared mount). Each run's copies are removed by :meth:`close`.
        tables: Parquet files already on shared storage (table -> ``hdfs://``/``s3a://``
            path, as :func:`export_parquet` wrote them): :meth:`attach` registers these.
    """

    dialect = "spark"

    def __init__(
        self,
        tz: str,
        spark: SparkSession | None = None,
        staging: str | Path | None = None,
        tables: Mapping[str, str] | None = None,
    ) -> None:
        self.tz = tz
        self.zone = ZoneInfo(tz)
        base = spark or spark_session()
        self.spark = base.newSession()
        self.spark.conf.set("spark.sql.session.timeZone", tz)
        # Spark 4 fails ("key not found") on a correlated subquery over a UNION ALL once this
        # rule has pushed the projection into the union's branches; the rule only saves work.
        self.spark.conf.set("spark.sql.optimizer.excludedRules", _EXCLUDED_RULES)
        staging = staging or os.environ.get("FOURIN_SPARK_STAGING") or None
        self._own_staging = staging is None
        self.staging = Path(staging or tempfile.mkdtemp(prefix="fourin-spark-"))
        self._folder: Path | None = None  # this run's Parquet copies, removed by close()
        self.tables = dict(tables or {})
        self._ordered: dict[str, tuple[list[str], list[exp.Ordered]]] = {}
        self._frames: dict[str, DataFrame] = {}
        self._schemas: dict[str, str] = {}  # table -> Spark DDL (saves a schema-reading job)

    # -- data in -------------------------------------------------------------------------------
    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Copy every table of ``con`` into Spark (through Parquet) as views of the same name;
        with ``tables`` given (Parquet already on shared storage), register those instead."""
        if self.tables:
            self.register_parquet(self.tables)
            return
        self._folder = self.staging / uuid.uuid4().hex[:12]
        files = export_parquet(con, self._folder)
        self._schemas = {name: spark_schema(con, name) for name in files}
        self.register_parquet(files)

    def register_parquet(self, files: Mapping[str, str | Path]) -> None:
        """Register Parquet files (table -> path, any path Spark reads: file, hdfs://, s3a://)
        as temp views; event tables (``ev_*``) are repartitioned by their subject key."""
        parts = int(self.spark.conf.get("spark.sql.shuffle.partitions") or 4)
        for name, path in files.items():
            schema = self._schemas.get(name)
            reader = self.spark.read.schema(schema) if schema else self.spark.read
            df = reader.parquet(str(path))
            if name.startswith("ev_"):
                key = next((k for k in SUBJECT_KEYS if k in df.columns), None)
                df = df.repartition(parts, key) if key else df
                df = df.persist()  # materialized by the first query that reads it
            self._register(name, df)

    def _register(self, name: str, df: DataFrame) -> None:
        self._frames[name] = df
        df.createOrReplaceTempView(name)

    # -- SqlEngine -----------------------------------------------------------------------------
    def render(self, query: exp.Expression) -> str:
        return to_spark(query, self.tz).sql(dialect=self.dialect)

    def fetch(self, query: exp.Expression) -> list[tuple[Any, ...]]:
        query = self._in_order(query)
        local = _sorted_locally(query)
        if local is not None:  # sorted here: a global sort costs Spark a sampling job
            unsorted, flags = local
            rows = [self._values(r) for r in self.spark.sql(self.render(unsorted)).collect()]
            try:
                return _sort_rows(rows, flags)
            except TypeError:  # values Python cannot order (structs): let Spark sort
                pass
        return [self._values(r) for r in self.spark.sql(self.render(query)).collect()]

    def _values(self, row: Any) -> tuple[Any, ...]:
        return tuple(_python(v, self.zone) for v in row)

    def create_temp(self, name: str, query: exp.Expression, *, shared: bool = False) -> None:
        # A temp view is the session's: every thread sees it (``shared`` changes nothing).
        query = query.copy()
        self._ordered.pop(name, None)
        order = query.args.get("order") if isinstance(query, exp.Select) else None
        if order is not None and order.expressions:
            # Spark tables have no row order: keep the ORDER BY keys as hidden columns of a
            # second view, which a bare ``SELECT *`` of the table is read through (in order).
            visible = list(query.named_selects)
            keys = []
            for k, item in enumerate(order.expressions):
                ordered = item.copy() if isinstance(item, exp.Ordered) else exp.Ordered(this=item)
                query.select(ordered.this.copy().as_(f"{_HIDDEN}{k}", quoted=True), copy=False)
                ordered.set("this", exp.column(f"{_HIDDEN}{k}", quoted=True))
                keys.append(ordered)
            query.set("order", None)
            df = self.spark.sql(self.render(query)).localCheckpoint(eager=True)
            self._register(f"{name}{_HIDDEN}", df)
            self._register(name, df.select(*[f"`{c}`" for c in visible]))
            self._ordered[name] = (visible, keys)
            return
        self._register(name, self.spark.sql(self.render(query)).localCheckpoint(eager=True))

    def create_temp_from(
        self,
        name: str,
        columns: Mapping[str, str],
        rows: Sequence[Sequence[Any]],
        *,
        shared: bool = False,
    ) -> None:
        self._ordered.pop(name, None)
        # A local relation: the rows travel with the plan, no job is needed to keep them.
        df = self.spark.createDataFrame([tuple(r) for r in rows], schema=_spark_schema(columns))
        self._register(name, df)

    def _in_order(self, query: exp.Expression) -> exp.Expression:
        """``SELECT *`` (or ``t.*``) from a table made with ORDER BY, and no ORDER BY of its
        own: read in the table's order, as DuckDB returns a temp table's rows."""
        if not isinstance(query, exp.Select) or query.args.get("order") is not None:
            return query
        source = query.args.get("from_")
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or table.name not in self._ordered:
            return query
        alias = table.alias_or_name
        if not all(
            isinstance(e, exp.Star)
            or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star) and e.table == alias)
            for e in query.expressions
        ):
            return query
        visible, keys = self._ordered[table.name]
        query = query.copy()
        query.set("expressions", [exp.column(c, table=alias, quoted=True) for c in visible])
        query.args["from_"].set("this", exp.to_table(f"{table.name}{_HIDDEN}").as_(alias))
        ordered = []
        for key in keys:
            key = key.copy()
            key.set("this", exp.column(key.this.name, table=alias, quoted=True))
            ordered.append(key)
        return query.order_by(*ordered, copy=False)

    def close(self) -> None:
        """Drop this run's views and remove its staging folder (when it made one)."""
        for name in list(self._frames):
            self.spark.catalog.dropTempView(name)
        self._frames.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        if self._own_staging:
            shutil.rmtree(self.staging, ignore_errors=True)
