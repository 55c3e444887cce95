"""docs/errors.md documents every error code, one ``## <code>`` heading each, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from fourin_rules.errors import ERROR_CODES

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
HEADING = re.compile(r"^##[ \t]+`?([^`\s]+)`?[ \t]*$")


def _headings() -> list[str]:
    """The level-2 headings of the doc (a code may be written in backticks)."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if line.startswith("## "):
            match = HEADING.match(line)
            assert match is not None, f"not a '## <code>' heading: {line!r}"
            out.append(match.group(1))
    return out


def test_errors_doc_exists() -> None:
    assert DOC.is_file(), f"{DOC} is missing"


def test_every_error_code_has_a_heading() -> None:
    missing = sorted(set(ERROR_CODES) - set(_headings()))
    assert missing == [], f"codes without a '## <code>' heading in docs/errors.md: {missing}"


def test_every_heading_is_an_error_code() -> None:
    unknown = sorted(set(_headings()) - set(ERROR_CODES))
    assert unknown == [], f"headings in docs/errors.md that are not in ERROR_CODES: {unknown}"


def test_each_code_is_documented_once() -> None:
    headings = _headings()
    twice = sorted({h for h in headings if headings.count(h) > 1})
    assert twice == [], f"codes documented more than once: {twice}"
