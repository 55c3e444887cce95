"""Fault and abuse suite, rules: a rule that raises is reported with its rule id and the event,
counts as not matching that event, and nothing else changes: every other rule gives exactly the
findings of a run without the failure, and every event is still accounted for.

Two ways to make a rule raise: a reference lookup that fails (the store is down), as in
tests/test_durable_traps.py, and a value in a custom untyped (``any``) field that a function
cannot take: ``township_at(reading, ...)`` with a reading of 1e308 overflows the geofence grid.
Both run next to all the bundled packs, on both backends, in batch and streaming.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fourin_rules.engine import Engine, RunResult
from fourin_rules.packs.loader import bundled_rules_dir

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "rules" / "fixtures" / "small-county.yaml"

FAULT_PACK = """
pack: {id: fault-pack, version: 1.0.0, title: {zh: 故障, en: faults}}
types:
  gadget: {fields: {cadre_id: str, reading: any}}
rules:
  - id: R1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 查单位, en: looks a unit up}
    message: {zh: "{id}", en: "{id}"}
    on: card_txn
    when: unit(cadre_id) == null and mcc == "7911"
  - id: R2
    clause: 不准公款娱乐
    kind: match
    title: {zh: 金额, en: amount}
    message: {zh: "{id}", en: "{id}"}
    on: card_txn
    when: amount_cny > 100
  - id: G1
    clause: 不准借下基层办私事
    kind: match
    title: {zh: 读数定位, en: reading located}
    message: {zh: "{reading}", en: "{reading}"}
    on: gadget
    when: township_at(reading, 115.7) == "T01"
  - id: G2
    clause: 不准借下基层办私事
    kind: threshold
    title: {zh: 读数多, en: many readings}
    on: gadget
    subject: {id: cadre_id}
    window: day
    values: {readings: count()}
    having: readings >= 2
    message: {zh: "{readings}", en: "{readings}"}
"""
OVERFLOW = 1e308  # a float JSON can carry; the geofence grid cannot floor it into a cell


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fault") / "fault-pack.yaml"
    path.write_text(FAULT_PACK, encoding="utf-8")
    return path


def _engine(pack: Path, backend: str, *, broken: bool = False) -> Engine:
    engine = Engine([bundled_rules_dir(), pack], REFERENCE, backend=backend)
    if broken:
        real = engine.env.unit

        def lookup(unit_id: Any) -> Any:
            # Down for cadre ids, which only R1 looks up; the bundled rules look up unit ids.
            if isinstance(unit_id, str) and unit_id.startswith("K"):
                raise RuntimeError(f"reference store down while looking up {unit_id}")
            return real(unit_id)

        engine.env.unit = lookup
    return engine


@pytest.fixture(scope="module")
def engines(pack: Path) -> dict[tuple[str, bool], Engine]:
    """Built once: (backend, lookup broken) -> engine."""
    return {(b, broken): _engine(pack, b, broken=broken) for b in BACKENDS for broken in (0, 1)}


BACKENDS = ("durable", "python")


def _ts(day: int, minute: int) -> str:
    hh, mm = divmod(minute, 60)
    return f"2026-03-{day:02d}T{hh:02d}:{mm:02d}:00+08:00"


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Card payments, gadget readings (some of them the overflowing one) and check-ins."""
    out = []
    for i in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["card_txn", "gadget", "checkin"]))
        cadre = draw(st.sampled_from(["K01", "K02", "K03"]))
        time = _ts(draw(st.integers(9, 13)), draw(st.integers(8 * 60, 20 * 60)))
        base = {"type": kind, "id": f"{kind[0]}{i}", "time": time, "cadre_id": cadre}
        if kind == "card_txn":
            mcc, name = draw(st.sampled_from([("7911", "KTV"), ("5411", "超市")]))
            amount = draw(st.sampled_from([50, 500]))
            out.append({**base, "mcc": mcc, "merchant_name": name, "amount_cny": amount})
        elif kind == "gadget":
            reading = draw(st.sampled_from([33.2, 0, OVERFLOW, -OVERFLOW, "high", None]))
            out.append({**base, "reading": reading})
        else:
            out.append({**base, "township_id": draw(st.sampled_from(["T01", "T02"]))})
    return out


def _raising(events: list[dict[str, Any]], broken: bool) -> set[tuple[str, str]]:
    """(rule, event) pairs that must raise: R1 on every card payment while the store is down
    (its lookup comes first: durable_rules computes calls before matching, so it would reach
    the lookup behind a false `mcc` test too), G1 on an overflowing reading."""
    out = set()
    for e in events:
        if broken and e["type"] == "card_txn":
            out.add(("R1", e["id"]))
        if e["type"] == "gadget" and e["reading"] in (OVERFLOW, -OVERFLOW):
            out.add(("G1", e["id"]))
    return out


def _keys(
    result: RunResult, rules: Collection[str] | None = None, drop: Collection[str] = ()
) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f.id, f.rule_id, f.severity, f.status)
        for f in result.findings
        if (rules is None or f.rule_id in rules) and f.rule_id not in drop
    )


