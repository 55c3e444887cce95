"""The plan on Spark SQL (local[2]) against DuckDB: the same findings, field for field.

The DuckDB-flavoured trees are rewritten for Spark (:func:`fourin_rules.backends.sql.spark.
to_spark`) and the tables copied through Parquet; a disagreement is a bug in that translation.
Skipped where PySpark is not installed (``pip install 'fourin-rules[spark]'``); CI installs it.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("pyspark", reason="the spark backend needs pyspark (fourin-rules[spark])")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("the spark backend needs a Java runtime", allow_module_level=True)

from sqlglot import exp, parse_one

from fourin_rules.backends.sql.spark import SparkDb, spark_session, to_spark
from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError
from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import iter_cases, run_case

ROOT = Path(__file__).parents[1]
COUNTY = ROOT / "examples" / "county"
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def spark():
    return spark_session("local[2]", shuffle_partitions=4)


@pytest.fixture
def db(spark):
    engine = SparkDb(TZ, spark)
    yield engine
    engine.close()


def _dump(findings: list) -> list[dict]:
    return [f.model_dump(mode="json") for f in findings]


def _first_case_of_each_kind() -> list:
    """One embedded test per rule kind (absence, match, threshold, sequence), with the pack's
    other rules switched off (the test judges only its own rules' findings; fewer queries)."""
    kinds = {r.rule_id: r.kind for r in Engine(None, backend="python").plan.rules}
    chosen: dict[str, object] = {}
    for case in iter_cases(load_packs(None)):
        found = {kinds.get(r) for r in case.rules}
        if len(found) == 1 and found.copy().pop() not in chosen:
            pack = copy.copy(case.pack)
            pack.disabled = set(pack.disabled) | {
                r.id for r in pack.file.rules if r.id not in case.rules
            }
            chosen[found.pop()] = dataclasses.replace(case, pack=pack)
    return list(chosen.values())


CASES = _first_case_of_each_kind()


def test_values_come_back_as_duckdb_gives_them(db: SparkDb) -> None:
    query = parse_one(
        "SELECT CAST('2026-03-02 08:30:00+08:00' AS TIMESTAMPTZ) AS t, CAST('2026-03-02' AS DATE)"
        " AS d, CAST(3 AS BIGINT) AS i, CAST(1.5 AS DOUBLE) AS f, ['a', 'b'] AS l,"
        " {'t': 'checkin', 'i': 'c1'} AS s",
        dialect="duckdb",
    )
    [(t, d, i, f, lst, s)] = db.fetch(query)
    assert t == datetime(2026, 3, 2, 8, 30, tzinfo=ZoneInfo(TZ))
    assert t.tzinfo is not None and t.utcoffset().total_seconds() == 8 * 3600
    assert d.isoformat() == "2026-03-02"
    assert (i, type(i), f, type(f)) == (3, int, 1.5, float)
    assert lst == ["a", "b"] and s == {"t": "checkin", "i": "c1"}


def test_a_temp_table_made_with_order_by_reads_back_in_that_order(db: SparkDb) -> None:
    source = parse_one(
        "SELECT x AS v FROM (VALUES (3, 'c'), (1, 'a'), (2, 'b')) AS t(k, x) ORDER BY k DESC",
        dialect="duckdb",
    )
    db.create_temp("hit_t", source)
    assert db.fetch(exp.select("*").from_("hit_t")) == [("c",), ("b",), ("a",)]
    db.create_temp_from("_want", {"v": "VARCHAR"}, [["a"], ["c"]])
    joined = exp.select("h.*").from_("hit_t AS h").join("_want AS w", using=["v"])
    assert db.fetch(joined) == [("c",), ("a",)]


@pytest.mark.parametrize(
    ("duck", "rows"),
    [
        # DuckDB's epoch of an interval and its 1-based ordinality with first positions.
        (
            "SELECT epoch(CAST('2026-01-01 10:00:30' AS TIMESTAMPTZ) - "
            "CAST('2026-01-01 10:00:00' AS TIMESTAMPTZ))",
            [(30.0,)],
        ),
        (
            "SELECT u._x FROM (SELECT ['a', NULL, 'a', 'b', NULL] AS l) AS e "
            "CROSS JOIN UNNEST(e.l) WITH ORDINALITY AS u(_x, _i) "
            "WHERE list_position(e.l, u._x) = u._i ORDER BY u._i",
            [("a",), (None,), ("b",)],
        ),
        ("SELECT list_sum([1.5, NULL, 2.0]), list_sum(CAST([] AS DOUBLE[]))", [(3.5, None)]),
        ("SELECT isodow(CAST('2026-03-01 12:00:00' AS TIMESTAMPTZ))", [(7,)]),  # a Sunday
        (
            "SELECT CAST(date_trunc('week', CAST('2026-03-04' AS DATE)) AS DATE)",
            [(datetime(2026, 3, 2).date(),)],
        ),
    ],
)
def test_duckdb_functions_are_rewritten_to_spark(db: SparkDb, duck: str, rows: list) -> None:
    assert db.fetch(parse_one(duck, dialect="duckdb")) == rows


def test_timezone_of_a_local_timestamp_is_the_session_zone() -> None:
    tree = parse_one("SELECT timezone('Asia/Shanghai', CAST(d AS TIMESTAMP)) FROM t", "duckdb")
    assert "TIMESTAMP_NTZ" in to_spark(tree, TZ).sql("spark")
    with pytest.raises(NotImplementedError):
        to_spark(tree, "Europe/Paris")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.pack.id}:{c.test.name}")
def test_embedded_pack_tests_pass_on_spark(spark, case) -> None:
    outcome = run_case(case, "spark")
    assert outcome.passed, outcome.render()


def test_the_county_gives_identical_findings_on_spark_and_duckdb(spark) -> None:
    kwargs = {"reference": COUNTY / "reference.yaml"}
    duck = Engine(None, backend="duckdb", **kwargs).run_files([COUNTY / "events.jsonl"])
    on_spark = Engine(None, backend="spark", **kwargs).run_files([COUNTY / "events.jsonl"])
    assert len(on_spark.findings) == len(duck.findings) > 100
    assert _dump(on_spark.findings) == _dump(duck.findings)
    assert on_spark.stats.to_dict() == duck.stats.to_dict()


def test_a_missing_pyspark_is_a_backend_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_pyspark(name: str, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError("No module named 'pyspark'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(FourinError) as info:
        Engine(None, backend="spark")
    assert info.value.code == "backend-limit"
    assert "fourin-rules[spark]" in (info.value.suggestion or "")


def test_a_missing_java_is_a_backend_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FourinError) as info:
        Engine(None, backend="spark")
    assert info.value.code == "backend-limit" and "Java" in info.value.message
