"""The plan: rule packs compiled to a backend-neutral IR.

Every condition is compiled (typed, names resolved, parameters and lists folded in) once, here.
A backend receives only the plan. Stateless tests of one event are :class:`Predicate` objects,
one per event type, so that a backend can index them by type; the stateful parts (absence
slots, threshold windows, sequence steps, exemptions) refer to predicates by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from fourin_rules.errors import ErrorCollector, FourinError
from fourin_rules.expr import Scope, compile_expr, compile_template, fold, to_source
from fourin_rules.expr.nodes import Node
from fourin_rules.expr.template import Template
from fourin_rules.model import types as T
from fourin_rules.model.events import EVENT_MODELS, event_field_types
from fourin_rules.packs.loader import Pack
from fourin_rules.packs.schema import Rule
from fourin_rules.packs.yamlpos import Marks
from fourin_rules.timeutil import parse_duration

PERIODS = ("duty_day", "day", "week", "calendar_month")
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


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, int | float):
        return T.NUMBER
    if isinstance(value, str):
        return T.STR
    if isinstance(value, list):
        inner = {_param_type(v) for v in value}
        return T.list_of(inner.pop() if len(inner) == 1 else T.ANY)
    return T.ANY


def _param_ref(value: Any, params: Mapping[str, Any]) -> Any:
    """``"params.x"`` -> the value of parameter x; anything else as it is."""
    if isinstance(value, str) and value.startswith("params."):
        return params[value.split(".", 1)[1]]
    return value


def _clock(text: str) -> time | None:
    hh, _, mm = str(text).partition(":")
    h, m = int(hh), int(mm or 0)
    if (h, m) == (24, 0):
        return None
    return time(h, m)


def _declared_types(packs: Sequence[Pack], errors: ErrorCollector) -> dict[str, dict[str, str]]:
    types: dict[str, dict[str, str]] = {name: event_field_types(name) for name in EVENT_MODELS}
    for pack in packs:
        for name, custom in pack.file.types.items():
            if name in EVENT_MODELS:
                errors.add(
                    pack.marks.error(
                        "pack-schema",
                        f"custom type {name!r} would replace a contract type",
                        ("types", name),
                        key=True,
                    )
                )
                continue
            base = {"type": T.STR, "id": T.STR, "time": T.TIME, "end": T.TIME, "source": T.STR}
            types[name] = {**base, **custom.fields}
    return types


class _Compiler:
    """Compiles the rules of one pack, collecting errors."""

    def __init__(
        self,
        pack: Pack,
        types: dict[str, dict[str, str]],
        predicates: list[Predicate],
        errors: ErrorCollector,
    ) -> None:
        self.pack = pack
        self.types = types
        self.predicates = predicates
        self.errors = errors
        self.marks: Marks = pack.marks
        self.lists = pack.lists
        self.list_types = {k: _param_type(v) for k, v in pack.lists.items()}
        self.records = {f"event:{name}": fields for name, fields in types.items()}

    # -- helpers -----------------------------------------------------------------------------
    def scope(
        self, fields: Mapping[str, str], variables: Mapping[str, str], params: Mapping[str, Any]
    ) -> Scope:
        from fourin_rules.expr.records import RECORD_SCHEMAS

        return Scope(
            fields=fields,
            variables=dict(variables),
            params={k: _param_type(v) for k, v in params.items()},
            lists=self.list_types,
            macros=self.pack.file.macros,
            records={**RECORD_SCHEMAS, **self.records},
        )

    def expr(
        self,
        text: str,
        scope: Scope,
        loc: tuple[Any, ...],
        params: Mapping[str, Any],
        expect: str | None = "bool",
    ) -> Node | None:
        span = self.marks.span(loc)
        try:
            node = compile_expr(str(text), scope, span, expect=expect)
        except FourinError as exc:
            if exc.source_line is None and exc.span is not None:
                exc.source_line = self.marks.source_line(exc.span)
            self.errors.add(exc)
            return None
        except Exception as exc:  # FourinErrors from the checker
            for e in getattr(exc, "errors", []):
                if e.source_line is None and e.span is not None:
                    e.source_line = self.marks.source_line(e.span)
                self.errors.add(e)
            if not getattr(exc, "errors", None):
                raise
            return None
        return fold(node, params, self.lists)

    def template(self, text: str, scope: Scope, loc: tuple[Any, ...]) -> Template | None:
        try:
            return compile_template(text, scope, self.marks.span(loc))
        except FourinError as exc:
            if exc.source_line is None and exc.span is not None:
                exc.source_line = self.marks.source_line(exc.span)
            self.errors.add(exc)
        except Exception as exc:
            if not getattr(exc, "errors", None):
                raise
            self.errors.extend(exc.errors)
        return None

    def union_fields(self, names: Sequence[str]) -> dict[str, str]:
        """The fields of several event types: a rule over ``[card_txn, reimbursement]`` may name
        a field of either (null on the other); a field typed differently becomes ``any``."""
        out: dict[str, str] = {}
        for name in names:
            for f, t in self.types.get(name, {}).items():
                out[f] = t if out.get(f, t) == t else T.ANY
        return out

    def check_types(self, names: Sequence[str], loc: tuple[Any, ...]) -> list[str]:
        from fourin_rules.errors import suggest

        ok = []
        for name in names:
            if name in self.types:
                ok.append(name)
            else:
                self.errors.add(
                    self.marks.error(
                        "unknown-event-type",
                        f"unknown event type {name!r}",
                        loc,
                        suggestion=suggest(name, self.types),
                    )
                )
        return ok

    def predicate(
        self,
        type_name: str,
        where: str,
        loc: tuple[Any, ...],
        params: Mapping[str, Any],
        variables: Mapping[str, str] | None = None,
        lets: Sequence[tuple[str, str, str]] = (),
        for_each: tuple[str, str, tuple[Any, ...]] | None = None,
        label: str = "",
        fields_override: Mapping[str, str] | None = None,
    ) -> int | None:
        """Compile a predicate over ``type_name`` and register it; returns its id."""
        fields = fields_override if fields_override is not None else self.types[type_name]
        variables = dict(variables or {})
        each = None
        if for_each is not None:
            var, list_text, list_loc = for_each
            node = self.expr(
                list_text, self.scope(fields, variables, params), list_loc, params, expect=None
            )
            if node is None:
                return None
            if not T.is_list(node.type):
                self.errors.add(
                    self.marks.error(
                        "expr-type", f"for_each needs a list, got {node.type}", list_loc
                    )
                )
                return None
            variables[var] = T.element_type(node.type)
            each = (var, node)
        compiled_lets = []
        for name, text, let_loc in lets:
            node = self.expr(
                text, self.scope(fields, variables, params), let_loc, params, expect=None
            )
            if node is None:
                return None
            variables[name] = node.type
            compiled_lets.append((name, node))
        cond = self.expr(where, self.scope(fields, variables, params), loc, params)
        if cond is None:
            return None
        pid = len(self.predicates)
        rule_id = label.split(" ", 1)[0]
        self.predicates.append(
            Predicate(pid, type_name, cond, each, tuple(compiled_lets), label, rule_id)
        )
        return pid

    # -- rules ---------------------------------------------------------------------------------
    def rule(self, index: int, rule: Rule) -> RulePlan | None:
        loc = ("rules", index)
        params = self.pack.params.get(rule.id, dict(rule.params))
        before = len(self.errors.errors)
        common: dict[str, Any] = {
            "rule_id": rule.id,
            "pack_id": self.pack.id,
            "pack_version": self.pack.version,
            "clause": rule.clause,
            "kind": rule.kind,
            "title": (rule.title.zh, rule.title.en),
            "severity": self.pack.severity.get(rule.id, rule.severity),
            "needs_review": rule.needs_review,
            "tags": tuple(rule.tags),
            "params": dict(params),
            "subject_kind": rule.subject.kind if rule.subject.kind in SUBJECT_KINDS else "cadre",
        }
        build = getattr(self, f"_{rule.kind}")
        plan = build(rule, loc, params, common)
        if len(self.errors.errors) > before:
            return None
        return plan

    def _subject_kind(
        self, rule: Rule, scope: Scope, loc: tuple[Any, ...], params: Mapping[str, Any]
    ) -> Node | None:
        """The subject kind as an expression, when it is not one of the literal kinds."""
        if rule.subject.kind in SUBJECT_KINDS:
            return None
        return self.expr(rule.subject.kind, scope, (*loc, "subject", "kind"), params, expect=None)

    def _exemptions(
        self, rule: Rule, loc: tuple[Any, ...], params: Mapping[str, Any]
    ) -> tuple[ExemptionPlan, ...]:
        out = []
        for i, ex in enumerate(rule.unless):
            ex_loc = (*loc, "unless", i)
            preds, who = [], {}
            for type_name in self.check_types(ex.on, (*ex_loc, "on")):
                fields = self.types[type_name]
                if ex.who not in fields:
                    from fourin_rules.errors import suggest

                    self.errors.add(
                        self.marks.error(
                            "unknown-field",
                            f"{type_name} has no field {ex.who!r}",
                            (*ex_loc, "who"),
                            suggestion=suggest(ex.who, fields),
                        )
                    )
                    continue
                pid = self.predicate(
                    type_name,
                    ex.where,
                    (*ex_loc, "where"),
                    params,
                    label=f"{rule.id} exemption {type_name}",
                )
                if pid is not None:
                    preds.append(pid)
                    who[type_name] = ex.who
            names = "/".join(ex.on)
            label = ex.label or None
            out.append(
                ExemptionPlan(
                    tuple(preds),
                    who,
                    label.zh if label else f"{names}({ex.where})",
                    label.en if label else f"{names} where {ex.where}",
                )
            )
        return tuple(out)

    def _match(
        self, rule: Rule, loc: tuple[Any, ...], params: Mapping[str, Any], common: dict[str, Any]
    ) -> RulePlan | None:
        preds = []
        subject = None
        escalations: list[tuple[Node, str]] = []
        facts: list[tuple[str, Node]] = []
        templates: tuple[Template | None, Template | None] = (None, None)
        kind_expr = None
        fields = self.union_fields(rule.on)
        for type_name in self.check_types(rule.on, (*loc, "on")):
            for_each = None
            variables: dict[str, str] = {}
            if rule.for_each:
                for_each = (rule.for_each.var, rule.for_each.in_, (*loc, "for_each", "in"))
            lets = [(name, text, (*loc, "let", name)) for name, text in rule.let.items()]
            pid = self.predicate(
                type_name,
                rule.when,
                (*loc, "when"),
                params,
                variables,
                lets,
                for_each,
                label=f"{rule.id} on {type_name}",
                fields_override=fields,
            )
            if pid is None:
                continue
            preds.append(pid)
            p = self.predicates[pid]
            variables = {n: e.type for n, e in p.lets}
            if p.for_each:
                variables[p.for_each[0]] = T.element_type(p.for_each[1].type)
            scope = self.scope(fields, variables, params)
            subject = self.expr(
                rule.subject.id, scope, (*loc, "subject", "id"), params, expect=None
            )
            kind_expr = self._subject_kind(rule, scope, loc, params)
            scope_s = self.scope(fields, {**variables, "subject": T.STR}, params)
            escalations = [
                (node, esc.to)
                for j, esc in enumerate(rule.escalate)
                if (node := self.expr(esc.when, scope_s, (*loc, "escalate", j, "when"), params))
                is not None
            ]
            facts = [
                (name, node)
                for name, text in rule.facts.items()
                if (node := self.expr(text, scope_s, (*loc, "facts", name), params, expect=None))
                is not None
            ]
            templates = (
                self.template(rule.message.zh, scope_s, (*loc, "message", "zh")),
                self.template(rule.message.en, scope_s, (*loc, "message", "en")),
            )
        if None in templates or subject is None:
            return None
        return RulePlan(
            **common,
            message=templates,
            subject=subject,
            predicates=tuple(preds),
            exemptions=self._exemptions(rule, loc, params),
            escalations=tuple(escalations),
            facts=tuple(facts),
            subject_kind_expr=kind_expr,
        )

    def _absence(
        self, rule: Rule, loc: tuple[Any, ...], params: Mapping[str, Any], common: dict[str, Any]
    ) -> RulePlan | None:
        slots = []
        for i, slot in enumerate(rule.expect):
            s_loc = (*loc, "expect", i)
            preds, who = [], {}
            for j, src in enumerate(slot.any_of):
                src_loc = (*s_loc, "any_of", j)
                fields = self.union_fields(src.on)
                for type_name in self.check_types(src.on, (*src_loc, "on")):
                    who_field = src.who or "cadre_id"
                    if who_field not in fields:
                        from fourin_rules.errors import suggest

                        self.errors.add(
                            self.marks.error(
                                "unknown-field",
                                f"{type_name} has no field {who_field!r}",
                                (*src_loc, "on"),
                                suggestion=suggest(who_field, fields),
                            )
                        )
                        continue
                    lets = [("assignment", f"assignment({who_field}, time)", (*src_loc, "where"))]
                    pid = self.predicate(
                        type_name,
                        src.where,
                        (*src_loc, "where"),
                        params,
                        lets=lets,
                        label=f"{rule.id} slot {slot.name} {type_name}",
                        fields_override=fields,
                    )
                    if pid is not None:
                        preds.append(pid)
                        who[type_name] = who_field
            try:
                start, end = (_clock(_param_ref(b, params)) for b in slot.between)
            except (ValueError, KeyError):
                self.errors.add(
                    self.marks.error(
                        "pack-schema", "between takes two HH:MM times", (*s_loc, "between")
                    )
                )
                continue
            label = slot.label
            srcs = "/".join(t for s in slot.any_of for t in s.on)
            slots.append(
                SlotPlan(
                    slot.name,
                    start or time(0),
                    end,
                    slot.min_count,
                    tuple(preds),
                    who,
                    label.zh if label else f"{slot.between[0]}-{slot.between[1]}的{srcs}",
                    label.en
                    if label
                    else f"{srcs} between {slot.between[0]} and {slot.between[1]}",
                )
            )
        variables = {
            "subject": T.STR,
            "assignment": "record:assignment",
            "day": T.DATE,
            "period_start": T.TIME,
            "period_end": T.TIME,
            "missing": T.STR,
            "missing_en": T.STR,
        }
        scope = self.scope({}, variables, params)
        templates = (
            self.template(rule.message.zh, scope, (*loc, "message", "zh")),
            self.template(rule.message.en, scope, (*loc, "message", "en")),
        )
        if None in templates:
            return None
        rep = rule.escalate_repeats
        if rep:
            try:
                rep_plan = (
                    int(_param_ref(rep.count, params)),
                    int(_param_ref(rep.within, params)),
                    rep.to,
                )
            except (KeyError, ValueError):
                self.errors.add(
                    self.marks.error(
                        "unknown-param",
                        "escalate_repeats names an unknown parameter",
                        (*loc, "escalate_repeats"),
                    )
                )
                return None
        return RulePlan(
            **{**common, "subject_kind": "cadre"},
            message=templates,
            subject=None,
            per=rule.per,
            slots=tuple(slots),
            exemptions=self._exemptions(rule, loc, params),
            repeat_escalation=rep_plan if rep else None,
        )

    def _window(
        self, rule: Rule, loc: tuple[Any, ...]
    ) -> tuple[str, timedelta | None, timedelta | None] | None:
        """(kind, size, step): day/week/calendar_month; sliding:<d>; hopping:<size>:<step>."""
        window = str(rule.window)
        try:
            if window.startswith("sliding:"):
                return "sliding", parse_duration(window.split(":", 1)[1].strip()), None
            if window.startswith("hopping:"):
                _, size, step = window.split(":")
                size_d, step_d = parse_duration(size.strip()), parse_duration(step.strip())
                if step_d <= timedelta(0) or size_d < step_d:
                    raise ValueError("hopping:<size>:<step> needs 0 < step <= size")
                return "hopping", size_d, step_d
        except ValueError as exc:
            self.errors.add(self.marks.error("pack-schema", f"window: {exc}", (*loc, "window")))
            return None
        if window in ("day", "week", "calendar_month"):
            return window, None, None
        self.errors.add(
            self.marks.error(
                "pack-schema",
                "window must be day, week, calendar_month, sliding:<duration> or "
                "hopping:<size>:<step>",
                (*loc, "window"),
            )
        )
        return None

    def _threshold(
        self, rule: Rule, loc: tuple[Any, ...], params: Mapping[str, Any], common: dict[str, Any]
    ) -> RulePlan | None:
        shape = self._window(rule, loc)
        if shape is None:
            return None
        window, size, step = shape
        if rule.roster and window in ("sliding",):
            self.errors.add(
                self.marks.error(
                    "pack-schema", "a roster needs a tumbling or hopping window", (*loc, "roster")
                )
            )
            return None
        preds = []
        subject = None
        kind_expr = None
        values: list[tuple[str, str, Node | None]] = []
        value_types: dict[str, str] = {}
        fields = self.union_fields(rule.on)
        for type_name in self.check_types(rule.on, (*loc, "on")):
            lets = [(name, text, (*loc, "let", name)) for name, text in rule.let.items()]
            for_each = None
            if rule.for_each:
                for_each = (rule.for_each.var, rule.for_each.in_, (*loc, "for_each", "in"))
            pid = self.predicate(
                type_name,
                rule.when,
                (*loc, "when"),
                params,
                lets=lets,
                for_each=for_each,
                label=f"{rule.id} on {type_name}",
                fields_override=fields,
            )
            if pid is None:
                continue
            preds.append(pid)
            p = self.predicates[pid]
            variables = {n: e.type for n, e in p.lets}
            if p.for_each:
                variables[p.for_each[0]] = T.element_type(p.for_each[1].type)
            scope = self.scope(fields, variables, params)
            subject = self.expr(
                rule.subject.id, scope, (*loc, "subject", "id"), params, expect=None
            )
            kind_expr = self._subject_kind(rule, scope, loc, params)
            values = []
            for name, text in rule.values.items():
                agg, arg = _split_aggregate(str(text))
                if agg not in AGGREGATES:
                    from fourin_rules.errors import suggest

                    self.errors.add(
                        self.marks.error(
                            "unknown-function",
                            f"unknown aggregate {agg!r}",
                            (*loc, "values", name),
                            suggestion=suggest(agg, AGGREGATES),
                        )
                    )
                    continue
                node = None
                if arg:
                    node = self.expr(arg, scope, (*loc, "values", name), params, expect=None)
                    if node is None:
                        continue
                elif agg != "count":
                    self.errors.add(
                        self.marks.error(
                            "expr-arity", f"{agg}() needs an argument", (*loc, "values", name)
                        )
                    )
                    continue
                values.append((name, agg, node))
                value_types[name] = (
                    node.type if agg in ("min", "max") and node is not None else T.NUMBER
                )
        variables = {name: value_types.get(name, T.NUMBER) for name in rule.values}
        having = self.expr(
            str(rule.having),
            self.scope({}, {**variables, "subject": T.STR}, params),
            (*loc, "having"),
            params,
        )
        tvars = {**variables, "subject": T.STR, "window_start": T.TIME, "window_end": T.TIME}
        scope = self.scope({}, tvars, params)
        templates = (
            self.template(rule.message.zh, scope, (*loc, "message", "zh")),
            self.template(rule.message.en, scope, (*loc, "message", "en")),
        )
        if None in templates or having is None or subject is None:
            return None
        return RulePlan(
            **common,
            message=templates,
            subject=subject,
            predicates=tuple(preds),
            exemptions=self._exemptions(rule, loc, params),
            window=window,
            sliding=size if window == "sliding" else None,
            hop_size=size if window == "hopping" else None,
            hop_step=step,
            roster=rule.roster,
            subject_kind_expr=kind_expr,
            values=tuple(values),
            having=having,
        )

    def _sequence(
        self, rule: Rule, loc: tuple[Any, ...], params: Mapping[str, Any], common: dict[str, Any]
    ) -> RulePlan | None:
        steps: list[StepPlan] = []
        variables: dict[str, str] = {}
        for i, step in enumerate(rule.steps):
            s_loc = (*loc, "steps", i)
            preds: list[int] = []
            wheres: dict[str, Node] = {}
            keys: dict[str, tuple[Node, ...]] = {}
            for type_name in self.check_types(step.on, (*s_loc, "on")):
                fields = self.types[type_name]
                scope = self.scope(fields, {}, params)
                key_nodes = tuple(
                    n
                    for j, k in enumerate(rule.key)
                    if (n := self.expr(k, scope, (*loc, "key", j), params, expect=None)) is not None
                )
                keys[type_name] = key_nodes
                if i == 0:
                    pid = self.predicate(
                        type_name,
                        step.where,
                        (*s_loc, "where"),
                        params,
                        label=f"{rule.id} step {step.as_} {type_name}",
                    )
                else:
                    node = self.expr(
                        step.where, self.scope(fields, variables, params), (*s_loc, "where"), params
                    )
                    if node is not None:
                        wheres[type_name] = node
                    pid = self.predicate(
                        type_name,
                        "true",
                        (*s_loc, "on"),
                        params,
                        label=f"{rule.id} step {step.as_} {type_name}",
                    )
                if pid is not None:
                    preds.append(pid)
            by = None
            if step.by:
                by = self.expr(
                    step.by, self.scope({}, variables, params), (*s_loc, "by"), params, expect=None
                )
                if by is not None and by.type not in (T.TIME, T.ANY):
                    self.errors.add(
                        self.marks.error(
                            "expr-type", f"by must be a time, got {by.type}", (*s_loc, "by")
                        )
                    )
            if step.absent and not step.by and not rule.within:
                self.errors.add(
                    self.marks.error(
                        "pack-schema", "an absent step needs `by` or the rule's `within`", s_loc
                    )
                )
            steps.append(StepPlan(step.as_, tuple(preds), step.absent, by, wheres, keys))
            if len(step.on) == 1:
                variables[step.as_] = f"record:event:{step.on[0]}"
            else:  # a step over several types: a record with the fields of any of them
                kind = "event:" + "+".join(step.on)
                self.records[kind] = self.union_fields(step.on)
                variables[step.as_] = f"record:{kind}"
        within = None
        if rule.within:
            try:
                within = parse_duration(rule.within)
            except ValueError as exc:
                self.errors.add(self.marks.error("pack-schema", f"within: {exc}", (*loc, "within")))
        present = dict(variables)
        if rule.steps[-1].absent:
            present.pop(rule.steps[-1].as_, None)
        scope = self.scope(
            {}, {**present, "subject": T.STR, "deadline": T.TIME, "key": T.STR}, params
        )
        subject = self.expr(
            rule.subject.id,
            self.scope({}, {**present, "key": T.STR}, params),
            (*loc, "subject", "id"),
            params,
            expect=None,
        )
        templates = (
            self.template(rule.message.zh, scope, (*loc, "message", "zh")),
            self.template(rule.message.en, scope, (*loc, "message", "en")),
        )
        if None in templates or subject is None:
            return None
        return RulePlan(
            **common,
            message=templates,
            subject=subject,
            steps=tuple(steps),
            within=within,
            consecutive=rule.consecutive,
        )


AGGREGATES = ("count", "sum", "distinct", "median", "avg", "min", "max", "streak")


def _split_aggregate(text: str) -> tuple[str, str]:
    text = text.strip()
    name, paren, rest = text.partition("(")
    if not paren or not rest.endswith(")"):
        return text, ""
    return name.strip(), rest[:-1].strip()


def build_plan(packs: Sequence[Pack]) -> Plan:
    """Compile the active rules of ``packs`` into a plan; all errors are collected, then raised."""
    errors = ErrorCollector()
    types = _declared_types(packs, errors)
    predicates: list[Predicate] = []
    rules: list[RulePlan] = []
    for pack in packs:
        compiler = _Compiler(pack, types, predicates, errors)
        for i, rule in enumerate(pack.file.rules):
            if not rule.enabled or rule.id in pack.disabled:
                continue
            plan = compiler.rule(i, rule)
            if plan is not None:
                rules.append(plan)
    errors.raise_if_any()
    return Plan(
        rules=tuple(rules),
        predicates=tuple(predicates),
        event_types=types,
        lists={p.id: p.lists for p in packs},
    )
