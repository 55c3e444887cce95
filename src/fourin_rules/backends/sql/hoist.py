"""Common scalar subqueries hoisted into columns, computed once per row.

The expression compiler turns each reference lookup (``unit(...)``, ``assignment(...)``) into a
scalar subquery, and a macro such as ``township_center_km`` repeats the same lookup eight times,
some nested inside ``CASE``: there DuckDB runs them row by row (50 s for 110k check-ins). Hoisted
innermost first into layers of ``SELECT *, (subquery) AS _hN``, each distinct lookup becomes one
join that DuckDB decorrelates (under a second for the same rows).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp


def hoist(
    outputs: Sequence[exp.Expression],
    source: exp.Select,
    alias: str,
    max_layers: int = 8,
    copy: bool = True,
) -> tuple[list[exp.Expression], exp.Select]:
    """Rewrite ``outputs`` (expressions over ``alias``, a row of ``source``) so that every scalar
    subquery they hold is a column of a layer added over ``source``; returns the new outputs and
    the layered source (whose rows are still called ``alias``). With ``copy=False`` the outputs
    are rewritten in place (for outputs built for this call only)."""
    outputs = [o.copy() for o in outputs] if copy else list(outputs)
    counter = 0
    for _ in range(max_layers):
        innermost: dict[str, exp.Subquery] = {}
        texts: dict[int, str] = {}  # id of each innermost lookup -> its canonical text
        for out in outputs:
            for sub in out.find_all(exp.Subquery):
                if not _scalar(sub):
                    continue
                if any(_scalar(n) for n in sub.this.find_all(exp.Subquery)):
                    continue  # holds another lookup: hoisted in a later layer
                texts[id(sub)] = text = canonical(sub)
                innermost.setdefault(text, sub)
        if not innermost:
            break
        names: dict[str, str] = {}
        columns = []
        for text, sub in innermost.items():
            counter += 1
            names[text] = f"_h{counter}"
            columns.append(sub.copy().as_(names[text], quoted=True, copy=False))
        source = exp.select(exp.column(exp.Star(), table=alias), *columns).from_(
            source.subquery(alias, copy=False), copy=False
        )
        columns_of = {key: names[text] for key, text in texts.items()}
        outputs = [out.transform(_swap, columns_of, alias, copy=False) for out in outputs]
    return outputs, source


def canonical(sub: exp.Subquery, dialect: str = "duckdb") -> str:
    """The text of ``sub`` with its own table aliases renamed in order, so that equal lookups
    the compiler numbered apart compare equal."""
    copy = sub.copy()
    names: dict[str, str] = {}
    for node in copy.find_all(exp.Table, exp.Subquery):
        if node is not copy and node.alias:
            names[node.alias] = f"_t{len(names)}"
            node.set("alias", exp.TableAlias(this=exp.to_identifier(names[node.alias])))
    for column in copy.find_all(exp.Column):
        if column.table in names:
            column.set("table", exp.to_identifier(names[column.table]))
    return copy.sql(dialect=dialect, copy=False)  # a copy already


def _scalar(sub: exp.Subquery) -> bool:
    """A lookup (a subquery giving a value), not a derived table a lookup reads from."""
    return isinstance(sub.this, exp.Select) and not isinstance(sub.parent, exp.From | exp.Join)


def _swap(node: exp.Expression, columns_of: dict[int, str], alias: str) -> exp.Expression:
    """A hoisted subquery (found by identity: the tree is rewritten in place) becomes its
    column."""
    name = columns_of.get(id(node))
    if name is not None:
        return exp.column(name, table=alias, quoted=True)
    return node
