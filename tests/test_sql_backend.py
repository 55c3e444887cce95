"""The columnar (DuckDB) backend against durable_rules: the same findings, field for field.

A disagreement is a bug in one of them. Three sources of cases: every test embedded in the
bundled packs, the bundled county (a year's worth of planted violations and near-misses), and
hypothesis-generated streams of random cadres, days and events.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from fourin_rules.engine import Engine
from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import iter_cases, run_case
from test_engine import REFERENCE, streams

ROOT = Path(__file__).parents[1]
COUNTY = ROOT / "examples" / "county"
CASES = list(iter_cases(load_packs(None)))


def _dump(findings: list) -> list[dict]:
    return [f.model_dump(mode="json") for f in findings]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.pack.id}:{c.test.name}")
def test_every_embedded_pack_test_passes_on_duckdb(case) -> None:
    outcome = run_case(case, "duckdb")
    assert outcome.passed, outcome.render()


def test_the_county_gives_identical_findings_on_duckdb_and_durable() -> None:
    kwargs = {"reference": COUNTY / "reference.yaml"}
    durable = Engine(None, backend="durable", **kwargs).run_files([COUNTY / "events.jsonl"])
    duck = Engine(None, backend="duckdb", **kwargs).run_files([COUNTY / "events.jsonl"])
    assert len(duck.findings) == 111
    assert _dump(duck.findings) == _dump(durable.findings)
    assert duck.stats.to_dict() == durable.stats.to_dict()
    assert [q.to_dict() for q in duck.quarantine] == [q.to_dict() for q in durable.quarantine]


@pytest.fixture(scope="module")
def pair() -> dict[str, Engine]:
    return {b: Engine(None, REFERENCE, backend=b) for b in ("durable", "duckdb")}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=streams())
def test_random_streams_give_identical_findings(
    pair: dict[str, Engine], events: list[dict]
) -> None:
    until = "2026-03-15"
    expected = pair["durable"].run(events, until=until)
    shuffled = list(events)
    random.Random(len(events)).shuffle(shuffled)
    got = pair["duckdb"].run(shuffled, until=until)
    assert _dump(got.findings) == _dump(expected.findings)
    assert got.stats.to_dict() == expected.stats.to_dict()


def test_a_session_on_the_duckdb_engine_streams_on_durable_rules(pair: dict[str, Engine]) -> None:
    session = pair["duckdb"].session()
    assert session.processor.matcher.name == "durable"
