"""The collector's thresholds are raised for a bulk run and put back after, even on error."""

from __future__ import annotations

import gc

import pytest

from fourin_rules.gctuning import BULK_THRESHOLDS, bulk_collections


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with bulk_collections():
        assert gc.get_threshold() == BULK_THRESHOLDS
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_run_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), bulk_collections():
        raise RuntimeError("a rule failed")
    assert gc.get_threshold() == before


def test_an_engine_run_leaves_the_thresholds_as_it_found_them() -> None:
    from fourin_rules.engine import Engine

    before = gc.get_threshold()
    result = Engine(None, backend="python").run([])
    assert result.findings == [] and gc.get_threshold() == before
