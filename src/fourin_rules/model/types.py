"""The value types the expression language knows, as plain strings.

Event fields, reference records and expression results all carry one of these. Records are
written ``record:<kind>`` (``record:unit``, ``record:event:commitment``); lists ``list[<type>]``.
"""

from __future__ import annotations

from typing import Final

STR: Final = "str"
NUMBER: Final = "number"
BOOL: Final = "bool"
TIME: Final = "time"  # an aware datetime
DATE: Final = "date"  # a local calendar date
NULL: Final = "null"
ANY: Final = "any"  # custom fields whose type nobody declared: checked at run time
ITEM: Final = "record:item"  # {name, amount_cny}

SCALARS: Final = frozenset({STR, NUMBER, BOOL, TIME, DATE, NULL, ANY})


def list_of(inner: str) -> str:
    """``list_of("str") == "list[str]"``."""
    return f"list[{inner}]"


def is_list(t: str) -> bool:
    return t.startswith("list[") and t.endswith("]")


def element_type(t: str) -> str:
    """The element type of a list type (``any`` for a non-list)."""
    return t[5:-1] if is_list(t) else ANY


def is_record(t: str) -> bool:
    return t.startswith("record:")


def record_kind(t: str) -> str:
    """``record_kind("record:unit") == "unit"``."""
    return t.split(":", 1)[1] if is_record(t) else ""
