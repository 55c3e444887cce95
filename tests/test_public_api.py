"""The public surface: a sorted __all__, every name importable, nothing private exported; the
layers import one way only."""

from __future__ import annotations

import ast
from pathlib import Path

import fourin_rules

SRC = Path(fourin_rules.__file__).parent


def test_all_is_sorted_importable_and_public() -> None:
    names = fourin_rules.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(fourin_rules, name)
        assert not name.startswith("_") or name == "__version__"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("fourin_rules")
        ):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("fourin_rules"))
    return out


def test_no_import_runs_back_down_the_layers() -> None:
    forbidden = {
        "model": (
            "fourin_rules.backends",
            "fourin_rules.engine",
            "fourin_rules.cli",
            "fourin_rules.reports",
            "fourin_rules.runtime",
            "fourin_rules.plan",
        ),
        "expr": (
            "fourin_rules.backends",
            "fourin_rules.engine",
            "fourin_rules.cli",
            "fourin_rules.runtime",
        ),
        "backends": ("fourin_rules.cli", "fourin_rules.reports", "fourin_rules.engine"),
        "runtime": ("fourin_rules.cli", "fourin_rules.reports", "fourin_rules.engine"),
        "reports": ("fourin_rules.cli", "fourin_rules.engine", "fourin_rules.backends"),
    }
    for layer, bad in forbidden.items():
        for path in (SRC / layer).rglob("*.py"):
            for module in _imports(path):
                assert not module.startswith(bad), f"{path.relative_to(SRC)} imports {module}"


def test_docs_rules_md_matches_the_bundled_packs() -> None:
    from fourin_rules.packs.loader import load_packs
    from fourin_rules.reports.catalogue import rules_markdown

    doc = Path(__file__).parents[1] / "docs" / "rules.md"
    assert doc.read_text(encoding="utf-8") == rules_markdown(load_packs()), (
        "docs/rules.md is stale: run `fourin-rules list --markdown > docs/rules.md`"
    )
