"""The plan: rule packs compiled to a backend-neutral IR (the compiler is :mod:`.planner`).

Every condition is compiled (typed, names resolved, parameters and lists folded in) once.
A backend receives only the plan. Stateless tests of one event are :class:`Predicate` objects,
one per event type, so that a backend can index them by type; the stateful parts (absence
slots, threshold windows, sequence steps, exemptions) refer to predicates by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from fourin_rules.expr import to_source
from fourin_rules.expr.nodes import Node
from fourin_rules.expr.template import Template

if TYPE_CHECKING:
    from fourin_rules.packs.loader import Pack

SUBJECT_KINDS = ("cadre", "group", "township")


@dataclass(frozen=True)
class Predicate:
    """A stateless test of one event of one type: bind ``lets`` (and the ``for_each`` element),
    then test ``where``. Backends evaluate these; everything else is event-time state."""

    id: int
    type: str
    where: Node
    for_each: tuple[str, Node] | None = None
    lets: tuple[tuple[str, Node], ...] = ()
    label: str = ""
    rule_id: str = ""
    routing: bool = False  # only routes events of the type to a sequence step (tested there)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "for_each": [self.for_each[0], to_source(self.for_each[1])] if self.for_each else None,
            "lets": [[n, to_source(e)] for n, e in self.lets],
            "where": to_source(self.where),
            "label": self.label,
        }


@dataclass(frozen=True)
class ExemptionPlan:
    """Events that excuse a finding: predicate ids (one per type) and the field naming who."""

    predicates: tuple[int, ...]
    who: dict[str, str]  # event type -> field holding the cadre id (str or list[str])
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class SlotPlan:
    name: str
    start: time
    end: time | None  # None = 24:00
    min_count: int
    predicates: tuple[int, ...]
    who: dict[str, str]  # event type -> subject field
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class StepPlan:
    """A sequence step. Step 0 is fully tested by its predicates; later steps refer to earlier
    aliases, so their predicates only route events of the type and ``where`` (per type) is
    tested by the sequence operator with the aliases bound."""

    alias: str
    predicates: tuple[int, ...]
    absent: bool
    by: Node | None  # deadline (time) for an absent step
    where: Mapping[str, Node] = field(default_factory=dict)  # event type -> condition (steps >= 1)
    key: Mapping[str, tuple[Node, ...]] = field(
        default_factory=dict
    )  # event type -> key expressions


@dataclass(frozen=True)
class RulePlan:
    """One rule, compiled."""

    rule_id: str
    pack_id: str
    pack_version: str
    clause: str
    kind: str
    title: tuple[str, str]
    message: tuple[Template, Template]
    severity: str
    needs_review: bool
    tags: tuple[str, ...]
    params: Mapping[str, Any]
    subject_kind: str
    subject: Node | None  # expression giving the subject id (match, threshold)
    subject_kind_expr: Node | None = None  # when the kind depends on the event
    predicates: tuple[int, ...] = ()  # match/threshold sources
    exemptions: tuple[ExemptionPlan, ...] = ()
    escalations: tuple[tuple[Node, str], ...] = ()
    facts: tuple[tuple[str, Node], ...] = ()
    # absence
    per: str | None = None
    slots: tuple[SlotPlan, ...] = ()
    repeat_escalation: tuple[int, int, str] | None = None  # (count, within periods, to)
    # threshold
    window: str | None = None  # day | week | calendar_month | sliding | hopping
    sliding: timedelta | None = None
    hop_size: timedelta | None = None
    hop_step: timedelta | None = None
    roster: str | None = None  # threshold: judge every group/cadre, with or without events
    values: tuple[tuple[str, str, Node | None], ...] = ()  # (name, aggregate, argument)
    having: Node | None = None
    # sequence
    steps: tuple[StepPlan, ...] = ()
    within: timedelta | None = None
    consecutive: bool = False

    def all_predicates(self) -> set[int]:
        """The ids of every predicate the rule tests: its own, its slots', steps' and
        exemptions'."""
        wanted = set(self.predicates)
        for part in (*self.slots, *self.steps, *self.exemptions):
            wanted.update(part.predicates)
        return wanted

    def to_json(self) -> dict[str, Any]:
        """A readable summary of the compiled rule (for `explain` and debugging)."""
        return {
            "rule_id": self.rule_id,
            "pack": {"id": self.pack_id, "version": self.pack_version},
            "kind": self.kind,
            "clause": self.clause,
            "severity": self.severity,
            "needs_review": self.needs_review,
            "params": dict(self.params),
            "predicates": list(self.predicates),
            "subject": to_source(self.subject) if self.subject is not None else None,
            "escalations": [[to_source(w), s] for w, s in self.escalations],
            "per": self.per,
            "window": self.window,
            "having": to_source(self.having) if self.having is not None else None,
        }


@dataclass(frozen=True)
class Plan:
    rules: tuple[RulePlan, ...]
    predicates: tuple[Predicate, ...]
    event_types: Mapping[str, Mapping[str, str]]
    lists: Mapping[str, Mapping[str, list[Any]]] = field(default_factory=dict)  # pack -> lists

    def predicates_by_type(self) -> dict[str, list[Predicate]]:
        out: dict[str, list[Predicate]] = {}
        for p in self.predicates:
            out.setdefault(p.type, []).append(p)
        return out

    def rule(self, rule_id: str) -> RulePlan:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self.rules],
            "predicates": [p.to_json() for p in self.predicates],
        }


def build_plan(packs: Sequence[Pack]) -> Plan:
    """Compile the active rules of ``packs`` into a plan; all errors are collected, then raised."""
    from fourin_rules.planner import compile_packs

    return compile_packs(packs)
