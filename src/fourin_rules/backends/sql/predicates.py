"""The plan's predicates as SQL: one ``SELECT`` per predicate over its event table.

A predicate's query returns ``_seq`` and one column per bound variable (the ``for_each``
element, then each ``let``) for every binding under which ``where`` holds, in the order of
:class:`fourin_rules.backends.bindings.BoundPredicate`: by event, then by list position. As in
Python, a null list binds the element once as NULL, an empty list not at all, and an element
listed twice is bound once (its first position).

Shape (``_v_<name>`` columns hold variables, so they never clash with fields)::

    SELECT b._seq, b._v_passenger AS passenger, b._v_owner AS owner
    FROM (SELECT l.*, <owner> AS _v_owner
          FROM (SELECT e.*, u._x AS _v_passenger, u._i AS _ord
                FROM ev_vehicle_trip AS e
                CROSS JOIN UNNEST(COALESCE(e.passenger_ids, [NULL])) WITH ORDINALITY AS u(_x, _i)
                WHERE list_position(COALESCE(e.passenger_ids, [NULL]), u._x) = u._i) AS l) AS b
    WHERE <where>
    ORDER BY b._seq, b._ord

:class:`fourin_rules.backends.sql.run.ColumnarRun` keeps each query's rows as a table
``hit_<pid>`` (one table for predicates whose queries are the same text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from fourin_rules.backends.sql.expr import ExprCompiler, TableResolver
from fourin_rules.backends.sql.hoist import hoist
from fourin_rules.backends.sql.refdata import create_reference_tables, sql_env
from fourin_rules.backends.sql.schema import column_type, table_name
from fourin_rules.plan import Plan, Predicate
from fourin_rules.runtime.env import RuleEnv

__all__ = [
    "PreparedPredicates",
    "predicate_select",
    "prepare",
]


def _var_col(name: str) -> str:
    return f"_v_{name}"


def predicate_select(
    pred: Predicate, columns: Mapping[str, str], compiler: ExprCompiler
) -> exp.Select:
    """The query of one predicate over ``ev_<type>`` (columns: the type's declared fields).

    Raises:
        NotImplementedError: a part of the predicate has no SQL form.
    """
    etype = pred.type
    compiler.reset_aliases()
    table = exp.to_table(table_name(etype))
    variables: dict[str, exp.Expression] = {}
    has_order = False

    # Layer 0: the event table, with the for_each element unnested.
    if pred.for_each is None:
        source: exp.Select = exp.select(exp.column(exp.Star(), table="e")).from_(table.as_("e"))
    else:
        name, node = pred.for_each
        items = compiler.value(node, TableResolver("e", columns, etype, local=True))
        one_null = exp.cast(exp.Array(expressions=[exp.null()]), column_type(node.type))
        listed = exp.Coalesce(this=items, expressions=[one_null])
        unnest = exp.Unnest(
            expressions=[listed],
            alias=exp.TableAlias(this=exp.to_identifier("u"), columns=[exp.to_identifier("_x")]),
            offset=exp.to_identifier("_i"),
        )
        x, i = exp.column("_x", table="u"), exp.column("_i", table="u")
        # duckdb-only: list_position finds the first position (NULLs and structs compare equal).
        first = exp.EQ(this=exp.func("list_position", listed.copy(), x.copy()), expression=i)
        source = (
            exp.select(
                exp.column(exp.Star(), table="e"),
                exp.alias_(x.copy(), _var_col(name), quoted=True),
                exp.alias_(i.copy(), "_ord", quoted=True),
            )
            .from_(table.as_("e"))
            .join(unnest, join_type="CROSS")
            .where(first)
        )
        has_order = True
        variables[name] = exp.column(_var_col(name), table="l", quoted=True)

    # One layer per let: each sees the fields, the element and the lets before it.
    for name, node in pred.lets:
        names = TableResolver("l", columns, etype, dict(variables), local=True)
        value = compiler.value(node, names)
        source = exp.select(
            exp.column(exp.Star(), table="l"), exp.alias_(value, _var_col(name), quoted=True)
        ).from_(source.subquery("l"))
        variables[name] = exp.column(_var_col(name), table="l", quoted=True)

    final_vars = {n: exp.column(_var_col(n), table="b", quoted=True) for n in variables}
    names = TableResolver("b", columns, etype, final_vars, local=True)
    cond = compiler.truth(pred.where, names)
    [cond], source = hoist([cond], source, "b")  # each distinct lookup once, as a join
    outputs: list[exp.Expression] = [exp.column("_seq", table="b", quoted=True)]
    outputs += [exp.alias_(c.copy(), n, quoted=True) for n, c in final_vars.items()]
    order = [exp.column("_seq", table="b", quoted=True)]
    if has_order:
        order.append(exp.column("_ord", table="b", quoted=True))
    query = exp.select(*outputs).from_(source.subquery("b"))
    if not (isinstance(cond, exp.Boolean) and cond.this is True):
        query = query.where(cond)
    return query.order_by(*order)


@dataclass
class PreparedPredicates:
    """The compiled queries of a plan's predicates on one connection."""

    compiler: ExprCompiler
    queries: dict[int, exp.Select] = field(default_factory=dict)
    #: Predicates without an SQL form, with the reason (test them in Python).
    unsupported: dict[int, str] = field(default_factory=dict)
    variables: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def sql(self, pid: int, dialect: str = "duckdb") -> str:
        return self.queries[pid].sql(dialect=dialect)


def prepare(con: duckdb.DuckDBPyConnection, plan: Plan, env: RuleEnv) -> PreparedPredicates:
    """Set the session time zone, create the reference and calendar tables from ``env`` and
    compile every predicate of ``plan`` (the event tables may be filled before or after)."""
    tz = env.calendar.tz.key
    con.execute(
        exp.Set(
            expressions=[
                exp.SetItem(
                    this=exp.EQ(this=exp.var("TimeZone"), expression=exp.Literal.string(tz))
                )
            ]
        ).sql(dialect="duckdb")
    )
    create_reference_tables(con, env)
    return compile_predicates(plan, env)


#: Compiled predicates by plan: (plan, env, prepared), at most a few.
_COMPILED: dict[int, tuple[Plan, RuleEnv, PreparedPredicates]] = {}


def compile_predicates(plan: Plan, env: RuleEnv) -> PreparedPredicates:
    """Every predicate of ``plan`` as an SQL query over the tables :func:`prepare` makes.

    Compiled once per plan and environment (an engine's runs share it): the queries are never
    changed in place, only copied."""
    cached = _COMPILED.get(id(plan))
    if cached is not None and cached[0] is plan and cached[1] is env:
        return cached[2]
    compiler = ExprCompiler(sql_env(env))
    prepared = PreparedPredicates(compiler)
    for pred in plan.predicates:
        columns = plan.event_types.get(pred.type, {})
        try:
            prepared.queries[pred.id] = predicate_select(pred, columns, compiler)
        except NotImplementedError as exc:
            prepared.unsupported[pred.id] = str(exc)
            continue
        names = ([pred.for_each[0]] if pred.for_each else []) + [n for n, _ in pred.lets]
        prepared.variables[pred.id] = tuple(names)
    if len(_COMPILED) >= 8:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[id(plan)] = (plan, env, prepared)
    return prepared
