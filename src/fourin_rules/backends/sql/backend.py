"""The ``duckdb`` backend as the engine sees it: bulk runs are columnar; a streaming session,
which needs an incremental matcher, runs on durable_rules."""

from __future__ import annotations

from typing import Any

from fourin_rules.backends.durable.matcher import DurableBackend
from fourin_rules.plan import Plan


class DuckDBBackend:
    """Marks an engine whose ``run``/``run_files`` go to :mod:`fourin_rules.backends.sql.run`."""

    name = "duckdb"
    columnar = True

    def check(self, plan: Plan) -> list[str]:
        return []

    def prepare(self, plan: Plan, env: Any) -> None:
        """Compile the plan's predicates to SQL and build the reference tables' rows now, with
        the packs, rather than at the first run (runs of one engine share them)."""
        from fourin_rules.backends.sql.predicates import compile_predicates
        from fourin_rules.backends.sql.refdata import reference_tables

        compile_predicates(plan, env)
        reference_tables(env)

    def matcher(self, plan: Plan, env: Any) -> Any:
        """Sessions stay on durable_rules (the incremental engine)."""
        return DurableBackend().matcher(plan, env)


class SparkBackend(DuckDBBackend):
    """Bulk runs load and validate with DuckDB, then run the plan's queries on Spark SQL
    (:class:`fourin_rules.backends.sql.spark.SparkDb`); sessions stay on durable_rules."""

    name = "spark"

    def __init__(self) -> None:
        from fourin_rules.backends.sql.spark import require_spark

        require_spark()  # backend-limit now, not at the first run

    def sql_engine(self, tz: str) -> Any:
        """A fresh :class:`SparkDb` for one run (the Spark session is shared)."""
        from fourin_rules.backends.sql.spark import SparkDb

        return SparkDb(tz)
