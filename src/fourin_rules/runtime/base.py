"""The base of the event-time operators: one per rule kind, shared by every backend.

An operator receives the hits of its rule's predicates in event-time order (the processor sorts
events before matching), keeps only the state some open period, window or sequence still needs,
and decides findings when the watermark says no earlier event can still arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.expr import EvalContext
from fourin_rules.findings import SEVERITY_ORDER
from fourin_rules.plan import RulePlan

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor

Ref = tuple[str, str]


def subjects_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def event_end(event: Mapping[str, Any]) -> datetime:
    return event.get("end") or event["time"]


def covers(ex_start: datetime, ex_end: datetime, start: datetime, end: datetime) -> bool:
    """An exempting record [ex_start, ex_end] covers [start, end]: holds the instant when
    ``start == end``, else overlaps the span."""
    if start == end:
        return ex_start <= start <= ex_end
    return ex_start < end and ex_end > start


def raise_to(severity: str, to: str) -> str:
    return to if SEVERITY_ORDER[to] > SEVERITY_ORDER[severity] else severity


class RuleScope:
    """A rule with what its expressions and templates see: parameters, lists, the env.

    Shared by the event-time operators and the columnar backend's deciders, so both render the
    same messages from the same context."""

    def __init__(self, rule: RulePlan, env: Any, lists: Mapping[str, Any]) -> None:
        self.rule = rule
        self.env = env
        self.params = dict(rule.params)
        self.lists = {k: tuple(v) for k, v in lists.get(rule.pack_id, {}).items()}

    def ctx(self, event: Mapping[str, Any], variables: Mapping[str, Any]) -> EvalContext:
        # Conditions had parameters and lists folded in; templates read them from here.
        return EvalContext(event, self.env, variables, self.params, self.lists)

    def exemption_note(self) -> list[str]:
        return [
            f"未找到覆盖该时段的{ex.label_zh} / no {ex.label_en} covering it"
            for ex in self.rule.exemptions
        ]


class Operator(RuleScope):
    """Base: the rule, its compiled expressions, and the processor it reports to."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc.env, proc.plan.lists)
        self.proc = proc

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def on_watermark(self, wm: datetime) -> None:
        """Decide what is due now that no event earlier than ``wm`` can arrive."""

    def finish(self, horizon: datetime) -> None:
        """The stream ended at ``horizon``: decide the rest (provisional where still open)."""
