"""`explain`: a finding with its rule, its evidence events, and which conditions held."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fourin_rules.cli import app
from fourin_rules.engine import Engine
from fourin_rules.explain import explain
from fourin_rules.ingest import Ingestor

ROOT = Path(__file__).parents[1]
SMALL = ROOT / "examples" / "small"


def test_explain_tests_each_condition_on_the_evidence() -> None:
    engine = Engine(None, SMALL / "reference.yaml")
    result = engine.run_files([SMALL / "events.jsonl"])
    finding = next(f for f in result.findings if f.rule_id == "P2").to_json_dict()
    events = list(Ingestor(engine.calendar.tz).read_files([SMALL / "events.jsonl"]))
    shown = explain(engine.plan, engine.env, finding, events)
    assert [e["id"] for e in shown["evidence_events"]] == ["trip-1"]
    (check,) = shown["checks"]
    assert check["variables"] == {"passenger": "K03", "owner": "E01"}
    assert [c["condition"] for c in check["conditions"]][:2] == [
        "unit(owner).grassroots",
        "dispatched(passenger, time)",
    ]
    assert check["held"] and all(c["held"] for c in check["conditions"])
    assert shown["rule"]["rule_id"] == "P2" and shown["missing_evidence"] == []


def test_explain_shows_a_condition_that_did_not_hold_for_an_event_it_did_not_cover() -> None:
    engine = Engine(None, SMALL / "reference.yaml")
    finding = {"rule_id": "P8", "evidence": [{"type": "card_txn", "id": "card-2"}]}
    events = list(Ingestor(engine.calendar.tz).read_files([SMALL / "events.jsonl"]))
    shown = explain(engine.plan, engine.env, finding, events)
    (check,) = shown["checks"]
    assert check["held"] is False  # the supermarket payment is not entertainment


def test_cli_explain_with_events(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "f.jsonl"
    args = ["run", str(SMALL / "events.jsonl"), "-r", str(SMALL / "reference.yaml"), "-f", "jsonl"]
    assert runner.invoke(app, [*args, "-o", str(out)]).exit_code == 0
    fid = next(json.loads(x)["id"] for x in out.read_text("utf-8").splitlines() if '"P8"' in x)
    result = runner.invoke(
        app,
        [
            "explain",
            fid[:8],
            "--findings",
            str(out),
            "--events",
            str(SMALL / "events.jsonl"),
            "-r",
            str(SMALL / "reference.yaml"),
        ],
    )
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["checks"][0]["event"] == {"type": "card_txn", "id": "card-1"}
    assert shown["checks"][0]["held"] is True
