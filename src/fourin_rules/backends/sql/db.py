"""Where the plan's SQL runs: the few operations the columnar run needs of an SQL engine.

The rule kinds build sqlglot trees and hand them to one of these; the tree is rendered in the
engine's dialect here, and nowhere else. :class:`DuckDb` runs in-process; a Spark engine
implements the same four methods over a ``SparkSession``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

import duckdb
from sqlglot import exp


class SqlEngine(Protocol):
    """An SQL engine holding the event, reference and hit tables of one run."""

    dialect: str

    def fetch(self, query: exp.Expression) -> list[tuple[Any, ...]]:
        """Run a query; its rows."""
        ...

    def create_temp(self, name: str, query: exp.Expression, *, shared: bool = False) -> None:
        """``CREATE OR REPLACE TEMP TABLE name AS query`` (or the engine's equivalent); with
        ``shared``, a table every connection to the same database sees (the hit tables that
        several threads read), not one of this connection only."""
        ...

    def create_temp_from(
        self,
        name: str,
        columns: Mapping[str, str],
        rows: Sequence[Sequence[Any]],
        *,
        shared: bool = False,
    ) -> None:
        """A temp table of Python rows; ``columns`` maps names to DuckDB type names."""
        ...


def temp_table(name: str, query: exp.Expression, *, shared: bool = False) -> exp.Create:
    return exp.Create(
        this=exp.to_table(name),
        kind="TABLE",
        replace=True,
        expression=query,
        properties=None if shared else exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


class DuckDb:
    """The in-process engine."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def fetch(self, query: exp.Expression) -> list[tuple[Any, ...]]:
        return self.con.execute(query.sql(dialect=self.dialect, copy=False)).fetchall()

    def create_temp(self, name: str, query: exp.Expression, *, shared: bool = False) -> None:
        create = temp_table(name, query, shared=shared)
        self.con.execute(create.sql(dialect=self.dialect, copy=False))

    def create_temp_from(
        self,
        name: str,
        columns: Mapping[str, str],
        rows: Sequence[Sequence[Any]],
        *,
        shared: bool = False,
    ) -> None:
        # One list parameter per column, unnested side by side: no row-by-row inserts.
        select = exp.select(
            *[
                exp.Unnest(expressions=[exp.cast(exp.Placeholder(), f"{t}[]")]).as_(c)
                for c, t in columns.items()
            ]
        )
        if not rows:
            select = select.where("FALSE")
        self.con.execute(
            temp_table(name, select, shared=shared).sql(dialect=self.dialect),
            [[r[i] for r in rows] for i in range(len(columns))],
        )


@contextmanager
def shared_threads(con: duckdb.DuckDBPyConnection, workers: int) -> Iterator[None]:
    """While ``workers`` connections to ``con``'s database run queries at once, each gets its
    share of DuckDB's threads (at least one): more threads than cores only contend. The
    setting is the database's; it is given back after."""
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone() or (1,)
    con.execute(f"SET threads = {max(1, int(threads) // workers)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


@contextmanager
def worker_pool(
    con: duckdb.DuckDBPyConnection,
    workers: int,
    tz: str,
    setup: Callable[[duckdb.DuckDBPyConnection], None],
) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``workers`` threads, each with a connection of its own to ``con``'s database
    (TEMP tables are a connection's; plain tables are shared) in the time zone ``tz`` (a
    validated IANA name), handed to ``setup`` on that thread. The workers share DuckDB's
    threads; the connections are closed after."""
    cursors: list[duckdb.DuckDBPyConnection] = []

    def start() -> None:
        cursor = con.cursor()
        cursors.append(cursor)
        cursor.execute(f"SET TimeZone = '{tz}'")
        setup(cursor)

    try:
        with shared_threads(con, workers), ThreadPoolExecutor(workers, initializer=start) as pool:
            yield pool
    finally:
        for cursor in cursors:
            cursor.close()
