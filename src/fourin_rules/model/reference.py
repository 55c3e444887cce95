"""Reference data of data-contract.md §3 (cadres, assignments, groups, units, staff, vehicles,
calendar) and :func:`load_reference`, which reads it from one YAML/JSON document or a folder of
CSV files and reports every problem with its file, line and field.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import typing
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from fourin_rules.errors import ErrorCollector, FourinError, Span, suggest
from fourin_rules.timeutil import DEFAULT_TZ, get_tz

__all__ = [
    "SECTION_IDS",
    "Assignment",
    "Cadre",
    "CalendarSection",
    "Group",
    "GroupTarget",
    "ReferenceData",
    "Staff",
    "Unit",
    "Vehicle",
    "load_reference",
]

Id = Annotated[str, Field(min_length=1)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


class _Record(BaseModel):
    # Unknown fields are refused: in reference data they are almost always typos.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Cadre(_Record):
    """A dispatched cadre."""

    cadre_id: Id
    name: str | None = None
    home_unit_id: str | None = None
    rank: str | None = None
    home_lat: Lat | None = None
    home_lon: Lon | None = None
    hometown: str | None = None


class Assignment(_Record):
    """A cadre's dispatch to a township from ``start`` to ``end`` (inclusive; None = open)."""

    cadre_id: Id
    township_id: Id
    group_id: str | None = None
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> Assignment:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class GroupTarget(_Record):
    """An enterprise, project, village or community a group is responsible for."""

    target_id: Id
    kind: Literal["enterprise", "project", "village", "community"] | None = None


class Group(_Record):
    """A working group (工作组) of cadres."""

    group_id: Id
    name: str | None = None
    leader_id: str | None = None
    targets: list[GroupTarget] = Field(default_factory=list)


class Unit(_Record):
    """A unit (department, township, village, ...) with an optional geofence circle."""

    unit_id: Id
    name: str | None = None
    kind: Literal["county_dept", "township", "village", "community", "enterprise", "project"]
    grassroots: bool = False
    township_id: str | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    radius_m: Annotated[float, Field(gt=0)] = 500


class Staff(_Record):
    """Township or village staff who are not dispatched cadres."""

    staff_id: Id
    name: str | None = None
    unit_id: Id
    leader: bool = False


class Vehicle(_Record):
    """A vehicle and the unit that owns it."""

    plate: Id
    owner_unit_id: Id


class CalendarSection(_Record):
    """Campaign calendar overrides; kept loose here, the calendar module interprets them."""

    duty_days: list[str | date | dict[str, Any]] = Field(default_factory=list)
    rest_days: list[str | date | dict[str, Any]] = Field(default_factory=list)
    weekend_duty: bool = False
    work_hours: list[str] | None = None
    national: dict[int, dict[str, Any]] | None = None


class ReferenceData(_Record):
    """All reference sections; ``timezone`` is the dataset's time zone (our addition)."""

    cadres: list[Cadre] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)
    staff: list[Staff] = Field(default_factory=list)
    vehicles: list[Vehicle] = Field(default_factory=list)
    calendar: CalendarSection | None = None
    timezone: str = DEFAULT_TZ

    _source: _SourceMap | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        get_tz(value)  # raises ValueError("unknown time zone: ...")
        return value

    def locate(self, loc: tuple[str | int, ...]) -> Span | None:
        """Where the value at ``loc`` (e.g. ``("calendar", "duty_days", 2)``) was read from,
        when this data came from :func:`load_reference`; else None.

        The calendar module takes ``lambda loc: ref.locate(("calendar", *loc))`` as its locator.
        """
        return self._source.span(loc) if self._source is not None else None


class _SourceMap:
    """Positions of the loaded values: a side table, not part of the data's value."""

    def __init__(self, locate: Locator) -> None:
        self._locate = locate

    def span(self, loc: tuple[str | int, ...]) -> Span:
        return self._locate(tuple(loc))[0]

    def __eq__(self, other: object) -> bool:
        # Two loads of the same data are equal wherever they were read from.
        return isinstance(other, _SourceMap)

    __hash__ = None  # type: ignore[assignment]


