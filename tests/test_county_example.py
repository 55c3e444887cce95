"""examples/county: 12 townships and 60 dispatched cadres over February and March 2026, with
violations of every bundled rule planted among ordinary days. The bundled packs find exactly
the planted findings (recall and precision 100% per rule), on both backends, and the
generator writes the committed files byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fourin_rules.model.events import EVENT_MODELS
from fourin_rules.packs.loader import load_packs
from fourin_rules.plan import build_plan

ROOT = Path(__file__).resolve().parents[1]
COUNTY = ROOT / "examples" / "county"
GENERATED = ("reference.yaml", "events.jsonl", "ground_truth.jsonl", "near_misses.jsonl")


def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("county_check", COUNTY / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _check_module()
BUNDLED_RULES = sorted(r.rule_id for r in build_plan(load_packs(None)).rules)


@pytest.fixture(scope="module")
def durable() -> dict[str, Any]:
    return check.evaluate(COUNTY, backend="durable")


@pytest.fixture(scope="module")
def python() -> dict[str, Any]:
    return check.evaluate(COUNTY, backend="python")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_generator_writes_the_committed_files(tmp_path: Path) -> None:
    script = COUNTY / "generate.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True
    )
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (COUNTY / name).read_bytes(), name


def test_another_seed_gives_another_county(tmp_path: Path) -> None:
    script = COUNTY / "generate.py"
    subprocess.run(
        [sys.executable, str(script), "--seed", "7", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "events.jsonl").read_bytes() != (COUNTY / "events.jsonl").read_bytes()


def test_every_bundled_rule_finds_exactly_what_was_planted(durable: dict[str, Any]) -> None:
    assert len(BUNDLED_RULES) >= 40  # the four bundled packs; a new rule needs its own truth
    assert sorted(durable["rules"]) == BUNDLED_RULES
    for rule in BUNDLED_RULES:
        scores = durable["rules"][rule]
        assert scores["truth"] >= 2, rule
        assert (scores["recall"], scores["precision"]) == (1.0, 1.0), (rule, scores)
    assert durable["problems"] == []
    assert durable["ok"]
    assert durable["totals"]["tp"] == durable["totals"]["truth"] == durable["totals"]["found"]


def test_the_truth_names_every_rule_at_least_twice_on_distinct_subjects_or_days() -> None:
    truth = _jsonl(COUNTY / "ground_truth.jsonl")
    for rule in BUNDLED_RULES:
        keys = {(t["subject_id"], t["window_start"]) for t in truth if t["rule_id"] == rule}
        assert len(keys) >= 2, rule


def test_no_finding_touches_a_near_miss_and_every_rule_has_one(durable: dict[str, Any]) -> None:
    near = _jsonl(COUNTY / "near_misses.jsonl")
    assert {n["rule_id"] for n in near} == set(BUNDLED_RULES)
    assert durable["near_miss_hits"] == []


def test_every_event_type_of_the_contract_is_there_and_no_row_is_refused(
    durable: dict[str, Any],
) -> None:
    assert set(durable["event_types"]) == set(EVENT_MODELS)
    stats = durable["stats"]
    assert stats["quarantined"] == stats["late"] == stats["conflict"] == stats["duplicate"] == 0
    assert stats["valid"] == stats["read"] == sum(durable["event_types"].values())
    assert 5_000 <= stats["read"] <= 20_000
    assert (COUNTY / "events.jsonl").stat().st_size < 10_000_000
    assert durable["seconds"] < 60


def test_the_python_backend_gives_the_same_findings(
    durable: dict[str, Any], python: dict[str, Any]
) -> None:
    assert python["finding_ids"] == durable["finding_ids"]
    assert python["ok"]


def test_the_check_reports_a_missed_an_unexpected_and_a_near_miss_finding(tmp_path: Path) -> None:
    for name in GENERATED:
        shutil.copy(COUNTY / name, tmp_path / name)
    truth = _jsonl(COUNTY / "ground_truth.jsonl")
    dropped = next(t for t in truth if t["rule_id"] == "P8")
    invented = {**truth[0], "subject_id": "K99", "note": "nobody planted this"}
    kept = [t for t in truth if t is not dropped] + [invented]
    (tmp_path / "ground_truth.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in kept), encoding="utf-8"
    )
    near = {
        "rule_id": "P8",
        "subject_id": None,
        "date": None,
        "event_ids": dropped["evidence"],
        "reason": "x",
    }
    with (tmp_path / "near_misses.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(near) + "\n")
    report = check.evaluate(tmp_path, backend="python")
    assert not report["ok"]
    assert report["rules"]["P8"]["precision"] < 1.0
    assert report["rules"][invented["rule_id"]]["recall"] < 1.0
    assert [f["subject_id"] for f in report["false_positives"]] == [dropped["subject_id"]]
    assert report["false_negatives"] == [invented]
    assert [h["finding"]["rule_id"] for h in report["near_miss_hits"]] == ["P8"]
    assert check.render(report).endswith("FAILED: 3 problems")
