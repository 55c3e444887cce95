"""Load rule packs and county overrides from YAML, with every error located in its file.

A *pack* file has a ``pack:`` header; an *override* file has ``extends: PACK_ID`` and changes
parameters, severities or lists of a loaded pack, or disables rules, without editing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fourin_rules.errors import ErrorCollector, FourinError, FourinErrors, Span, suggest
from fourin_rules.model.clauses import CLAUSES
from fourin_rules.packs.schema import OverrideFile, PackFile, PackTest, Rule
from fourin_rules.packs.yamlpos import MAX_FILE_BYTES, Marks, load_yaml

PACK_SUFFIXES = (".yaml", ".yml")


@dataclass
class Pack:
    """A loaded pack: its validated content, where it came from, and the county's changes."""

    file: PackFile
    path: str
    marks: Marks
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule id -> effective params
    disabled: set[str] = field(default_factory=set)
    severity: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    extra_tests: list[tuple[PackTest, str, Marks]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)  # paths of applied override files

    @property
    def id(self) -> str:
        return self.file.pack.id

    @property
    def version(self) -> str:
        return self.file.pack.version

    def rule_index(self, rule_id: str) -> int:
        for i, rule in enumerate(self.file.rules):
            if rule.id == rule_id:
                return i
        raise KeyError(rule_id)

    def active_rules(self) -> list[Rule]:
        return [r for r in self.file.rules if r.enabled and r.id not in self.disabled]


def bundled_rules_dir() -> Path:
    """The folder of the packs shipped with fourin-rules (source tree or installed wheel)."""
    here = Path(__file__).resolve()
    installed = here.parent.parent / "bundled_rules"
    if installed.is_dir():
        return installed
    return here.parents[3] / "rules"


def expand_pack_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expanded to their ``*.yaml`` files, sorted."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in PACK_SUFFIXES))
        else:
            out.append(p)
    return out


def _pydantic_errors(
    exc: ValidationError, marks: Marks, prefix: tuple[Any, ...] = ()
) -> list[FourinError]:
    errors = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        # pydantic reports union members and validator names in loc; keep the data path.
        loc = tuple(
            x for x in loc if not (isinstance(x, str) and ("[" in x or x.startswith("function-")))
        )
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = loc[:-1]
            allowed = _allowed_keys(exc, parent)
            if any(ch in str(loc[-1]) for ch in "()"):
                errors.append(
                    marks.error(
                        "pack-schema",
                        f"unknown key '{loc[-1]}'",
                        loc,
                        key=True,
                        suggestion="quote the expression: inside {...} a comma starts a new key",
                    )
                )
                continue
            errors.append(
                marks.error(
                    "pack-schema",
                    f"unknown key '{loc[-1]}'",
                    loc,
                    key=True,
                    suggestion=suggest(str(loc[-1]), allowed) if allowed else None,
                )
            )
        elif kind == "missing":
            errors.append(marks.error("pack-schema", f"missing key '{loc[-1]}'", loc[:-1]))
        else:
            where = ".".join(str(x) for x in loc) or "pack"
            errors.append(marks.error("pack-schema", f"{where}: {err['msg']}", loc))
    return errors


