"""Embedded pack tests: events in, exactly the expected findings out.

A test lives beside its rule (``rules[].tests``) or at pack level (``tests``), or in a county
override file. It runs on a virtual clock: its events set the time (absolute ``time`` or ``at``
offsets from ``start``), and nothing reads the wall clock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from fourin_rules.errors import FourinError
from fourin_rules.model.finding import Finding
from fourin_rules.packs.loader import Pack
from fourin_rules.packs.schema import ExpectedFinding, PackTest
from fourin_rules.packs.yamlpos import Marks
from fourin_rules.timeutil import get_tz, parse_duration, parse_timestamp, to_iso


@dataclass
class TestOutcome:
    """One embedded test's result."""

    __test__ = False  # not a pytest test class, despite the name

    pack_id: str
    name: str
    where: str  # file:line of the test
    passed: bool
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def render(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.pack_id} :: {self.name} ({self.where})"
        return "\n".join([head, *("    " + p for p in self.problems)])


@dataclass
class Case:
    pack: Pack
    test: PackTest
    loc: tuple[Any, ...]
    marks: Marks
    rules: list[str]


def as_shipped(pack: Pack) -> Pack:
    """The pack as its file declares it: a pack's own tests test the rules as shipped, whatever
    a county's override changed (the override's tests test the changes)."""
    shipped = copy.copy(pack)
    shipped.params = {r.id: dict(r.params) for r in pack.file.rules}
    shipped.lists = {k: list(v) for k, v in pack.file.lists.items()}
    shipped.severity = {}
    shipped.disabled = set()
    return shipped


def iter_cases(packs: Sequence[Pack]) -> Iterable[Case]:
    """Every embedded test of ``packs``: rule tests, pack tests, then county override tests."""
    for changed in packs:
        pack = as_shipped(changed) if changed.overrides else changed
        active = {r.id for r in pack.active_rules()}
        for i, rule in enumerate(pack.file.rules):
            if rule.id not in active:
                continue
            for j, test in enumerate(rule.tests):
                yield Case(
                    pack, test, ("rules", i, "tests", j), pack.marks, test.rules or [rule.id]
                )
        for j, test in enumerate(pack.file.tests):
            yield Case(pack, test, ("tests", j), pack.marks, test.rules or sorted(active))
        county_active = {r.id for r in changed.active_rules()}
        for j, (test, _path, marks) in enumerate(changed.extra_tests):
            yield Case(changed, test, ("tests", j), marks, test.rules or sorted(county_active))


def _reference(case: Case) -> Any:
    ref = case.test.reference
    if ref is None:
        return {}
    if set(ref) == {"use"}:
        from fourin_rules.model.reference import load_reference

        return load_reference(include_path(case, str(ref["use"])))
    return ref


def include_path(case: Case, name: str) -> Path:
    """The file ``name`` that a test includes, relative to the folder of the file holding it.

    Raises:
        FourinError: ``include-outside`` when ``name`` is absolute or leads out of that folder
            (through ``..`` or a symbolic link): a shared pack must not read the machine's files.
    """
    base = Path(case.marks.path).parent
    loc = (*case.loc, "reference", "use")
    hint = "copy the file into the pack's folder (e.g. fixtures/) and name it relative to it"
    if Path(name).is_absolute() or PureWindowsPath(name).drive or PureWindowsPath(name).root:
        raise case.marks.error(
            "include-outside", f"reference file {name!r} is an absolute path", loc, suggestion=hint
        )
    root = base.resolve()
    target = (base / name).resolve()  # follows symbolic links, so a link out is caught too
    if not target.is_relative_to(root):
        raise case.marks.error(
            "include-outside",
            f"reference file {name!r} is outside the pack's folder {str(root)!r}"
            f" (it leads to {str(target)!r})",
            loc,
            suggestion=hint,
        )
    return target


