"""Hoisting repeated lookups: the same rows, each distinct subquery computed once."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from fourin_rules.backends.sql.hoist import hoist


def _lookup(key: str) -> exp.Subquery:
    select = exp.select("r.v").from_("ref AS r").where(f"r.k = {key}")
    return exp.Subquery(this=select)


def test_hoisted_lookups_give_the_same_rows_and_leave_no_subquery_behind() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE ref AS SELECT * FROM (VALUES (1, 10), (2, 20)) AS t(k, v)")
    con.execute("CREATE TABLE ev AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(k, s)")
    # The same lookup three times, one nested inside another's key.
    nested = exp.Subquery(
        this=exp.select("r2.v")
        .from_("ref AS r2")
        .where(
            exp.EQ(
                this=exp.column("k", "r2"),
                expression=exp.Div(this=_lookup("e.k"), expression=exp.Literal.number(10)),
            )
        )
    )
    outputs = [
        exp.Add(this=_lookup("e.k"), expression=_lookup("e.k")).as_("twice"),
        exp.Case(ifs=[exp.If(this=exp.column("s", "e").eq("a"), true=_lookup("e.k"))]).as_(
            "when_a"
        ),
        nested.as_("nested"),
    ]
    plain = exp.select(*[o.copy() for o in outputs]).from_(
        exp.select("*").from_("ev").subquery("e")
    )
    new_outputs, layered = hoist(outputs, exp.select("*").from_("ev"), "e")
    hoisted = exp.select(*new_outputs).from_(layered.subquery("e"))
    assert not any(o.find(exp.Subquery) for o in new_outputs)
    # three distinct lookups over two layers: e.k's, then the nested one that uses it
    assert hoisted.sql().count("SELECT r.v FROM ref AS r WHERE r.k = e.k") == 1
    want = con.execute(plain.sql("duckdb") + " ORDER BY 1 NULLS LAST").fetchall()
    got = con.execute(hoisted.sql("duckdb") + " ORDER BY 1 NULLS LAST").fetchall()
    assert got == want == [(20, 10, 10), (40, None, 20), (None, None, None)]
