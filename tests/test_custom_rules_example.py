"""The tutorial's county files (examples/custom-rules/, docs/writing-rules.md) work as written.

The county's own pack and its override of ten-prohibitions are loaded with the bundled packs,
because an override needs the pack it extends; their embedded tests pass on both backends, and
running them over examples/small changes exactly what the override says, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from fourin_rules import Engine
from fourin_rules.model.finding import Finding
from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import TestOutcome as Outcome
from fourin_rules.packs.testing import iter_cases, run_case, run_pack_tests
from fourin_rules.packs.yamlpos import load_yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
CUSTOM = ROOT / "examples" / "custom-rules"
PACK_FILE = CUSTOM / "county-extra.yaml"
OVERRIDE_FILE = CUSTOM / "fuyang-overrides.yaml"
SMALL_EVENTS = ROOT / "examples" / "small" / "events.jsonl"
SMALL_REFERENCE = ROOT / "examples" / "small" / "reference.yaml"
TRIPS = CUSTOM / "trips.jsonl"
NEW_RULE = "FY-hometown-trip"


def _file_of(outcome: Outcome) -> Path:
    """The file an embedded test is written in (``where`` is ``path:line:col``)."""
    return Path(outcome.where.rsplit(":", 2)[0]).resolve()


def _by_rule(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id]


def test_the_county_files_embedded_tests_all_pass() -> None:
    outcomes = run_pack_tests(load_packs([RULES, CUSTOM]))
    ours = [o for o in outcomes if _file_of(o).parent == CUSTOM]
    failed = [o.render() for o in ours if not o.passed]
    assert not failed, "\n".join(failed)
    by_file: dict[Path, int] = {}
    for o in ours:
        by_file[_file_of(o)] = by_file.get(_file_of(o), 0) + 1
    assert by_file[PACK_FILE] >= 4
    assert by_file[OVERRIDE_FILE] == 3  # the override's own tests ran, against the changed pack


def test_the_county_files_embedded_tests_pass_on_the_python_backend_too() -> None:
    cases = [
        c for c in iter_cases(load_packs([RULES, CUSTOM])) if Path(c.marks.path).parent == CUSTOM
    ]
    assert len(cases) >= 7
    failed = [o.render() for o in (run_case(c, "python") for c in cases) if not o.passed]
    assert not failed, "\n".join(failed)


def test_the_new_rule_has_firing_and_silent_tests() -> None:
    (pack,) = [p for p in load_packs([PACK_FILE]) if p.id == "county-extra"]
    (rule,) = [r for r in pack.file.rules if r.id == NEW_RULE]
    firing = [t for t in rule.tests if any(e.rule == NEW_RULE for e in t.expect)]
    silent = [t for t in rule.tests if not t.expect]
    assert len(firing) >= 2
    assert len(silent) >= 2
    assert rule.clause == "不准借下基层办私事"
    assert rule.needs_review is True


def test_firing_tests_really_produce_findings_of_the_new_rule() -> None:
    outcomes = run_pack_tests(load_packs([PACK_FILE]), "python")
    fired = [o for o in outcomes if any(f.rule_id == NEW_RULE for f in o.findings)]
    assert len(fired) >= 2
    assert all(f.needs_review for o in fired for f in o.findings)


def test_the_new_rule_over_the_example_trips() -> None:
    engine = Engine([RULES, PACK_FILE], SMALL_REFERENCE)
    result = engine.run_files([SMALL_EVENTS, TRIPS])
    got = {
        (f.subject.id, f.severity, tuple(e.id for e in f.evidence))
        for f in _by_rule(result.findings, NEW_RULE)
    }
    # K03's trip to 阜南县 is covered by a trip approval: no finding.
    assert got == {("K02", "medium", ("trip-h1",)), ("K01", "high", ("trip-h2",))}


def test_the_override_changes_exactly_what_it_says_over_examples_small() -> None:
    bundled = Engine([RULES], SMALL_REFERENCE).run_files([SMALL_EVENTS]).findings
    fuyang = Engine([RULES, OVERRIDE_FILE], SMALL_REFERENCE).run_files([SMALL_EVENTS]).findings

    # Bundled defaults: K01's four free canteen lunches in March exceed 3; the KTV bill is P8.
    (meals,) = _by_rule(bundled, "P6-canteen")
    assert meals.subject.id == "K01" and len(meals.evidence) == 4
    assert [f.subject.id for f in _by_rule(bundled, "P8")] == ["K01"]

    # Fuyang: the limit is 4, so four free meals no longer fire; P8 is switched off.
    assert _by_rule(fuyang, "P6-canteen") == []
    assert _by_rule(fuyang, "P8") == []

    # Every other finding is the same lead, with the same id.
    untouched = {f.id for f in bundled if f.rule_id not in ("P6-canteen", "P8")}
    assert untouched and untouched == {f.id for f in fuyang}


def test_command_line_params_equal_the_override_file() -> None:
    by_file = Engine([RULES, OVERRIDE_FILE], SMALL_REFERENCE).run_files([SMALL_EVENTS])
    by_flags = Engine(
        [RULES],
        SMALL_REFERENCE,
        params={"P6-canteen.free_meals_per_month": 4},
        disable=["P8"],
    ).run_files([SMALL_EVENTS])
    assert [f.id for f in by_flags.findings] == [f.id for f in by_file.findings]


def test_the_override_is_applied_to_the_loaded_pack_not_to_the_bundled_file() -> None:
    path = RULES / "ten-prohibitions.yaml"
    before = path.read_bytes()
    (ten,) = [p for p in load_packs([RULES, CUSTOM]) if p.id == "ten-prohibitions"]
    assert ten.params["P6-canteen"]["free_meals_per_month"] == 4
    assert "P8" in ten.disabled
    assert path.read_bytes() == before

    data, _ = load_yaml(before.decode("utf-8"), str(path))
    (rule,) = [r for r in data["rules"] if r["id"] == "P6-canteen"]
    assert rule["params"]["free_meals_per_month"] == 3

    # A later load without the override sees the bundled defaults again.
    (plain,) = [p for p in load_packs([RULES]) if p.id == "ten-prohibitions"]
    assert plain.params["P6-canteen"]["free_meals_per_month"] == 3
    assert plain.disabled == set()