#: The id field of each list section (assignments have none).
SECTION_IDS: dict[str, str | None] = {
    "cadres": "cadre_id",
    "assignments": None,
    "groups": "group_id",
    "units": "unit_id",
    "staff": "staff_id",
    "vehicles": "plate",
}
_SECTION_MODELS: dict[str, type[_Record]] = {
    "cadres": Cadre,
    "assignments": Assignment,
    "groups": Group,
    "units": Unit,
    "staff": Staff,
    "vehicles": Vehicle,
}
_CALENDAR_FILES = ("calendar.yaml", "calendar.yml", "calendar.json")
_MAX_NODES = 1_000_000

Locator = Callable[..., tuple[Span, str | None]]


def load_reference(path: str | Path) -> ReferenceData:
    """Load reference data from a ``.yaml``/``.yml``/``.json`` document or a folder of CSV files.

    In a folder, each section is ``<section>.csv`` (header = field names, empty cell = absent,
    ``targets`` as JSON text) and the calendar is ``calendar.yaml`` (or ``.yml``/``.json``).

    Raises:
        FourinError: ``reference-missing`` when the path cannot be read, ``yaml-syntax`` for
            broken YAML, ``yaml-too-complex`` for alias bombs, ``reference-schema`` otherwise.
        FourinErrors: several problems at once (all are collected before raising).
    """
    p = Path(path)
    if p.is_dir():
        data, locate = _read_folder(p)
    elif p.is_file():
        data, locate = _read_document(p)
    else:
        raise FourinError("reference-missing", f"reference data not found: {p}")
    return _validate(data, locate)


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FourinError("reference-missing", f"cannot read {p}: {exc}") from None


def _read_document(p: Path) -> tuple[Any, Locator]:
    suffix = p.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise FourinError(
            "reference-missing",
            f"unknown reference format {p.suffix!r} for {p}: use .yaml, .yml, .json or a folder",
        )
    text = _read_text(p)
    data, locate = _parse_structured(str(p), text, suffix == ".json")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise _err(f"the top level of {p} must be a mapping of sections, not {kind}", *locate(()))
    return data, locate


def _parse_structured(path: str, text: str, is_json: bool) -> tuple[Any, Locator]:
    """Parse YAML (or JSON) and return the data with a locator over the node tree."""
    lines = text.splitlines()
    if is_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            span = Span(path, exc.lineno, exc.colno)
            raise _err(f"invalid JSON: {exc.msg}", span, _line(lines, exc.lineno)) from None
        # JSON has no aliases to expand; the node tree only serves positions, so it is built
        # when a problem needs one (for 12,000 cadres it took 24 s, the data 0.1 s).
        return data, _lazy_locator(path, text, lines)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(path, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1)
        raise FourinError(
            "yaml-syntax",
            f"invalid YAML: {exc.problem or exc}",
            span=span,
            source_line=_line(lines, span.line),
        ) from None
    except yaml.YAMLError as exc:
        raise FourinError("yaml-syntax", f"invalid YAML: {exc}", span=Span(path, 1)) from None
    finally:
        loader.dispose()
    return data, _node_locator(path, node, lines)


def _lazy_locator(path: str, text: str, lines: list[str]) -> Locator:
    """A locator over a JSON document's node tree, composed at its first use."""
    found: list[Locator] = []

    def locate(loc: tuple[Any, ...], at_key: bool = False) -> tuple[Span, str | None]:
        if not found:
            # Raw tabs are legal JSON whitespace but not YAML.
            loader = yaml.SafeLoader(text.replace("\t", " "))
            try:
                node = loader.get_single_node()
            except yaml.YAMLError:  # JSON that YAML reads otherwise: point at the file
                node = None
            finally:
                loader.dispose()
            found.append(_node_locator(path, node, lines))
        return found[0](loc, at_key)

    return locate


def _check_size(path: str, root: yaml.Node) -> None:
    """Refuse documents whose aliases expand beyond a sane size (a 'billion laughs')."""
    sizes: dict[int, int] = {}
    order: list[yaml.Node] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):  # children are sized before their parents
        total = 1 + sum(sizes.get(id(c), 1) for c in _children(node))
        if total > _MAX_NODES:
            raise FourinError(
                "yaml-too-complex",
                f"{path} expands to more than {_MAX_NODES} values (aliases?)",
                span=Span(path, node.start_mark.line + 1, node.start_mark.column + 1),
            )
        sizes[id(node)] = total


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _line(lines: list[str], lineno: int) -> str | None:
    return lines[lineno - 1] if 0 < lineno <= len(lines) else None


