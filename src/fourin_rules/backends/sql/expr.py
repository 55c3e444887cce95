"""Compile expression trees (:mod:`fourin_rules.expr.nodes`) to sqlglot expressions.

The SQL value of a node equals the Python evaluator's value for every input, nulls included:

- every node has a *value* (SQL NULL for Python None) and, where it is used as a condition, a
  *truth*: a boolean that is never NULL, true exactly when the Python value is truthy, so that
  ``not``/``and``/``or`` of SQL's three-valued logic never see a NULL;
- ``==``/``!=`` are ``IS [NOT] DISTINCT FROM`` (Python's ``None == None`` is true), ordering
  comparisons with a NULL operand are false, ``x in list`` with a NULL ``x`` is false;
- arithmetic with a NULL operand is NULL, and so is a division by zero;
- reference lookups read the tables of :mod:`fourin_rules.backends.sql.refdata` with scalar
  subqueries (DuckDB decorrelates them into joins on the distinct keys).

What cannot be compiled raises :class:`NotImplementedError` naming the node, so that a caller
can test that predicate in Python instead. Constructs that are DuckDB-only (struct literals,
list lambdas, ``list_position``, ``arg_min`` over a struct) are marked ``duckdb-only`` below;
the rest renders in Spark SQL through sqlglot as well.

Known differences (documented, not reachable from validated data): NaN (only from arithmetic on
infinities) orders and equals differently; ``lower`` and ``contains_any`` use SQL's lower-casing,
which differs from Python's for a few special letters (``İ``, final sigma); integers beyond
2**31 are compared as doubles; ``hour``/``minute_of_day``/``weekday`` of a time that is not in
the dataset's zone (never an event time) use the local clock; a day of a year without national
calendar data is not a duty day (Python raises ``calendar-missing-year``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from fourin_rules.backends.sql.refdata import RECORD_TABLES, SqlEnv, sql_literal
from fourin_rules.backends.sql.schema import column_type, local_name, wall_clock
from fourin_rules.expr.evaluate import EvalContext, compile_predicate
from fourin_rules.expr.nodes import (
    Arith,
    Attr,
    BoolOp,
    Call,
    Compare,
    Field,
    IfElse,
    ListLit,
    Literal,
    Neg,
    Node,
    Not,
    Var,
    to_source,
)
from fourin_rules.expr.records import RECORD_SCHEMAS
from fourin_rules.geo import EARTH_RADIUS_KM
from fourin_rules.model.types import (
    ANY,
    BOOL,
    DATE,
    NULL,
    NUMBER,
    STR,
    TIME,
    element_type,
    is_list,
    is_record,
    record_kind,
)

__all__ = ["ExprCompiler", "Resolver", "TableResolver"]

_DEG = math.pi / 180.0  # math.radians(x) is x * (pi / 180)
_MAX_FLOAT = 1.7976931348623157e308
_SEPARATORS = ("\uffff", "\ufffe", "\U0010ffff", "\x01", "\x02")
_ORDER_OPS = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
# Functions whose SQL form is a boolean that is never NULL.
_NONNULL_BOOL_FNS = frozenset(
    {
        "dispatched",
        "duty_day",
        "work_hours",
        "contains_any",
        "items_contain",
        "intersects",
        "starts_with",
    }
)


class Resolver(Protocol):
    """Where names live: the SQL expression of an event field and of a bound variable."""

    def field(self, name: str, type_: str) -> exp.Expression: ...
    def var(self, name: str, type_: str) -> exp.Expression: ...


@dataclass
class TableResolver:
    """Fields are columns of ``alias`` (the event table of ``event_type``); ``type`` is the
    event type itself; a field the table lacks is NULL (Python's ``event.get``). Variables are
    the given expressions (usually columns of a derived table); an unbound one is NULL."""

    alias: str
    columns: Mapping[str, str]
    event_type: str
    variables: Mapping[str, exp.Expression] = field(default_factory=dict)
    #: ``alias`` carries the event table's local wall-clock columns (its rows are the table's
    #: own, ``SELECT e.*`` and layers over it): time fields are marked to be read from those.
    local: bool = False

    def field(self, name: str, type_: str) -> exp.Expression:
        if name == "type":
            return exp.Literal.string(self.event_type)
        if name not in self.columns:
            return _null(type_)
        column = exp.column(name, table=self.alias, quoted=True)
        if self.local and self.columns[name] == TIME:
            column.meta["local"] = local_name(name)
        return column

    def var(self, name: str, type_: str) -> exp.Expression:
        found = self.variables.get(name)
        return found.copy() if found is not None else _null(type_)


def _null(type_: str) -> exp.Expression:
    if type_ in (NULL, ANY) or (is_record(type_) and record_kind(type_) not in RECORD_SCHEMAS):
        return exp.null()
    return exp.cast(exp.null(), column_type(type_))


def _coalesce_false(e: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=e, expressions=[exp.false()])


def _paren(e: exp.Expression) -> exp.Expression:
    return e if isinstance(e, exp.Paren | exp.Column | exp.Literal) else exp.Paren(this=e)


def _or(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return exp.false()
    out = _paren(parts[0])
    for p in parts[1:]:
        out = exp.Or(this=out, expression=_paren(p))
    return out


def _and(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return exp.true()
    out = _paren(parts[0])
    for p in parts[1:]:
        out = exp.And(this=out, expression=_paren(p))
    return out


def _is_null(e: exp.Expression) -> exp.Expression:
    return exp.Is(this=_paren(e), expression=exp.null())


def _not_null(e: exp.Expression) -> exp.Expression:
    return exp.Not(this=_is_null(e))


def _num(value: float | int) -> exp.Expression:
    return sql_literal(value)


def _finite(e: exp.Expression) -> exp.Expression:
    """``e`` is a finite number (NULL when ``e`` is NULL; NaN fails: it orders above all)."""
    return exp.LTE(this=exp.Abs(this=e), expression=_num(_MAX_FLOAT))


class ExprCompiler:
    """Compiles expression nodes for one connection's tables.

    Args:
        env: the constants of the reference and calendar tables, or None: then reference and
            calendar functions raise NotImplementedError (pure functions still compile).
    """

    def __init__(self, env: SqlEnv | None = None) -> None:
        self.env = env
        self._alias = 0

    # ---------------------------------------------------------------------------- entry

    def truth(self, node: Node, names: Resolver) -> exp.Expression:
        """A boolean, never NULL: true exactly when the Python value of ``node`` is truthy."""
        if isinstance(node, Compare | BoolOp | Not):
            return self.value(node, names)
        if isinstance(node, Literal):
            return exp.true() if node.value else exp.false()
        if isinstance(node, Call) and node.fn in _NONNULL_BOOL_FNS:
            return self.value(node, names)
        t = node.type
        if t == BOOL:
            return _coalesce_false(self.value(node, names))
        if t == NULL:
            return exp.false()
        if is_record(t):  # a record (a non-empty dict) is truthy when present
            return _not_null(self.value(node, names))
        raise NotImplementedError(f"truth of a {t} value is not compiled: {to_source(node)}")

    def value(self, node: Node, names: Resolver) -> exp.Expression:
        """The SQL value of ``node`` (NULL where Python has None)."""
        method: Callable[[Any, Resolver], exp.Expression] | None = getattr(
            self, f"_{type(node).__name__.lower()}", None
        )
        if method is None:
            raise NotImplementedError(f"{type(node).__name__} is not compiled to SQL: {node!r}")
        if ANY in (getattr(node, "type", None),) and not isinstance(node, Literal):
            raise NotImplementedError(f"values of type any are not compiled: {to_source(node)}")
        return method(node, names)

    def reset_aliases(self) -> None:
        """Number subquery aliases from 1 again (they need only be unique within a query, and
        equal predicates then give equal SQL text)."""
        self._alias = 0

    def _alias_name(self, stem: str) -> str:
        self._alias += 1
        return f"_{stem}{self._alias}"

    # ---------------------------------------------------------------------------- leaves

    def _literal(self, node: Literal, names: Resolver) -> exp.Expression:
        if node.type == ANY:
            raise NotImplementedError(f"literal of type any: {to_source(node)}")
        return sql_literal(node.value, None if node.type == NULL else node.type)

    def _listlit(self, node: ListLit, names: Resolver) -> exp.Expression:
        if not node.items:
            return sql_literal((), node.type if element_type(node.type) != ANY else None)
        return exp.Array(expressions=[self.value(i, names) for i in node.items])

    def _field(self, node: Field, names: Resolver) -> exp.Expression:
        return names.field(node.name, node.type)

    def _var(self, node: Var, names: Resolver) -> exp.Expression:
        return names.var(node.name, node.type)

    def _param(self, node: Node, names: Resolver) -> exp.Expression:
        raise NotImplementedError(f"parameter not folded: {to_source(node)}")

    _listref = _param

    def _attr(self, node: Attr, names: Resolver) -> exp.Expression:
        obj = node.obj
        if not is_record(obj.type) or record_kind(obj.type) not in RECORD_SCHEMAS:
            raise NotImplementedError(f"attribute of a {obj.type} value: {to_source(node)}")
        if isinstance(obj, Literal) and obj.value is None:
            return _null(node.type)
        if isinstance(obj, Call) and obj.fn in RECORD_TABLES:
            table, key = RECORD_TABLES[obj.fn]
            return self._lookup(table, key, self.value(obj.args[0], names), node.name)
        if isinstance(obj, Call) and obj.fn == "assignment":
            return self._assignment(obj, names, node.name)
        # duckdb-only in this form; sqlglot renders ``x.name`` for Spark.
        return exp.StructExtract(
            this=self.value(obj, names), expression=exp.Literal.string(node.name)
        )

    # ------------------------------------------------------------------------- operators

    def _not(self, node: Not, names: Resolver) -> exp.Expression:
        return exp.Not(this=_paren(self.truth(node.operand, names)))

    def _boolop(self, node: BoolOp, names: Resolver) -> exp.Expression:
        parts = [self.truth(v, names) for v in node.values]
        return _and(parts) if node.op == "and" else _or(parts)

    def _compare(self, node: Compare, names: Resolver) -> exp.Expression:
        op, left, right = node.op, node.left, node.right
        if op in ("in", "not in"):
            found = self._member(left, right, names)
            return exp.Not(this=_paren(found)) if op == "not in" else found
        for side in (left, right):
            if (
                is_record(side.type)
                and op in ("==", "!=")
                and not _is_null_literal(right if side is left else left)
            ):
                raise NotImplementedError(f"record comparison: {to_source(node)}")
        if op in ("==", "!="):
            if _is_null_literal(right) or _is_null_literal(left):
                other = left if _is_null_literal(right) else right
                if _is_null_literal(other):
                    return exp.true() if op == "==" else exp.false()
                v = self.value(other, names)
                return _is_null(v) if op == "==" else _not_null(v)
            a, b = self.value(left, names), self.value(right, names)
            cls = exp.NullSafeEQ if op == "==" else exp.NullSafeNEQ
            return cls(this=_paren(a), expression=_paren(b))
        if _is_null_literal(left) or _is_null_literal(right):
            return exp.false()
        a, b = self.value(left, names), self.value(right, names)
        return _coalesce_false(_ORDER_OPS[op](this=_paren(a), expression=_paren(b)))

    def _member(self, left: Node, right: Node, names: Resolver) -> exp.Expression:
        """``left in right`` with Python's null semantics (never NULL)."""
        if _is_null_literal(left) or _is_null_literal(right):
            return exp.false()
        x = self.value(left, names)
        if isinstance(right, Literal | ListLit) and is_list(right.type):
            values = (
                right.value if isinstance(right, Literal) else tuple(i.value for i in right.items)  # type: ignore[union-attr]
            )
            members = [v for v in values if v is not None]
            if not members:
                return exp.false()
            return _coalesce_false(
                exp.In(
                    this=_paren(x),
                    expressions=[sql_literal(v) for v in dict.fromkeys(members)],
                )
            )
        y = self.value(right, names)
        if right.type == STR:
            found = exp.Contains(this=y, expression=x)
        elif is_list(right.type):
            found = exp.ArrayContains(this=y, expression=x)
        else:
            raise NotImplementedError(f"'in' over a {right.type} value: {to_source(right)}")
        return _coalesce_false(exp.and_(_not_null(x), found))

    def _arith(self, node: Arith, names: Resolver) -> exp.Expression:
        a, b = self._operand(node.left, names), self._operand(node.right, names)
        if node.type == STR:
            return exp.DPipe(this=_paren(a), expression=_paren(b))
        if node.type != NUMBER:
            raise NotImplementedError(f"arithmetic on {node.type} values: {to_source(node)}")
        if node.op == "/":
            zero = exp.Nullif(this=_paren(b), expression=exp.Literal.number(0))
            return exp.Div(this=_paren(a), expression=zero)
        cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
        return cls(this=_paren(a), expression=_paren(b))

    def _operand(self, node: Node, names: Resolver) -> exp.Expression:
        """An arithmetic operand; an integer literal becomes a DOUBLE (no INT32 overflow)."""
        if isinstance(node, Literal) and isinstance(node.value, int) and node.type == NUMBER:
            return exp.cast(exp.Literal.number(node.value), "DOUBLE")
        return self.value(node, names)

    def _neg(self, node: Neg, names: Resolver) -> exp.Expression:
        return exp.Neg(this=_paren(self._operand(node.operand, names)))

    def _ifelse(self, node: IfElse, names: Resolver) -> exp.Expression:
        then, other = self.value(node.then, names), self.value(node.other, names)
        if node.type not in (NULL, ANY) and node.then.type == NULL:
            then = _null(node.type)
        if node.type not in (NULL, ANY) and node.other.type == NULL:
            other = _null(node.type)
        return exp.Case(ifs=[exp.If(this=self.truth(node.cond, names), true=then)], default=other)

    # ------------------------------------------------------------------------- functions

    def _call(self, node: Call, names: Resolver) -> exp.Expression:
        method = getattr(self, f"_fn_{node.fn}", None)
        if method is None:
            raise NotImplementedError(f"function {node.fn}() is not compiled: {to_source(node)}")
        return method(node, names)

    def _args(self, node: Call, names: Resolver) -> list[exp.Expression]:
        return [self.value(a, names) for a in node.args]

    def _need_env(self, node: Node) -> SqlEnv:
        if self.env is None:
            raise NotImplementedError(f"needs reference tables: {to_source(node)}")
        return self.env

    def _day(self, node: Node, names: Resolver) -> exp.Expression:
        """The local day of a time (the session time zone is the dataset's), or the date."""
        v = self.value(node, names)
        if node.type == TIME:
            return exp.cast(wall_clock(v), "DATE")
        if node.type in (DATE, NULL):
            return v if node.type == DATE else exp.cast(exp.null(), "DATE")
        raise NotImplementedError(f"a day of a {node.type} value: {to_source(node)}")

    # reference data -------------------------------------------------------------------

    def _lookup(
        self, table: str, key: str, key_value: exp.Expression, column: str | None
    ) -> exp.Expression:
        """``(SELECT column FROM table WHERE key = key_value)``; the whole record (a struct)
        when ``column`` is None."""
        alias = self._alias_name("r")
        kind = {t: k for k, (t, _) in RECORD_TABLES.items()}[table]
        selected = (
            exp.column(column, table=alias, quoted=True)
            if column is not None
            else _struct(alias, RECORD_SCHEMAS[kind])
        )
        cond = exp.EQ(this=exp.column(key, table=alias, quoted=True), expression=key_value)
        sel = exp.select(selected).from_(exp.to_table(table).as_(alias)).where(cond)
        return exp.Subquery(this=sel)

    def _record_fn(self, node: Call, names: Resolver) -> exp.Expression:
        self._need_env(node)
        table, key = RECORD_TABLES[node.fn]
        return self._lookup(table, key, self.value(node.args[0], names), None)

    _fn_unit = _fn_cadre = _fn_vehicle = _fn_group = _fn_staff = _record_fn

    def _assignment_from(self, node: Call, names: Resolver, alias: str) -> exp.Select:
        self._need_env(node)
        cadre = self.value(node.args[0], names)
        day = self._day(node.args[1], names)
        col = lambda n: exp.column(n, table=alias, quoted=True)  # noqa: E731
        cond = _and(
            [
                exp.EQ(this=col("cadre_id"), expression=cadre),
                exp.LTE(this=col("eff_from"), expression=day),
                exp.or_(_is_null(col("eff_to")), exp.LTE(this=day, expression=col("eff_to"))),
            ]
        )
        return exp.select().from_(exp.to_table("ref_assignment").as_(alias)).where(cond)

    def _assignment(self, node: Call, names: Resolver, column: str | None) -> exp.Expression:
        alias = self._alias_name("a")
        sel = self._assignment_from(node, names, alias)
        selected = (
            exp.column(column, table=alias, quoted=True)
            if column is not None
            else _struct(alias, RECORD_SCHEMAS["assignment"])
        )
        return exp.Subquery(this=sel.select(selected))

    def _fn_assignment(self, node: Call, names: Resolver) -> exp.Expression:
        return self._assignment(node, names, None)

    def _fn_dispatched(self, node: Call, names: Resolver) -> exp.Expression:
        alias = self._alias_name("a")
        sel = self._assignment_from(node, names, alias).select(exp.Literal.number(1))
        return exp.Exists(this=sel)

    def _id_list(self, node: Call, names: Resolver, table: str, key: str) -> exp.Expression:
        self._need_env(node)
        x = self.value(node.args[0], names)
        alias = self._alias_name("l")
        sel = (
            exp.select(exp.column("ids", table=alias, quoted=True))
            .from_(exp.to_table(table).as_(alias))
            .where(exp.EQ(this=exp.column(key, table=alias, quoted=True), expression=x))
        )
        found = exp.Coalesce(
            this=exp.Subquery(this=sel), expressions=[sql_literal((), "list[str]")]
        )
        return exp.Case(ifs=[exp.If(this=_is_null(x), true=_null("list[str]"))], default=found)

    def _fn_staff_of(self, node: Call, names: Resolver) -> exp.Expression:
        return self._id_list(node, names, "ref_staff_of", "unit_id")

    def _fn_leaders_of(self, node: Call, names: Resolver) -> exp.Expression:
        return self._id_list(node, names, "ref_leaders_of", "township_id")

    def _fn_township_at(self, node: Call, names: Resolver) -> exp.Expression:
        env = self._need_env(node)
        if env.fence_cell is None:
            return _null(STR)
        lat, lon = self._args(node, names)
        cell = env.fence_cell
        f = self._alias_name("f")
        fcol = lambda n: exp.column(n, table=f, quoted=True)  # noqa: E731
        metres = exp.Mul(
            this=_paren(_haversine(lat, lon, fcol("lat"), fcol("lon"))),
            expression=_num(1000.0),
        )
        row = exp.Floor(this=exp.Div(this=_paren(lat), expression=_num(cell)))
        col = exp.Floor(this=exp.Div(this=_paren(lon), expression=_num(cell)))
        # The point's grid cell, as ReferenceIndex._cell_of computes it; ref_fence lists each
        # fence under every cell township_at would look at it from. The distance is computed
        # once per fence of the cell, a level down, and read by the filter and the key.
        in_cell = (
            exp.select(fcol("township"), fcol("unit_id"), fcol("radius_m"), metres.as_("_m"))
            .from_(exp.to_table("ref_fence").as_(f))
            .where(
                _and(
                    [
                        exp.EQ(this=fcol("cell_row"), expression=row),
                        exp.EQ(this=fcol("cell_col"), expression=col),
                    ]
                )
            )
        )
        key = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("m"), expression=fcol("_m")),
                exp.PropertyEQ(this=exp.to_identifier("u"), expression=fcol("unit_id")),
            ]
        )
        # duckdb-only: arg_min over a struct key (nearest fence, then the smallest unit id).
        sel = (
            exp.select(exp.ArgMin(this=fcol("township"), expression=key))
            .from_(in_cell.subquery(f))
            .where(exp.LTE(this=fcol("_m"), expression=fcol("radius_m")))
        )
        valid = _and(
            [
                exp.Between(this=_paren(lat), low=_num(-90.0), high=_num(90.0)),
                _finite(lon),
            ]
        )
        return exp.Case(ifs=[exp.If(this=valid, true=exp.Subquery(this=sel))], default=_null(STR))

    def _fn_target_share(self, node: Call, names: Resolver) -> exp.Expression:
        self._need_env(node)
        gid, kind = self._args(node, names)
        alias = self._alias_name("g")
        kinds = exp.Subquery(
            this=exp.select(exp.column("kinds", table=alias, quoted=True))
            .from_(exp.to_table("ref_group_kinds").as_(alias))
            .where(exp.EQ(this=exp.column("group_id", table=alias, quoted=True), expression=gid))
        )
        var = exp.to_identifier("_k")
        same = exp.ArrayFilter(
            this=kinds.copy(),
            expression=exp.Lambda(
                this=exp.EQ(this=exp.column("_k"), expression=kind), expressions=[var]
            ),
        )
        n = exp.ArraySize(this=kinds.copy())
        share = exp.Div(
            this=exp.cast(exp.ArraySize(this=same), "DOUBLE"), expression=_paren(n.copy())
        )
        return exp.Case(
            ifs=[
                exp.If(this=exp.or_(_is_null(kinds.copy()), _is_null(kind)), true=_null(NUMBER)),
                exp.If(this=exp.EQ(this=n, expression=_num(0)), true=_num(0.0)),
            ],
            default=share,
        )

    # calendar ---------------------------------------------------------------------------

    def _cal(self, node: Call, names: Resolver, column: str) -> exp.Expression:
        self._need_env(node)
        day = self._day(node.args[0], names)
        alias = self._alias_name("c")
        sel = (
            exp.select(exp.column(column, table=alias, quoted=True))
            .from_(exp.to_table("cal_day").as_(alias))
            .where(exp.EQ(this=exp.column("day", table=alias, quoted=True), expression=day))
        )
        return exp.Subquery(this=sel)

    def _fn_duty_day(self, node: Call, names: Resolver) -> exp.Expression:
        return _coalesce_false(self._cal(node, names, "duty"))

    def _fn_holiday(self, node: Call, names: Resolver) -> exp.Expression:
        return self._cal(node, names, "holiday")

    def _fn_work_hours(self, node: Call, names: Resolver) -> exp.Expression:
        env = self._need_env(node)
        (t,) = self._args(node, names)
        us = _add(
            [
                exp.Mul(this=_extract("HOUR", t), expression=exp.Literal.number(3_600_000_000)),
                exp.Mul(this=_extract("MINUTE", t), expression=exp.Literal.number(60_000_000)),
                _extract("MICROSECOND", t),
            ]
        )
        # ``us`` is a whole number: [a, b) is BETWEEN a AND b - 1, one copy of the three
        # time zone conversions instead of two.
        parts = [
            exp.Between(this=us.copy(), low=exp.Literal.number(a), high=exp.Literal.number(b - 1))
            for a, b in env.work_hours_us
        ]
        return _coalesce_false(_or(parts))

    def _fn_local_date(self, node: Call, names: Resolver) -> exp.Expression:
        return self._day(node.args[0], names)

    # pure functions ---------------------------------------------------------------------

    def _fn_hour(self, node: Call, names: Resolver) -> exp.Expression:
        return _extract("HOUR", self.value(node.args[0], names))

    def _fn_minute_of_day(self, node: Call, names: Resolver) -> exp.Expression:
        t = self.value(node.args[0], names)
        return exp.Add(
            this=exp.Mul(this=_extract("HOUR", t), expression=exp.Literal.number(60)),
            expression=_extract("MINUTE", t.copy()),
        )

    def _fn_weekday(self, node: Call, names: Resolver) -> exp.Expression:
        return exp.DayOfWeekIso(this=wall_clock(self.value(node.args[0], names)))

    def _fn_minutes_between(self, node: Call, names: Resolver) -> exp.Expression:
        a, b = self._args(node, names)
        us = exp.DateDiff(this=b, expression=a, unit=exp.var("MICROSECOND"))
        seconds = exp.Div(this=exp.cast(us, "DOUBLE"), expression=_num(1e6))
        return exp.Div(this=seconds, expression=_num(60.0))

    def _fn_distance_km(self, node: Call, names: Resolver) -> exp.Expression:
        lat1, lon1, lat2, lon2 = self._args(node, names)
        valid = _and(
            [
                exp.Between(this=_paren(lat1), low=_num(-90.0), high=_num(90.0)),
                exp.Between(this=_paren(lat2), low=_num(-90.0), high=_num(90.0)),
                _finite(lon1),
                _finite(lon2),
            ]
        )
        return exp.Case(
            ifs=[exp.If(this=valid, true=_haversine(lat1, lon1, lat2, lon2))],
            default=_null(NUMBER),
        )

    def _fn_lower(self, node: Call, names: Resolver) -> exp.Expression:
        return exp.Lower(this=self.value(node.args[0], names))

    def _fn_len(self, node: Call, names: Resolver) -> exp.Expression:
        (arg,) = node.args
        v = self.value(arg, names)
        if arg.type == STR:
            return exp.Length(this=v)
        if is_list(arg.type):
            return exp.ArraySize(this=v)
        if arg.type == NULL:
            return _null(NUMBER)
        raise NotImplementedError(f"len() of a {arg.type} value: {to_source(node)}")

    def _fn_starts_with(self, node: Call, names: Resolver) -> exp.Expression:
        s, p = self._args(node, names)
        return _coalesce_false(exp.StartsWith(this=s, expression=p))

    def _fn_coalesce(self, node: Call, names: Resolver) -> exp.Expression:
        a, b = self._args(node, names)
        return exp.Coalesce(this=a, expressions=[b])

    def _fn_abs(self, node: Call, names: Resolver) -> exp.Expression:
        return exp.Abs(this=self.value(node.args[0], names))

    def _minmax(self, node: Call, names: Resolver, cls: type[exp.Func]) -> exp.Expression:
        # LEAST/GREATEST skip NULLs; Python's min/max here give None when any is None.
        args = self._args(node, names)
        any_null = _or([_is_null(a.copy()) for a in args])
        return exp.Case(
            ifs=[exp.If(this=any_null, true=_null(NUMBER))],
            default=cls(this=args[0], expressions=args[1:], ignore_nulls=True),
        )

    def _fn_min(self, node: Call, names: Resolver) -> exp.Expression:
        return self._minmax(node, names, exp.Least)

    def _fn_max(self, node: Call, names: Resolver) -> exp.Expression:
        return self._minmax(node, names, exp.Greatest)

    def _fn_round(self, node: Call, names: Resolver) -> exp.Expression:
        """Half away from zero on the shortest decimal form of the number, as Python's
        ``Decimal(str(x)).quantize(...)``: DuckDB's VARCHAR of a DOUBLE is that form, and
        DECIMAL rounding is half away from zero."""
        x = self.value(node.args[0], names)
        nd = node.args[1] if len(node.args) > 1 else Literal(0, NUMBER)
        digits = 0 if isinstance(nd, Literal) and nd.value is None else getattr(nd, "value", None)
        if not isinstance(nd, Literal) or type(digits) is not int or not 0 <= digits <= 15:
            raise NotImplementedError(f"round() needs ndigits a literal 0..15: {to_source(node)}")
        as_dec = exp.cast(exp.cast(x, "VARCHAR"), "DECIMAL(38, 18)")
        rounded = exp.cast(exp.Round(this=as_dec, decimals=exp.Literal.number(digits)), "DOUBLE")
        # Doubles of 2**52 and beyond have no fraction: rounding leaves them as they are.
        big = exp.GTE(this=exp.Abs(this=x.copy()), expression=_num(float(2**52)))
        return exp.Case(
            ifs=[
                exp.If(this=_is_null(x.copy()), true=_null(NUMBER)),
                exp.If(this=big, true=x.copy()),
            ],
            default=rounded,
        )

    def _words(self, node: Node, fn: str, longest_first: bool = False) -> tuple[str, ...] | None:
        """A constant word list, lower-cased as ``functions._lowered`` does; None for null."""
        if isinstance(node, Literal) and (node.value is None or isinstance(node.value, tuple)):
            if node.value is None:
                return None
            words = tuple(w.lower() for w in node.value if isinstance(w, str) and w)
            return tuple(sorted(words, key=len, reverse=True)) if longest_first else words
        if isinstance(node, ListLit) and all(isinstance(i, Literal) for i in node.items):
            return self._words(
                Literal(tuple(i.value for i in node.items), node.type), fn, longest_first
            )  # type: ignore[union-attr]
        raise NotImplementedError(
            f"{fn}() with a word list that is not constant: {to_source(node)}"
        )

    def _hits(
        self, text: exp.Expression, words: tuple[str, ...], exclude: tuple[str, ...]
    ) -> exp.Expression:
        """``functions._text_hits``: lower-case, blank out excluded words, look for a word."""
        s: exp.Expression = exp.Lower(this=text)
        if exclude:
            sep = next(
                (c for c in _SEPARATORS if not any(c in w for w in (*words, *exclude))), None
            )
            if sep is None:
                raise NotImplementedError("no separator character is free for contains_any()")
            for w in exclude:
                s = exp.func("replace", s, exp.Literal.string(w), exp.Literal.string(sep))
        return _or([exp.Contains(this=s.copy(), expression=exp.Literal.string(w)) for w in words])

    def _text_args(self, node: Call) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, bool]:
        words = self._words(node.args[1], node.fn)
        exclude = self._words(node.args[2], node.fn, True) if len(node.args) > 2 else None
        words_null = isinstance(node.args[1], Literal) and node.args[1].value is None
        return words, exclude, words_null

    def _fn_contains_any(self, node: Call, names: Resolver) -> exp.Expression:
        words, exclude, _ = self._text_args(node)
        if not words:  # None or empty (or only empty words: nothing can be found)
            return exp.false()
        text = self.value(node.args[0], names)
        return _coalesce_false(self._hits(text, words, exclude or ()))

    def _matching(
        self, items: exp.Expression, words: tuple[str, ...], exclude: tuple[str, ...]
    ) -> exp.Expression:
        # duckdb-only: list_filter with a lambda (sqlglot renders FILTER(...) for Spark).
        var = exp.to_identifier("_it")
        name = exp.StructExtract(this=exp.column("_it"), expression=exp.Literal.string("name"))
        cond = _coalesce_false(self._hits(name, words, exclude)) if words else exp.false()
        return exp.ArrayFilter(this=items, expression=exp.Lambda(this=cond, expressions=[var]))

    def _fn_items_contain(self, node: Call, names: Resolver) -> exp.Expression:
        words, exclude, _ = self._text_args(node)
        if not words:
            return exp.false()
        items = self.value(node.args[0], names)
        found = exp.GT(
            this=exp.ArraySize(this=self._matching(items, words, exclude or ())),
            expression=exp.Literal.number(0),
        )
        return _coalesce_false(found)

    def _fn_items_total(self, node: Call, names: Resolver) -> exp.Expression:
        words, exclude, words_null = self._text_args(node)
        items = self.value(node.args[0], names)
        if words_null:
            return _null(NUMBER)
        matching = self._matching(items, words or (), exclude or ())
        var = exp.to_identifier("_it")
        amount = exp.StructExtract(
            this=exp.column("_it"), expression=exp.Literal.string("amount_cny")
        )
        amounts = exp.Transform(
            this=matching, expression=exp.Lambda(this=amount, expressions=[var])
        )
        total = exp.Coalesce(this=exp.ArraySum(this=amounts), expressions=[_num(0)])
        return exp.Case(
            ifs=[exp.If(this=_is_null(items.copy()), true=_null(NUMBER))], default=total
        )

    def _lists(self, node: Call, names: Resolver) -> tuple[exp.Expression, exp.Expression]:
        """Both list arguments; an empty or null constant takes the other one's type."""
        known = [a.type for a in node.args if is_list(a.type) and element_type(a.type) != ANY]
        out = []
        for a in node.args:
            if is_list(a.type) and element_type(a.type) != ANY:
                out.append(self.value(a, names))
            elif _is_empty_list(a) or a.type == NULL:
                value = None if a.type == NULL else ()
                # Two constants of no known type: empty lists of text (any type behaves alike).
                out.append(sql_literal(value, known[0] if known else "list[str]"))
            else:
                raise NotImplementedError(f"{node.fn}() of {a.type} values: {to_source(node)}")
        return out[0], out[1]

    def _fn_intersects(self, node: Call, names: Resolver) -> exp.Expression:
        a, b = self._lists(node, names)
        return _coalesce_false(exp.ArrayOverlaps(this=a, expression=b))

    def _fn_overlap_count(self, node: Call, names: Resolver) -> exp.Expression:
        a, b = self._lists(node, names)
        n = exp.ArraySize(this=exp.ArrayIntersect(expressions=[a.copy(), b.copy()]))
        either = exp.or_(_is_null(a), _is_null(b))
        return exp.Case(ifs=[exp.If(this=either, true=_null(NUMBER))], default=n)

    def _fn_jaccard(self, node: Call, names: Resolver) -> exp.Expression:
        a, b = self._lists(node, names)
        inter = exp.ArraySize(this=exp.ArrayIntersect(expressions=[a.copy(), b.copy()]))
        union = exp.ArraySize(
            this=exp.ArrayDistinct(this=exp.ArrayConcat(this=a.copy(), expressions=[b.copy()]))
        )
        either = exp.or_(_is_null(a), _is_null(b))
        return exp.Case(
            ifs=[
                exp.If(this=either, true=_null(NUMBER)),
                exp.If(this=exp.EQ(this=union.copy(), expression=_num(0)), true=_null(NUMBER)),
            ],
            default=exp.Div(this=exp.cast(inter, "DOUBLE"), expression=union),
        )

    def _constant_call(self, node: Call) -> exp.Expression:
        """A pure call of constants, computed here (as :func:`fourin_rules.expr.fold` would)."""
        if not all(isinstance(a, Literal) for a in node.args):
            raise NotImplementedError(
                f"{node.fn}() of a value that is not constant: {to_source(node)}"
            )
        value = compile_predicate(node)(EvalContext(event={}, env=None))  # type: ignore[arg-type]
        return sql_literal(value, node.type)

    def _fn_date(self, node: Call, names: Resolver) -> exp.Expression:
        return self._constant_call(node)

    def _fn_datetime(self, node: Call, names: Resolver) -> exp.Expression:
        return self._constant_call(node)


