"""The compiler from rule packs to the plan: names resolved, types checked against the data
contract, parameters and lists folded in, every error collected with its file position."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fourin_rules.errors import ErrorCollector, FourinError
from fourin_rules.expr import Scope, compile_expr, compile_template, fold
from fourin_rules.expr.nodes import Node
from fourin_rules.expr.template import Template
from fourin_rules.model import types as T
from fourin_rules.model.events import EVENT_MODELS, event_field_types
from fourin_rules.packs.loader import Pack
from fourin_rules.packs.schema import Rule
from fourin_rules.packs.yamlpos import Marks
from fourin_rules.plan import (
    SUBJECT_KINDS,
    ExemptionPlan,
    Plan,
    Predicate,
    RulePlan,
)
from fourin_rules.planner_kinds import StatefulKinds


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


class _Compiler(StatefulKinds):
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

    def messages(
        self, rule: Rule, scope: Scope, loc: tuple[Any, ...]
    ) -> tuple[Template | None, Template | None]:
        """The rule's Chinese and English message templates, compiled in ``scope``."""
        return (
            self.template(rule.message.zh, scope, (*loc, "message", "zh")),
            self.template(rule.message.en, scope, (*loc, "message", "en")),
        )

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
        routing: bool = False,
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
            Predicate(pid, type_name, cond, each, tuple(compiled_lets), label, rule_id, routing)
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

    def when_predicate(
        self,
        rule: Rule,
        loc: tuple[Any, ...],
        params: Mapping[str, Any],
        type_name: str,
        fields: Mapping[str, str],
    ) -> tuple[int, Scope, dict[str, str], Node | None, Node | None] | None:
        """Compile ``rule.when`` over one event type, with the rule's ``let`` and ``for_each``,
        and the subject (id and kind) in that scope; returns the predicate id, the scope (with
        those variables) for what follows, the variables, the subject and the kind."""
        for_each = None
        if rule.for_each:
            for_each = (rule.for_each.var, rule.for_each.in_, (*loc, "for_each", "in"))
        lets = [(name, text, (*loc, "let", name)) for name, text in rule.let.items()]
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
            return None
        p = self.predicates[pid]
        variables = {n: e.type for n, e in p.lets}
        if p.for_each:
            variables[p.for_each[0]] = T.element_type(p.for_each[1].type)
        scope = self.scope(fields, variables, params)
        subject = self.expr(rule.subject.id, scope, (*loc, "subject", "id"), params, expect=None)
        return pid, scope, variables, subject, self._subject_kind(rule, scope, loc, params)

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
            compiled = self.when_predicate(rule, loc, params, type_name, fields)
            if compiled is None:
                continue
            pid, _, variables, subject, kind_expr = compiled
            preds.append(pid)
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
            templates = self.messages(rule, scope_s, loc)
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


def compile_packs(packs: Sequence[Pack]) -> Plan:
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
