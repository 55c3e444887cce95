"""What each event model accepts, read from its pydantic fields, for the loader's SQL check.

The SQL check accepts a subset of what pydantic accepts: only the canonical JSON form of each
value (a JSON string for ``str``, a JSON number for ``float``, an integer for ``int``, ``true`` or
``false`` for ``bool``, an ISO-8601 string for a timestamp ...). Rows outside that subset go back
to the Python validator, which has the last word. A field or a model whose rules this module does
not understand is marked unsupported, and its rows always take the Python path.

>>> from fourin_rules.model.events import CheckinEvent
>>> spec = model_spec(CheckinEvent)
>>> spec.fields["lat"].kind, spec.fields["lat"].ge, spec.fields["kind"].choices
('float', -90, ('in', 'out', 'field'))
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import annotated_types as at
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from fourin_rules.model import events as ev

__all__ = ["FieldSpec", "ModelSpec", "model_spec"]

#: Kinds of value the SQL check knows (``float`` covers ``int | float`` of custom numbers).
KINDS = frozenset(
    {"str", "float", "int", "bool", "time", "deadline", "date", "any", "list", "record"}
)
_BASE_VALIDATORS = frozenset({"_end_not_before_time"})
_KNOWN_CONFIG = frozenset({"extra", "allow_inf_nan"})


@dataclass(frozen=True)
class FieldSpec:
    """What one field (or list element, or record field) accepts.

    ``supported`` False means: any present value sends the row to Python.
    """

    kind: str
    nullable: bool = False
    required: bool = False
    default: Any = None  # the value of an absent, optional field
    min_len: int | None = None  # strings: characters; lists: elements
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    element: FieldSpec | None = None  # lists
    record: dict[str, FieldSpec] | None = None  # records (all fields required, no extras)
    supported: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """The rules of one event model; ``supported`` False sends all its rows to Python."""

    fields: dict[str, FieldSpec] = field(default_factory=dict)
    supported: bool = True


_UNSUPPORTED = FieldSpec("any", supported=False)


@lru_cache(maxsize=256)
def model_spec(model: type[BaseModel]) -> ModelSpec:
    """The rules of ``model`` (an event model), field by field, ``type`` excluded."""
    if not _plain_model(model, extra="allow", validators=_BASE_VALIDATORS):
        return ModelSpec(supported=False)
    fields: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        fields[name] = _field(info)
    return ModelSpec(fields)


def _plain_model(model: type[BaseModel], *, extra: str, validators: frozenset[str]) -> bool:
    """True when the model has no config or validator the SQL check does not mirror."""
    config = model.model_config
    if set(config) - _KNOWN_CONFIG or config.get("extra") != extra:
        return False
    if config.get("allow_inf_nan", True) is not False and extra == "allow":
        return False  # the check refuses NaN/Infinity, so the model must refuse them too
    deco = model.__pydantic_decorators__
    if set(deco.field_validators) - validators:
        return False
    return not (
        deco.validators or deco.root_validators or deco.model_validators or deco.computed_fields
    )


def _field(info: FieldInfo) -> FieldSpec:
    if info.alias is not None or info.validation_alias is not None:
        return _UNSUPPORTED
    spec = _annotation(info.annotation, list(info.metadata))
    if spec is None:
        return _UNSUPPORTED
    required = info.is_required()
    default: Any = None
    if not required:
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        elif info.default is not PydanticUndefined:
            default = info.default
        if not _plain_default(default):
            return _UNSUPPORTED
    return FieldSpec(**{**spec.__dict__, "required": required, "default": default})


def _plain_default(value: Any) -> bool:
    if value is None or type(value) in (str, bool, int, float):
        return True
    return isinstance(value, list) and not value


def _annotation(annotation: Any, metadata: list[Any]) -> FieldSpec | None:
    """The spec of a type annotation with its constraints, or None when not understood."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _annotation(inner, [*extra, *metadata])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        nullable = len(rest) < len(args)
        if len(rest) == 1:
            spec = _annotation(rest[0], metadata)
        elif set(rest) == {int, float}:  # a custom ``number``: ints stay ints
            spec = _annotation(float, metadata)
        else:
            return None
        if spec is None:
            return None
        return FieldSpec(**{**spec.__dict__, "nullable": nullable or spec.nullable})
    before = [m for m in metadata if isinstance(m, BeforeValidator)]
    constraints = _constraints([m for m in metadata if not isinstance(m, BeforeValidator)])
    if constraints is None or len(before) > 1:
        return None
    if before:
        return _validated(annotation, before[0].func, constraints)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if not all(type(c) is str for c in choices) or constraints:
            return None
        return FieldSpec("str", choices=tuple(choices))
    if origin is list:
        (arg,) = typing.get_args(annotation) or (Any,)
        element = _annotation(arg, [])
        if element is None or element.nullable or set(constraints) - {"min_len"}:
            return None
        return FieldSpec("list", element=element, **constraints)
    if annotation is Any:
        return FieldSpec("any", nullable=True) if not constraints else None
    simple = {str: "str", float: "float", int: "int", bool: "bool", date: "date"}
    kind = simple.get(annotation)
    if kind is not None:
        allowed = {"str": {"min_len"}, "float": {"ge", "le", "gt", "lt"}}
        allowed["int"] = allowed["float"]
        if set(constraints) - allowed.get(kind, set()):
            return None
        return FieldSpec(kind, **constraints)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _record(annotation) if not constraints else None
    return None


def _validated(annotation: Any, func: Any, constraints: dict[str, Any]) -> FieldSpec | None:
    """A type behind one of the models' own before-validators."""
    if constraints:
        return None
    if annotation is datetime and func is ev._to_timestamp:
        return FieldSpec("time")
    if annotation is datetime and func is ev._to_deadline:
        return FieldSpec("deadline")
    if annotation is str and func is ev._to_mcc:
        return FieldSpec("str")  # a string passes through; a number goes to Python
    return None


def _constraints(metadata: list[Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            inner = _constraints(list(item.metadata))
            if inner is None:
                return None
            out.update(inner)
        elif isinstance(item, at.MinLen):
            out["min_len"] = item.min_length
        elif isinstance(item, at.Ge):
            out["ge"] = item.ge
        elif isinstance(item, at.Le):
            out["le"] = item.le
        elif isinstance(item, at.Gt):
            out["gt"] = item.gt
        elif isinstance(item, at.Lt):
            out["lt"] = item.lt
        else:
            return None
    return out


def _record(model: type[BaseModel]) -> FieldSpec | None:
    """A nested record (``Item``, ``RoleHolder``): every field required, no extra keys."""
    if not _plain_model(model, extra="forbid", validators=frozenset()):
        return None
    fields: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        spec = _field(info)
        if not spec.supported or not spec.required or spec.kind not in ("str", "float", "int"):
            return None
        if spec.kind == "float" and model.model_config.get("allow_inf_nan", True) is not False:
            return None
        fields[name] = spec
    return FieldSpec("record", record=fields)
