"""Rule kinds decided in SQL (filled in kind by kind; the rest are replayed)."""

from __future__ import annotations

SQL_KINDS: dict[str, type] = {}
