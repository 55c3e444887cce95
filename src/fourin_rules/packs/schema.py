"""The YAML rule-pack language as pydantic models (the documented schema of a pack file).

Expressions stay strings here; :mod:`fourin_rules.plan` compiles them. Unknown keys are errors
(``extra="forbid"``) so that a typo such as ``wehn:`` is reported, not ignored.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["high", "medium", "low", "info"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high")
RuleKind = Literal["match", "absence", "threshold", "sequence"]
SubjectKind = Literal["cadre", "group", "township"]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A bilingual text."""

    zh: str
    en: str


class PackHeader(Strict):
    id: str
    version: str
    title: Text
    requires: str = ">=0.1"
    description: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("pack id must start with a letter and hold letters, digits, _ . -")
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> str:
        if not _SEMVER.match(str(v)):
            raise ValueError("version must be semantic: MAJOR.MINOR.PATCH")
        return str(v)


class CustomType(Strict):
    """An event type a pack declares: field name -> value type (str, number, bool, time, ...)."""

    fields: dict[str, str]
    description: str | None = None


class ForEach(Strict):
    """Evaluate the rule once per element of a list field, bound to ``var``."""

    var: str
    in_: str = Field(alias="in")


class Subject(Strict):
    """Who a finding is about: ``kind`` (cadre, group, township, or an expression giving one of
    them) and ``id`` (an expression)."""

    kind: str = "cadre"
    id: str = "cadre_id"


class Escalation(Strict):
    """Raise the severity when ``when`` holds (match rules)."""

    when: str
    to: Severity


class Exemption(Strict):
    """Records that excuse a finding: an event of ``on`` whose ``who`` names the subject, whose
    ``where`` holds, and whose [time, end] span overlaps what the rule looks at (the event, or the
    absence slot)."""

    on: list[str]
    who: str = "cadre_id"
    where: str = "true"
    label: Text | None = None

    @field_validator("on", mode="before")
    @classmethod
    def _on(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Source(Strict):
    """Events of types ``on`` that satisfy ``where``."""

    on: list[str]
    where: str = "true"
    who: str | None = None

    @field_validator("on", mode="before")
    @classmethod
    def _on(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Slot(Strict):
    """One expectation of an absence rule: within local times [from, to) of the period's day(s),
    at least ``min_count`` events from any of the sources."""

    name: str
    between: tuple[str, str] = ("00:00", "24:00")  # HH:MM or "params.NAME"
    min_count: int = 1
    any_of: list[Source]
    label: Text | None = None


class AbsenceEscalation(Strict):
    """Raise to ``to`` when ``count`` or more findings fall in the last ``within`` periods."""

    count: int | str  # a number or "params.NAME"
    within: int | str
    to: Severity


class Step(Strict):
    """A sequence step. ``absent: true`` on the last step means "not followed by"."""

    as_: str = Field(alias="as")
    on: list[str]
    where: str = "true"
    absent: bool = False
    by: str | None = None  # deadline expression (time) for an absent step

    @field_validator("on", mode="before")
    @classmethod
    def _on(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ExpectedFinding(Strict):
    rule: str
    subject: str | None = None
    severity: Severity | None = None
    evidence: list[str] | None = None
    needs_review: bool | None = None
    status: Literal["provisional", "final"] | None = None
    window_start: str | None = None
    subject_kind: str | None = None
    message_contains: str | None = None  # a substring of the Chinese or English message


class PackTest(Strict):
    """An embedded test: reference data and events in, the expected findings out (exactly)."""

    name: str
    reference: dict[str, Any] | None = None
    start: str | None = None  # events may give `at: +2h30m` offsets from this instant
    params: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)
    since: str | None = None
    until: str | None = None
    expect: list[ExpectedFinding] = Field(default_factory=list)
    rules: list[str] | None = (
        None  # restrict the check to these rules (default: the rules of the pack)
    )


class Rule(Strict):
    id: str
    clause: str
    kind: RuleKind
    title: Text
    message: Text
    severity: Severity = "medium"
    needs_review: bool = False
    tags: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None
    enabled: bool = True
    # match / threshold
    on: list[str] = Field(default_factory=list)
    for_each: ForEach | None = None
    subject: Subject = Field(default_factory=Subject)
    let: dict[str, str] = Field(default_factory=dict)
    when: str = "true"
    unless: list[Exemption] = Field(default_factory=list)
    escalate: list[Escalation] = Field(default_factory=list)
    facts: dict[str, str] = Field(default_factory=dict)
    # absence
    per: Literal["duty_day", "day", "week", "calendar_month"] | None = None
    expect: list[Slot] = Field(default_factory=list)
    escalate_repeats: AbsenceEscalation | None = None
    # threshold
    window: str | None = None  # day | week | calendar_month | sliding:<d> | hopping:<size>:<step>
    roster: Literal["groups", "cadres"] | None = None  # judge every one, events or not
    values: dict[str, str] = Field(default_factory=dict)
    having: str | None = None
    # sequence
    key: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    within: str | None = None
    consecutive: bool = False  # sequence: each step only against the key's previous event
    tests: list[PackTest] = Field(default_factory=list)

    @field_validator("on", "key", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("rule id must start with a letter and hold letters, digits, _ . -")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> Rule:
        need: dict[str, list[str]] = {
            "match": ["on"],
            "absence": ["per", "expect"],
            "threshold": ["on", "window", "values", "having"],
            "sequence": ["key", "steps"],
        }
        missing = [f for f in need[self.kind] if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.kind} rule needs {', '.join(missing)}")
        if self.kind == "sequence":
            if len(self.steps) < 2:
                raise ValueError("a sequence needs at least two steps")
            if any(s.absent for s in self.steps[:-1]):
                raise ValueError("only the last step of a sequence may be absent")
            if not self.steps[-1].absent and not self.within:
                raise ValueError("a sequence of present steps needs `within`")
        return self


class PackFile(Strict):
    pack: PackHeader
    types: dict[str, CustomType] = Field(default_factory=dict)
    lists: dict[str, list[Any]] = Field(default_factory=dict)
    macros: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    tests: list[PackTest] = Field(default_factory=list)


class OverrideFile(Strict):
    """A county's local changes to a bundled pack, in a file of its own."""

    extends: str
    params: dict[str, Any] = Field(default_factory=dict)  # "RULE.param": value
    disable: list[str] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)  # "RULE": severity
    lists: dict[str, list[Any]] = Field(default_factory=dict)  # replace a named list
    tests: list[PackTest] = Field(default_factory=list)