# ------------------------------------------------------------------------------- helpers


def _is_empty_list(node: Node) -> bool:
    return (isinstance(node, Literal) and node.value == ()) or (
        isinstance(node, ListLit) and not node.items
    )


def _is_null_literal(node: Node) -> bool:
    return isinstance(node, Literal) and node.value is None


def _extract(unit: str, t: exp.Expression) -> exp.Expression:
    return exp.Extract(this=exp.var(unit), expression=wall_clock(t))


def _add(parts: list[exp.Expression]) -> exp.Expression:
    out = parts[0]
    for p in parts[1:]:
        out = exp.Add(this=out, expression=p)
    return exp.Paren(this=out)


def _struct(alias: str, fields: Mapping[str, str]) -> exp.Expression:
    """A struct of the record's fields (duckdb-only literal form; Spark gets ``STRUCT(...)``)."""
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.to_identifier(name), expression=exp.column(name, table=alias, quoted=True)
            )
            for name in fields
        ]
    )


def _haversine(
    lat1: exp.Expression, lon1: exp.Expression, lat2: exp.Expression, lon2: exp.Expression
) -> exp.Expression:
    """:func:`fourin_rules.geo.haversine_km`, operation for operation (same rounding)."""
    p1 = exp.Mul(this=_paren(lat1.copy()), expression=_num(_DEG))
    p2 = exp.Mul(this=_paren(lat2.copy()), expression=_num(_DEG))
    dp = exp.Sub(this=p2.copy(), expression=p1.copy())
    dl = exp.Mul(
        this=exp.Paren(this=exp.Sub(this=_paren(lon2.copy()), expression=_paren(lon1.copy()))),
        expression=_num(_DEG),
    )

    def sin_half_sq(x: exp.Expression) -> exp.Expression:
        half = exp.Div(this=exp.Paren(this=x), expression=_num(2.0))
        return exp.Pow(this=exp.Sin(this=half), expression=_num(2.0))

    a = exp.Add(
        this=sin_half_sq(dp),
        expression=exp.Mul(
            this=exp.Mul(this=exp.Cos(this=p1), expression=exp.Cos(this=p2)),
            expression=sin_half_sq(dl),
        ),
    )
    # Every caller guards its coordinates, so ``a`` is never NULL here: the plain LEAST/GREATEST
    # (which skip NULLs) do, without sqlglot's NULL-propagating CASE that repeats ``a`` 4 times.
    clamped = exp.Least(
        this=_num(1.0),
        expressions=[exp.Greatest(this=_num(0.0), expressions=[a], ignore_nulls=True)],
        ignore_nulls=True,
    )
    return exp.Mul(
        this=_num(2.0 * EARTH_RADIUS_KM), expression=exp.Asin(this=exp.Sqrt(this=clamped))
    )