def _allowed_keys(exc: ValidationError, parent: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at ``parent``, found by walking the schema models."""
    from fourin_rules.packs import schema as s

    model: Any = s.OverrideFile if exc.title == "OverrideFile" else s.PackFile
    for part in parent:
        if isinstance(part, int):
            continue
        fld = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if fld is None:
            return []
        ann = fld.annotation
        inner = _model_in(ann)
        if inner is None:
            return []
        model = inner
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def read_yaml_file(path: str | Path) -> tuple[Any, Marks]:
    """Read and parse a YAML file; a missing file is a located error."""
    p = Path(path)
    try:
        # Read no more than the limit: a huge file (or a link to an endless device) is refused
        # without being read into memory.
        with p.open("rb") as handle:
            blob = handle.read(MAX_FILE_BYTES + 1)
        if len(blob) > MAX_FILE_BYTES:
            raise FourinError(
                "yaml-too-complex", f"file is larger than {MAX_FILE_BYTES} bytes", Span(str(p), 1)
            )
        text = blob.decode("utf-8")
    except FileNotFoundError:
        raise FourinError("input-file", f"no such pack file: {p}", Span(str(p), 1)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FourinError("input-file", f"cannot read {p}: {exc}", Span(str(p), 1)) from None
    # As text mode would: universal newlines.
    return load_yaml(text.replace("\r\n", "\n").replace("\r", "\n"), str(p))


def parse_pack(data: Any, marks: Marks) -> PackFile:
    """Validate parsed YAML as a pack; collect every schema and clause error."""
    errors = ErrorCollector()
    if not isinstance(data, dict):
        raise marks.error("pack-schema", "a pack file must be a mapping with a 'pack:' header", ())
    try:
        pack = PackFile.model_validate(data)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, marks))
        errors.raise_if_any()
        raise  # pragma: no cover
    seen: dict[str, int] = {}
    for i, rule in enumerate(pack.rules):
        if rule.clause not in CLAUSES:
            errors.add(
                marks.error(
                    "unknown-clause",
                    f"rule {rule.id}: clause {rule.clause!r} is not a clause of the seed speech",
                    ("rules", i, "clause"),
                    suggestion=suggest(rule.clause, CLAUSES),
                )
            )
        if rule.id in seen:
            errors.add(
                marks.error(
                    "duplicate-rule",
                    f"rule id {rule.id!r} appears twice in the pack",
                    ("rules", i, "id"),
                )
            )
        seen[rule.id] = i
    errors.raise_if_any()
    return pack


def load_pack_file(path: str | Path) -> Pack | tuple[OverrideFile, str, Marks]:
    """Load one file: a :class:`Pack`, or an override (model, path, marks) to apply later."""
    data, marks = read_yaml_file(path)
    if isinstance(data, dict) and "extends" in data and "pack" not in data:
        try:
            return OverrideFile.model_validate(data), str(path), marks
        except ValidationError as exc:
            errs = _pydantic_errors(exc, marks)
            collector = ErrorCollector()
            collector.extend(errs)
            collector.raise_if_any()
            raise  # pragma: no cover
    pack = parse_pack(data, marks)
    result = Pack(file=pack, path=str(path), marks=marks)
    result.params = {r.id: dict(r.params) for r in pack.rules}
    result.lists = {k: list(v) for k, v in pack.lists.items()}
    return result


def apply_override(packs: dict[str, Pack], override: OverrideFile, path: str, marks: Marks) -> None:
    """Apply a county override to the pack it extends; every unknown name is a located error."""
    errors = ErrorCollector()
    pack = packs.get(override.extends)
    if pack is None:
        raise marks.error(
            "unknown-pack",
            f"override extends pack {override.extends!r}, which is not loaded",
            ("extends",),
            suggestion=suggest(override.extends, packs),
        )
    rule_ids = [r.id for r in pack.file.rules]
    for dotted, value in override.params.items():
        rule_id, _, name = str(dotted).partition(".")
        if rule_id not in rule_ids:
            errors.add(
                marks.error(
                    "unknown-rule",
                    f"no rule {rule_id!r} in pack {pack.id}",
                    ("params", dotted),
                    key=True,
                    suggestion=suggest(rule_id, rule_ids),
                )
            )
            continue
        declared = pack.params[rule_id]
        if name not in declared:
            errors.add(
                marks.error(
                    "unknown-param",
                    f"rule {rule_id} has no parameter {name!r}",
                    ("params", dotted),
                    key=True,
                    suggestion=suggest(name, declared),
                )
            )
            continue
        default = declared[name]
        if not _same_kind(default, value):
            errors.add(
                marks.error(
                    "bad-param",
                    f"{dotted}: expected a value like {default!r}, got {value!r}",
                    ("params", dotted),
                )
            )
            continue
        declared[name] = value
    for index, rule_id in enumerate(override.disable):
        if rule_id not in rule_ids:
            errors.add(
                marks.error(
                    "unknown-rule",
                    f"no rule {rule_id!r} in pack {pack.id}",
                    ("disable", index),
                    suggestion=suggest(rule_id, rule_ids),
                )
            )
        pack.disabled.add(rule_id)
    for rule_id, sev in override.severity.items():
        if rule_id not in rule_ids:
            errors.add(
                marks.error(
                    "unknown-rule",
                    f"no rule {rule_id!r} in pack {pack.id}",
                    ("severity", rule_id),
                    key=True,
                    suggestion=suggest(rule_id, rule_ids),
                )
            )
        pack.severity[rule_id] = sev
    for name, values in override.lists.items():
        if name not in pack.lists:
            errors.add(
                marks.error(
                    "unknown-name",
                    f"pack {pack.id} has no list {name!r}",
                    ("lists", name),
                    key=True,
                    suggestion=suggest(name, pack.lists),
                )
            )
        pack.lists[name] = list(values)
    for test in override.tests:
        pack.extra_tests.append((test, path, marks))
    pack.overrides.append(path)
    errors.raise_if_any()


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))


def load_packs(
    paths: Sequence[str | Path] | None = None,
    *,
    params: dict[str, Any] | None = None,
    disable: Iterable[str] = (),
) -> list[Pack]:
    """Load packs and overrides (folders expand to their YAML files); bundled packs when ``paths``
    is empty. ``params`` maps ``"RULE.param"`` (or ``"PACK:RULE.param"``) to a value; ``disable``
    names rules to switch off. Errors in all files are collected before raising."""
    files = expand_pack_paths(paths or [bundled_rules_dir()])
    errors = ErrorCollector()
    packs: dict[str, Pack] = {}
    overrides: list[tuple[OverrideFile, str, Marks]] = []
    for f in files:
        try:
            loaded = load_pack_file(f)
        except FourinError as exc:
            errors.add(exc)
            continue
        except FourinErrors as exc:  # anything else is a bug: it must not vanish a file silently
            errors.extend(exc.errors)
            continue
        if isinstance(loaded, Pack):
            if loaded.id in packs:
                errors.add(
                    loaded.marks.error(
                        "duplicate-rule",
                        f"pack {loaded.id!r} is loaded twice (also from {packs[loaded.id].path})",
                        ("pack", "id"),
                    )
                )
                continue
            packs[loaded.id] = loaded
        else:
            overrides.append(loaded)
    errors.raise_if_any()
    for override, path, marks in overrides:
        try:
            apply_override(packs, override, path, marks)
        except FourinError as exc:
            errors.add(exc)
        except FourinErrors as exc:
            errors.extend(exc.errors)
    _check_rule_ids_unique(packs.values(), errors)
    if params:
        _apply_cli_params(packs, params, errors)
    for rule_ref in disable:
        pack = _find_rule_pack(packs, rule_ref, errors)
        if pack:
            pack.disabled.add(rule_ref.split(":")[-1])
    errors.raise_if_any()
    return list(packs.values())


def _check_rule_ids_unique(packs: Iterable[Pack], errors: ErrorCollector) -> None:
    owner: dict[str, str] = {}
    for pack in packs:
        for i, rule in enumerate(pack.file.rules):
            if rule.id in owner and owner[rule.id] != pack.id:
                errors.add(
                    pack.marks.error(
                        "duplicate-rule",
                        f"rule id {rule.id!r} is also defined in pack {owner[rule.id]}",
                        ("rules", i, "id"),
                    )
                )
            owner.setdefault(rule.id, pack.id)


def _find_rule_pack(packs: dict[str, Pack], ref: str, errors: ErrorCollector) -> Pack | None:
    pack_id, _, rule_id = ref.rpartition(":")
    candidates = [packs[pack_id]] if pack_id in packs else list(packs.values())
    for pack in candidates:
        if any(r.id == rule_id for r in pack.file.rules):
            return pack
    all_ids = [r.id for p in packs.values() for r in p.file.rules]
    errors.add(
        FourinError("unknown-rule", f"no loaded rule {ref!r}", suggestion=suggest(rule_id, all_ids))
    )
    return None


def _apply_cli_params(
    packs: dict[str, Pack], params: dict[str, Any], errors: ErrorCollector
) -> None:
    for key, value in params.items():
        rule_ref, _, name = key.rpartition(".")
        pack = _find_rule_pack(packs, rule_ref, errors)
        if not pack:
            continue
        rule_id = rule_ref.split(":")[-1]
        declared = pack.params[rule_id]
        if name not in declared:
            errors.add(
                FourinError(
                    "unknown-param",
                    f"rule {rule_id} has no parameter {name!r}",
                    suggestion=suggest(name, declared),
                )
            )
            continue
        if not _same_kind(declared[name], value):
            errors.add(
                FourinError(
                    "bad-param", f"{key}: expected a value like {declared[name]!r}, got {value!r}"
                )
            )
            continue
        declared[name] = value
