"""Compilers of the stateful rule kinds (absence, threshold, sequence), mixed into the pack
compiler of :mod:`fourin_rules.planner`, which provides ``expr``, ``scope``, ``predicate``,
``template``, ``check_types``, ``union_fields`` and ``_exemptions``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any

from fourin_rules.expr.nodes import Node
from fourin_rules.model import types as T
from fourin_rules.packs.schema import Rule
from fourin_rules.plan import RulePlan, SlotPlan, StepPlan
from fourin_rules.timeutil import parse_duration

AGGREGATES = ("count", "sum", "distinct", "median", "avg", "min", "max", "streak", "run_span")


def _split_aggregate(text: str) -> tuple[str, str]:
    text = text.strip()
    name, paren, rest = text.partition("(")
    if not paren or not rest.endswith(")"):
        return text, ""
    return name.strip(), rest[:-1].strip()


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


class StatefulKinds:
    """``_absence``, ``_threshold`` and ``_sequence`` of the pack compiler."""

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
        templates = self.messages(rule, scope, loc)
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
            compiled = self.when_predicate(rule, loc, params, type_name, fields)
            if compiled is None:
                continue
            pid, scope, _, subject, kind_expr = compiled
            preds.append(pid)
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
        templates = self.messages(rule, scope, loc)
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
                        routing=True,
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
        templates = self.messages(rule, scope, loc)
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