def _check(
    result: RunResult, healthy: RunResult, events: list[dict[str, Any]], broken: bool
) -> None:
    expected = _raising(events, broken)
    # Reported with the rule and the event, and a message that says what went wrong.
    assert {(e.rule_id, e.event_id) for e in result.errors} == expected
    types = {e["id"]: e["type"] for e in events}
    for error in result.errors:
        assert error.event_type == types[error.event_id]
        want = "RuntimeError: reference store down" if error.rule_id == "R1" else "OverflowError"
        assert error.message.startswith(want), error.message
        assert set(error.to_dict()) == {"rule_id", "event_type", "event_id", "message"}
    # Every other rule: exactly the findings of the run without the failure.
    failing = {rule for rule, _ in expected}
    assert _keys(result, drop=failing) == _keys(healthy, drop=failing)
    # The failing rule: as if it did not match the events it raised on, and only those.
    raised = {event for _, event in expected}
    for rule in failing:
        assert set(_keys(result, {rule})) <= set(_keys(healthy, {rule}))
        lost = {f.evidence[0].id for f in healthy.findings if f.rule_id == rule} - {
            f.evidence[0].id for f in result.findings if f.rule_id == rule
        }
        assert lost <= raised
    # No event lost.
    s = result.stats
    assert (s.read, s.valid, s.late) == (len(events), len(events), 0)
    s.check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_lookup_and_an_overflowing_reading_are_isolated(
    engines: dict[tuple[str, bool], Engine], tmp_path: Path, backend: str
) -> None:
    events = [
        {"type": "card_txn", "id": "x1", "time": _ts(10, 21 * 60), "cadre_id": "K01",
         "amount_cny": 860, "merchant_name": "金色年华KTV", "mcc": "7911"},
        {"type": "card_txn", "id": "x2", "time": _ts(10, 12 * 60), "cadre_id": "K02",
         "amount_cny": 300, "merchant_name": "超市", "mcc": "5411"},
        {"type": "gadget", "id": "g1", "time": _ts(10, 9 * 60), "cadre_id": "K01", "reading": 33.2},
        {"type": "gadget", "id": "g2", "time": _ts(10, 10 * 60), "cadre_id": "K01",
         "reading": OVERFLOW},
        {"type": "gadget", "id": "g3", "time": _ts(10, 11 * 60), "cadre_id": "K01", "reading": 0},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = engines[(backend, True)].run_files([path])
    healthy = engines[(backend, False)].run(
        [e for e in events if e.get("reading") != OVERFLOW]
        + [{**e, "reading": 0} for e in events if e.get("reading") == OVERFLOW]
    )
    errors = sorted((e.rule_id, e.event_id) for e in result.errors)
    assert errors == [("G1", "g2"), ("R1", "x1"), ("R1", "x2")]
    by_rule = {(f.rule_id, f.evidence[0].id) for f in result.findings if f.rule_id in "R1 R2 G1"}
    assert by_rule == {("R2", "x1"), ("R2", "x2"), ("G1", "g1")}  # R2 and G1 kept running
    g2 = [f for f in result.findings if f.rule_id == "G2"]
    assert len(g2) == 1 and len(g2[0].evidence) == 3  # the raising event still counts for G2
    assert "P8" in {f.rule_id for f in result.findings}  # the bundled rules ran too
    assert _keys(result, drop={"R1", "G1"}) == _keys(healthy, drop={"R1", "G1"})
    result.stats.check()
    assert result.stats.valid == 5


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=streams(), broken=st.booleans(), backend=st.sampled_from(BACKENDS))
def test_a_raising_rule_changes_nothing_but_its_own_findings(
    engines: dict[tuple[str, bool], Engine],
    events: list[dict[str, Any]],
    broken: bool,
    backend: str,
) -> None:
    failing, healthy = engines[(backend, broken)], engines[(backend, False)]
    result = failing.run(events, until="2026-03-13")
    # The run without the failure: the failing rule's events kept out of its reach only.
    _check(result, healthy.run(events, until="2026-03-13"), events, broken)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=streams())
def test_a_streaming_session_reports_rule_errors_and_goes_on(
    engines: dict[tuple[str, bool], Engine], events: list[dict[str, Any]]
) -> None:
    engine = engines[("durable", True)]
    ordered = sorted(events, key=lambda e: (e["time"], e["id"]))
    session = engine.session(lateness="1h", since="2026-03-09")
    session.push_many(ordered)
    session.close(until="2026-03-13")
    streamed = session.result()
    batch = engine.run(events, since="2026-03-09", until="2026-03-13")
    assert sorted(map(tuple, (e.to_dict().values() for e in streamed.errors))) == sorted(
        map(tuple, (e.to_dict().values() for e in batch.errors))
    )
    assert _keys(streamed) == _keys(batch)
    healthy = engines[("durable", False)].run(events, since="2026-03-09", until="2026-03-13")
    _check(streamed, healthy, events, broken=True)
