"""Validate one decoded event against its model and return it as a plain dict.

The engine keeps plain dicts, never pydantic objects: each event is validated once and dumped
once. A bad event becomes a :class:`Rejection` naming the field and a readable reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from fourin_rules.errors import suggest
from fourin_rules.model.events import EVENT_MODELS, BaseEvent
from fourin_rules.timeutil import get_tz

__all__ = ["EventValidator", "Rejection"]

_REQUIRED = ("id", "time")
#: How deeply a field's value may nest lists and objects. JSON allows far more (orjson reads
#: 1,024 levels) than the engine can hash or hand to a backend (orjson writes 254).
MAX_NESTING = 32


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event was refused: the field to blame (None for the whole event) and a reason."""

    field: str | None
    reason: str


class EventValidator:
    """Validates event dicts: timestamps become aware datetimes in ``tz`` (naive = local)."""

    def __init__(
        self, tz: ZoneInfo | str, models: Mapping[str, type[BaseEvent]] = EVENT_MODELS
    ) -> None:
        self.tz = get_tz(tz) if isinstance(tz, str) else tz
        self.models = models
        self._context = {"tz": self.tz}

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any] | Rejection:
        """The event as a plain dict (declared fields with defaults, extras kept), or why not."""
        type_name = data.get("type")
        if type_name is None or type_name == "":
            return Rejection("type", "missing required field 'type'")
        if not isinstance(type_name, str):
            return Rejection("type", f"type must be a string, got {_short(type_name)}")
        model = self.models.get(type_name)
        if model is None:
            hint = suggest(type_name, self.models)
            reason = f"unknown event type {type_name!r}" + (f"; {hint}" if hint else "")
            return Rejection("type", reason)
        for name in _REQUIRED:
            if data.get(name) is None:
                return Rejection(name, f"missing required field {name!r}")
        for name, value in data.items():
            if type(value) in _NESTED and _deeper_than(value, MAX_NESTING):
                reason = f"field {name!r} nests lists or objects deeper than {MAX_NESTING} levels"
                return Rejection(str(name), reason)
        try:
            event = model.model_validate(data, context=self._context)
        except ValidationError as exc:
            return _rejection(exc)
        return event.model_dump()


_NESTED = (list, dict)


def _deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/dicts more than ``limit`` levels (itself is level 1)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, list | dict):
                stack.append((child, depth + 1))
    return False


def _rejection(exc: ValidationError) -> Rejection:
    err = exc.errors(include_url=False)[0]
    loc = err["loc"]
    field = ".".join(str(part) for part in loc) if loc else None
    if err["type"] == "missing":
        return Rejection(field, f"missing required field {field!r}")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] != "value_error":  # our value errors already quote the value
        message = f"{message} (got {_short(err.get('input'))})"
    return Rejection(field, message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