def _node_locator(path: str, root: yaml.Node | None, lines: list[str]) -> Locator:
    def locate(loc: tuple[Any, ...], at_key: bool = False) -> tuple[Span, str | None]:
        node = root
        for n, part in enumerate(loc):
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if str(key.value) == str(part):
                        # Point at the key for unknown keys and for mappings and lists (which
                        # span many lines); at the value otherwise.
                        last = n == len(loc) - 1
                        multi = isinstance(value, yaml.MappingNode | yaml.SequenceNode)
                        nxt = key if last and (at_key or multi) else value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                nxt = node.value[part]
            if nxt is None:
                break
            node = nxt
        if node is None:
            return Span(path, 1), _line(lines, 1)
        start, end = node.start_mark, node.end_mark
        length = end.index - start.index if end.line == start.line else 1
        lineno = start.line + 1
        return Span(path, lineno, start.column + 1, max(1, length)), _line(lines, lineno)

    return locate


def _read_folder(folder: Path) -> tuple[dict[str, Any], Locator]:
    errors = ErrorCollector()
    data: dict[str, Any] = {}
    locators: dict[str, Locator] = {}
    found = False
    for p in sorted(folder.iterdir()):
        name = p.name.lower()
        if name in _CALENDAR_FILES:
            found = True
            cal, cal_locate = _parse_structured(str(p), _read_text(p), name.endswith(".json"))
            data["calendar"] = cal
            locators["calendar"] = cal_locate
        elif name.endswith(".csv"):
            found = True
            section = p.name[:-4]
            if section not in _SECTION_MODELS:
                message = f"unknown reference section file {p.name!r}"
                errors.add(_err(message, Span(str(p), 1), hint=_suggest_file(section)))
                continue
            rows, locators[section] = _read_csv(p, _SECTION_MODELS[section], errors)
            data[section] = rows
    if not found:
        raise FourinError(
            "reference-missing",
            f"no reference files in {folder}: expected e.g. cadres.csv, units.csv, calendar.yaml",
        )
    errors.raise_if_any()

    def locate(loc: tuple[Any, ...], at_key: bool = False) -> tuple[Span, str | None]:
        if loc and loc[0] in locators:
            return locators[loc[0]](loc[1:], at_key)
        return Span(str(folder), 1), None

    return data, locate


def _suggest_file(section: str) -> str | None:
    hint = suggest(section, _SECTION_MODELS)
    return hint.replace("'?", ".csv'?") if hint else None


def _read_csv(
    p: Path, model: type[_Record], errors: ErrorCollector
) -> tuple[list[dict[str, Any]], Locator]:
    path, fields = str(p), model.model_fields
    # Reference files are small: keep the physical lines so errors can quote them.
    lines = _read_text(p).splitlines(keepends=True)
    reader = csv.reader(lines)
    list_fields = {n for n, f in fields.items() if typing.get_origin(f.annotation) is list}
    rows: list[dict[str, Any]] = []
    row_lines: list[tuple[int, str]] = []
    try:
        header = [h.strip() for h in next(reader, [])]
        offset = 1
        for column in header:
            if column and column not in fields:
                col = offset if '"' not in lines[0] else 1
                span = Span(path, 1, col, len(column))
                message = f"unknown field {column!r} in {p.name}"
                errors.add(_err(message, span, lines[0], suggest(column, fields)))
            offset += len(column) + 1
        known = [(i, h) for i, h in enumerate(header) if h in fields]
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            raw = "".join(lines[start - 1 : end]).rstrip("\r\n")
            if not any(c.strip() for c in cells):
                continue
            row: dict[str, Any] = {}
            for i, name in known:
                cell = cells[i].strip() if i < len(cells) else ""
                if cell and name in list_fields:
                    try:
                        row[name] = json.loads(cell)
                    except json.JSONDecodeError as exc:
                        message = f"{p.stem}.{name}: list cell is not JSON text ({exc.msg})"
                        errors.add(_err(message, Span(path, start), raw))
                elif cell:
                    row[name] = cell  # an empty cell is an absent value
            rows.append(row)
            row_lines.append((start, raw))
    except csv.Error as exc:
        errors.add(_err(f"bad CSV: {exc}", Span(path, reader.line_num)))

    def locate(loc: tuple[Any, ...], at_key: bool = False) -> tuple[Span, str | None]:
        if loc and isinstance(loc[0], int) and 0 <= loc[0] < len(row_lines):
            lineno, raw = row_lines[loc[0]]
            return Span(path, lineno, 1, max(1, len(raw))), raw
        return Span(path, 1), _line(lines, 1)

    return rows, locate


