"""docs/reliability.md backs each guarantee with tests: every one it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "reliability.md"
# `tests/x.py::test_name`, or `::test_name` for the file named last on the same line.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(test_\w+)`")


def _named() -> list[tuple[str, str]]:
    out = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        current = None
        for match in REFERENCE.finditer(line):
            current = match.group(1) or current
            assert current is not None, f"'::{match.group(2)}' without a file: {line}"
            out.append((current, match.group(2)))
    return out


def test_the_reliability_page_names_tests() -> None:
    named = _named()
    assert len(named) >= 40
    assert {f for f, _ in named} >= {
        f"tests/test_fault_{m}.py" for m in ("ingest", "time", "packs", "reports", "rules")
    }


def test_every_test_the_reliability_page_names_exists() -> None:
    missing = []
    for file, name in _named():
        source = (ROOT / file).read_text(encoding="utf-8") if (ROOT / file).is_file() else ""
        if not re.search(rf"^def {name}\(", source, re.MULTILINE):
            missing.append(f"{file}::{name}")
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_fault_test_is_on_the_reliability_page() -> None:
    named = {name for _, name in _named()}
    unlisted = []
    for path in sorted((ROOT / "tests").glob("test_fault_*.py")):
        if path.name == Path(__file__).name:
            continue
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(encoding="utf-8"), re.M):
            if name not in named:
                unlisted.append(f"{path.name}::{name}")
    assert unlisted == [], f"fault tests missing from docs/reliability.md: {unlisted}"
