"""Small builders of sqlglot trees shared by the columnar run and the rule kinds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column, optionally of a table alias."""
    return exp.column(name, table=table, quoted=True)


def table(name: str, alias: str | None = None) -> exp.Table:
    """A table (``name AS alias``) built as a node: what ``"name AS alias"`` parses to."""
    node = exp.Table(this=exp.to_identifier(name))
    if alias is not None:
        node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return node


def union_all(parts: Sequence[exp.Expression], copy: bool = True) -> exp.Expression:
    """``parts[0] UNION ALL parts[1] ...``; with ``copy=False`` the parts themselves become the
    branches (for parts built for this union only)."""
    out: exp.Expression = parts[0]
    for part in parts[1:]:
        out = exp.union(out, part, distinct=False, copy=copy)
    return out
