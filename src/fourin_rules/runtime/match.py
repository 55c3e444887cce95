"""Match rules: one event is enough, unless an exemption covers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.expr import compile_predicate
from fourin_rules.findings import event_ref, make_finding
from fourin_rules.plan import RulePlan
from fourin_rules.runtime.base import Operator, event_end, raise_to, subjects_of

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor


@dataclass
class _Pending:
    decide_at: datetime
    event: Mapping[str, Any]
    variables: dict[str, Any]
    subject: str
    severity: str
    facts: dict[str, Any]
    kind: str | None = None


class MatchOperator(Operator):
    """One event satisfies ``when`` and no exemption covers it."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        assert rule.subject is not None
        self.subject = compile_predicate(rule.subject)
        self.escalations = [(compile_predicate(w), to) for w, to in rule.escalations]
        self.facts = [(name, compile_predicate(n)) for name, n in rule.facts]
        self.kind = compile_predicate(rule.subject_kind_expr) if rule.subject_kind_expr else None
        self.pending: list[_Pending] = []

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        variables = dict(hit.variables)
        for subject in subjects_of(self.subject(self.ctx(event, variables))):
            scoped = {**variables, "subject": subject}
            ctx = self.ctx(event, scoped)
            severity = self.rule.severity
            for when, to in self.escalations:
                if when(ctx):
                    severity = raise_to(severity, to)
            facts = {name: fn(ctx) for name, fn in self.facts}
            kind = self.kind(ctx) if self.kind else None
            item = _Pending(event_end(event), event, scoped, subject, severity, facts, kind)
            if self.rule.exemptions:
                self.pending.append(item)
            else:
                self._emit(item, "final")

    def _emit(self, item: _Pending, status: str) -> None:
        start, end = item.event["time"], event_end(item.event)
        if self.rule.exemptions:
            covering = self.proc.exemption(self.rule, item.subject, start, end)
            if covering is not None:
                return
        self.proc.emit(
            make_finding(
                self.rule,
                self.env,
                subject_id=item.subject,
                start=start,
                end=end,
                evidence=[event_ref(item.event)],
                ctx=self.ctx(item.event, item.variables),
                severity=item.severity,
                negative_evidence=self.exemption_note(),
                status=status,
                facts=item.facts,
                subject_kind=item.kind,
            )
        )

    def on_watermark(self, wm: datetime) -> None:
        if not self.pending:
            return
        due = [p for p in self.pending if p.decide_at < wm]
        if due:
            self.pending = [p for p in self.pending if p.decide_at >= wm]
            for item in due:
                self._emit(item, "final")

    def finish(self, horizon: datetime) -> None:
        for item in self.pending:
            self._emit(item, "final" if item.decide_at <= horizon else "provisional")
        self.pending.clear()
