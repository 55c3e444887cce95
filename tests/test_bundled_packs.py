"""Every embedded test of the bundled packs passes on both backends."""

from __future__ import annotations

import pytest

from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import iter_cases, run_case

CASES = list(iter_cases(load_packs()))


@pytest.mark.parametrize("backend", ["durable", "python"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c.pack.id}::{c.test.name}" for c in CASES])
def test_embedded_pack_test(case, backend: str) -> None:
    outcome = run_case(case, backend)
    assert outcome.passed, outcome.render()


def test_every_bundled_rule_has_cases_that_fire_and_cases_that_do_not() -> None:
    for pack in load_packs():
        for rule in pack.active_rules():
            tests = list(rule.tests)
            firing = [t for t in tests if any(e.rule == rule.id for e in t.expect)]
            silent = [t for t in tests if not any(e.rule == rule.id for e in t.expect)]
            assert len(firing) >= 2 and len(silent) >= 2, (
                f"{pack.id}/{rule.id}: {len(firing)} fire, {len(silent)} silent"
            )