def _err(
    message: str, span: Span | None, line: str | None = None, hint: str | None = None
) -> FourinError:
    return FourinError("reference-schema", message, span=span, suggestion=hint, source_line=line)


def _validate(data: dict[str, Any], locate: Locator) -> ReferenceData:
    errors = ErrorCollector()
    _check_duplicates(data, locate, errors)
    result: ReferenceData | None = None
    try:
        result = ReferenceData.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            errors.add(_schema_error(err, locate))
    if result is not None:
        _check_overlaps(result, locate, errors)
    errors.errors.sort(key=_error_order)
    errors.raise_if_any()
    assert result is not None  # raise_if_any raised otherwise
    result._source = _SourceMap(locate)
    return result


def _error_order(error: FourinError) -> tuple[str, int, int]:
    span = error.span
    return (span.path, span.line, span.column) if span else ("", 0, 0)


def _schema_error(err: Any, locate: Locator) -> FourinError:
    loc = tuple(err["loc"])
    span, line = locate(loc, err["type"] == "extra_forbidden")
    where = _format_loc(loc[:-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        if len(loc) == 1:
            message, candidates = f"unknown section {loc[0]!r}", ReferenceData.model_fields
        else:
            message, candidates = f"unknown field {loc[-1]!r} in {where}", model.model_fields
        return _err(message, span, line, suggest(str(loc[-1]), candidates))
    message = err["msg"].removeprefix("Value error, ")
    hint = None
    if err["type"] == "missing":
        message = f"missing required field {loc[-1]!r} in {where}" if where else message
    else:
        value = err.get("input")
        got = "" if isinstance(value, dict | list) else f" (got {_short(value)})"
        message = f"{_format_loc(loc)}: {message}{got}"
        if err["type"] == "literal_error" and isinstance(value, str):
            hint = suggest(value, re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected"))))
    return _err(message, span, line, hint)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "date") or "[" in str(part):
            continue  # pydantic names the union member it tried; users do not need it
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that owns the fields at ``loc`` (for suggestions of unknown fields)."""
    path = tuple(part for part in loc if not isinstance(part, int))
    owners: dict[tuple[Any, ...], type[BaseModel]] = {
        ("calendar",): CalendarSection,
        ("groups", "targets"): GroupTarget,
        **{(name,): model for name, model in _SECTION_MODELS.items()},
    }
    return owners.get(path, ReferenceData)


def _check_duplicates(data: dict[str, Any], locate: Locator, errors: ErrorCollector) -> None:
    for section, id_field in SECTION_IDS.items():
        rows = data.get(section)
        if id_field is None or not isinstance(rows, list):
            continue
        first: dict[str, int] = {}
        for i, row in enumerate(rows):
            value = row.get(id_field) if isinstance(row, dict) else None
            if not isinstance(value, str):
                continue
            if value in first:
                span, line = locate((section, i, id_field))
                where, _ = locate((section, first[value], id_field))
                message = (
                    f"duplicate {id_field} {value!r} in {section} (first at line {where.line})"
                )
                errors.add(_err(message, span, line))
            else:
                first[value] = i


def _check_overlaps(ref: ReferenceData, locate: Locator, errors: ErrorCollector) -> None:
    """A cadre cannot be dispatched to two places on the same day."""
    by_cadre: dict[str, list[tuple[int, Assignment]]] = {}
    for i, a in enumerate(ref.assignments):
        by_cadre.setdefault(a.cadre_id, []).append((i, a))
    for cadre_id, items in by_cadre.items():
        items.sort(key=lambda pair: pair[1].start)
        for (i, a), (j, b) in itertools.pairwise(items):
            if a.end is None or b.start <= a.end:
                span, line = locate(("assignments", j))
                first, _ = locate(("assignments", i))
                message = (
                    f"assignments of cadre {cadre_id!r} overlap: {b.start} starts before "
                    f"the assignment at line {first.line} ends ({a.end or 'open-ended'})"
                )
                errors.add(_err(message, span, line))