def _events(case: Case, tz: Any) -> list[dict[str, Any]]:
    start = parse_timestamp(case.test.start, tz) if case.test.start else None
    out = []
    for k, raw in enumerate(case.test.events):
        event = dict(raw)
        at = event.pop("at", None)
        if at is not None:
            if start is None:
                raise case.marks.error(
                    "pack-schema",
                    "an event uses `at` but the test has no `start`",
                    (*case.loc, "events", k),
                )
            event["time"] = to_iso(start + parse_duration(str(at).lstrip("+")))
            if "for" in event:
                event["end"] = to_iso(
                    start
                    + parse_duration(str(at).lstrip("+"))
                    + parse_duration(str(event.pop("for")))
                )
        event.setdefault("id", f"{event.get('type', 'event')}-{k + 1}")
        out.append(event)
    return out


def _matches(expected: ExpectedFinding, actual: Finding) -> bool:
    if expected.rule != actual.rule_id:
        return False
    if expected.subject is not None and expected.subject != actual.subject.id:
        return False
    if expected.severity is not None and expected.severity != actual.severity:
        return False
    if expected.needs_review is not None and expected.needs_review != actual.needs_review:
        return False
    if expected.status is not None and expected.status != actual.status:
        return False
    if expected.evidence is not None and sorted(expected.evidence) != sorted(
        e.id for e in actual.evidence
    ):
        return False
    if expected.subject_kind is not None and expected.subject_kind != actual.subject.kind:
        return False
    if expected.message_contains is not None and not any(
        expected.message_contains in text for text in (actual.message.zh, actual.message.en)
    ):
        return False
    if expected.window_start is not None:
        start = actual.window.start
        if (
            not to_iso(start).startswith(expected.window_start)
            and start.date().isoformat() != expected.window_start
        ):
            return False
    return True


def _describe(f: Finding) -> str:
    ev = ",".join(e.id for e in f.evidence) or "-"
    return (
        f"{f.rule_id} subject={f.subject.id} severity={f.severity} status={f.status} "
        f"window={to_iso(f.window.start)} evidence=[{ev}]"
    )


def run_case(case: Case, backend: str = "durable") -> TestOutcome:
    """Run one embedded test and compare its findings with the expectation, exactly."""
    from fourin_rules.engine import Engine

    where = str(case.marks.span(case.loc))
    try:
        pack = copy.copy(case.pack)
        pack.params = {rid: dict(p) for rid, p in case.pack.params.items()}
        for dotted, value in case.test.params.items():
            rule_id, _, name = str(dotted).partition(".")
            if rule_id not in pack.params or name not in pack.params[rule_id]:
                raise case.marks.error(
                    "unknown-param",
                    f"test sets unknown parameter {dotted!r}",
                    (*case.loc, "params"),
                )
            pack.params[rule_id][name] = value
        engine = Engine([pack], _reference(case), backend=backend)
        events = _events(case, get_tz(engine.reference.timezone))
        result = engine.run(events, since=case.test.since, until=case.test.until)
    except FourinError as exc:
        return TestOutcome(case.pack.id, case.test.name, where, False, [exc.render()])
    findings = [f for f in result.findings if f.rule_id in case.rules]
    problems = []
    for q in result.quarantine:
        problems.append(f"test event refused: {q.field}: {q.reason} ({q.raw[:120]})")
    for err in result.errors:
        problems.append(
            f"rule error: {err.rule_id} on {err.event_type} {err.event_id}: {err.message}"
        )
    unmatched = list(findings)
    for exp in case.test.expect:
        hit = next((f for f in unmatched if _matches(exp, f)), None)
        if hit is None:
            problems.append("missing:    " + exp.model_dump_json(exclude_none=True))
        else:
            unmatched.remove(hit)
    for f in unmatched:
        problems.append("unexpected: " + _describe(f))
    if problems and findings:
        problems.append("actual findings: " + "; ".join(_describe(f) for f in findings))
    return TestOutcome(case.pack.id, case.test.name, where, not problems, problems, findings)


def run_pack_tests(packs: Sequence[Pack], backend: str = "durable") -> list[TestOutcome]:
    """Run every embedded test of ``packs`` (and of their county overrides)."""
    return [run_case(case, backend) for case in iter_cases(packs)]
