"""Event-time operators: one per rule kind, shared by every backend.

An operator receives the hits of its rule's predicates in event-time order (the processor sorts
events before matching), keeps only the state some open period, window or sequence still needs,
and decides findings when the watermark says no earlier event can still arrive.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.expr import EvalContext, compile_predicate
from fourin_rules.findings import SEVERITY_ORDER, event_ref, make_finding
from fourin_rules.plan import RulePlan

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor

Ref = tuple[str, str]


def _subjects(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _end(event: Mapping[str, Any]) -> datetime:
    return event.get("end") or event["time"]


def _raise(severity: str, to: str) -> str:
    return to if SEVERITY_ORDER[to] > SEVERITY_ORDER[severity] else severity


class Operator:
    """Base: the rule, its compiled expressions, and the processor it reports to."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        self.rule = rule
        self.proc = proc
        self.env = proc.env
        self.params = dict(rule.params)
        self.lists = {k: tuple(v) for k, v in proc.plan.lists.get(rule.pack_id, {}).items()}

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def on_watermark(self, wm: datetime) -> None:
        """Decide what is due now that no event earlier than ``wm`` can arrive."""

    def finish(self, horizon: datetime) -> None:
        """The stream ended at ``horizon``: decide the rest (provisional where still open)."""

    def ctx(self, event: Mapping[str, Any], variables: Mapping[str, Any]) -> EvalContext:
        # Conditions had parameters and lists folded in; templates read them from here.
        return EvalContext(
            event=event, env=self.env, variables=variables, params=self.params, lists=self.lists
        )

    def exemption_note(self) -> list[str]:
        return [
            f"未找到覆盖该时段的{ex.label_zh} / no {ex.label_en} covering it"
            for ex in self.rule.exemptions
        ]


@dataclass
class _Pending:
    decide_at: datetime
    event: Mapping[str, Any]
    variables: dict[str, Any]
    subject: str
    severity: str
    facts: dict[str, Any]


class MatchOperator(Operator):
    """One event satisfies ``when`` and no exemption covers it."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        assert rule.subject is not None
        self.subject = compile_predicate(rule.subject)
        self.escalations = [(compile_predicate(w), to) for w, to in rule.escalations]
        self.facts = [(name, compile_predicate(n)) for name, n in rule.facts]
        self.pending: list[_Pending] = []

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        variables = dict(hit.variables)
        for subject in _subjects(self.subject(self.ctx(event, variables))):
            scoped = {**variables, "subject": subject}
            ctx = self.ctx(event, scoped)
            severity = self.rule.severity
            for when, to in self.escalations:
                if when(ctx):
                    severity = _raise(severity, to)
            facts = {name: fn(ctx) for name, fn in self.facts}
            item = _Pending(_end(event), event, scoped, subject, severity, facts)
            if self.rule.exemptions:
                self.pending.append(item)
            else:
                self._emit(item, "final")

    def _emit(self, item: _Pending, status: str) -> None:
        start, end = item.event["time"], _end(item.event)
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


class AbsenceOperator(Operator):
    """For every cadre on the roster and every period, expected events must be there."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        self.seen: dict[tuple[datetime, str, int], list[Ref]] = {}
        self.next_start: datetime | None = None
        self.recent: deque[datetime] = deque()  # starts of the last closed (counted) periods
        self.flagged: dict[str, deque[datetime]] = {}

    def period(self, t: datetime) -> tuple[datetime, datetime]:
        unit = "day" if self.rule.per in ("duty_day", "day") else self.rule.per
        return self.env.calendar.period_bounds(t, unit)

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        slot_index = role[1]
        slot = self.rule.slots[slot_index]
        local = self.env.local(event["time"])
        clock = local.time()
        if clock < slot.start or (slot.end is not None and clock >= slot.end):
            return
        start, _ = self.period(local)
        if self.next_start is not None and start < self.next_start:
            return  # that period is already decided
        for subject in _subjects(event.get(slot.who[event["type"]])):
            self.seen.setdefault((start, subject, slot_index), []).append(event_ref(event))

    def _ensure_start(self) -> bool:
        origin = self.proc.since or self.proc.first_time
        if self.next_start is None and origin is not None:
            self.next_start = self.period(origin)[0]
        return self.next_start is not None

    def on_watermark(self, wm: datetime) -> None:
        if not self._ensure_start():
            return
        while True:
            start, end = self.period(self.next_start)
            if end > wm:
                return
            self._close(start, end, "final")
            self.next_start = end

    def finish(self, horizon: datetime) -> None:
        if not self._ensure_start():
            return
        while self.next_start < horizon:
            start, end = self.period(self.next_start)
            self._close(start, end, "final" if end <= horizon else "provisional")
            self.next_start = end
        self.seen.clear()

    def _days(self, start: datetime, end: datetime) -> list[date]:
        cal = self.env.calendar
        first, last = cal.local_date(start), cal.local_date(end - timedelta(microseconds=1))
        if self.rule.per == "duty_day":
            return cal.duty_days_between(first, last)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def _close(self, start: datetime, end: datetime, status: str) -> None:
        days = self._days(start, end)
        if not days:
            self._forget(start)
            return
        roster: dict[str, dict[str, Any]] = {}
        for d in days:
            for a in self.env.roster(d):
                roster.setdefault(a["cadre_id"], a)
        self.recent.append(start)
        rep = self.rule.repeat_escalation
        while rep and len(self.recent) > rep[1]:
            self.recent.popleft()
        for subject in sorted(roster):
            self._decide(subject, roster[subject], start, end, days, status)
        self._forget(start)

    def _forget(self, start: datetime) -> None:
        for key in [k for k in self.seen if k[0] <= start]:
            del self.seen[key]

    def _slot_span(
        self, slot: Any, start: datetime, end: datetime, days: list[date]
    ) -> tuple[datetime, datetime]:
        if self.rule.per in ("duty_day", "day"):
            day_start, day_end = self.env.calendar.day_bounds(days[0])
            s = day_start.replace(hour=slot.start.hour, minute=slot.start.minute)
            e = (
                day_end
                if slot.end is None
                else day_start.replace(hour=slot.end.hour, minute=slot.end.minute)
            )
            return s, e
        return start, end

    def _decide(
        self,
        subject: str,
        assignment: dict[str, Any],
        start: datetime,
        end: datetime,
        days: list[date],
        status: str,
    ) -> None:
        present: list[Ref] = []
        missing = []
        for k, slot in enumerate(self.rule.slots):
            refs = self.seen.get((start, subject, k), [])
            if len(refs) >= slot.min_count:
                present.extend(refs)
                continue
            s, e = self._slot_span(slot, start, end, days)
            if self.proc.exemption(self.rule, subject, s, e) is not None:
                continue
            missing.append((slot, s, e, refs))
        if not missing:
            return
        severity = self.rule.severity
        rep = self.rule.repeat_escalation
        if rep:
            marks = self.flagged.setdefault(subject, deque())
            marks.append(start)
            window = set(self.recent)
            while marks and marks[0] not in window:
                marks.popleft()
            if len(marks) >= rep[0]:
                severity = _raise(severity, rep[2])
        day = days[0]
        negative = []
        for slot, _s, _e, refs in missing:
            found = f"，仅{len(refs)}条" if refs else ""
            negative.append(
                f"{day.isoformat()} {slot.label_zh}：未找到{found} / "
                f"{slot.label_en} on {day.isoformat()}: "
                f"{'only ' + str(len(refs)) if refs else 'none'} found (need {slot.min_count})"
            )
            present.extend(refs)
        negative.extend(self.exemption_note())
        variables = {
            "subject": subject,
            "assignment": assignment,
            "day": day,
            "period_start": start,
            "period_end": end,
            "missing": "、".join(m[0].label_zh for m in missing),
            "missing_en": "; ".join(m[0].label_en for m in missing),
        }
        self.proc.emit(
            make_finding(
                self.rule,
                self.env,
                subject_id=subject,
                start=start,
                end=end,
                evidence=present,
                ctx=self.ctx({}, variables),
                severity=severity,
                negative_evidence=negative,
                status=status,
                facts={
                    "missing": [m[0].name for m in missing],
                    "township_id": assignment.get("township_id"),
                },
            )
        )


def _aggregate(name: str, values: list[Any]) -> Any:
    if name == "count":
        return len(values)
    vals = [v for v in values if v is not None]
    if name == "distinct":
        return len({repr(v) for v in vals})
    if not vals:
        return None
    if name == "sum":
        return sum(vals)
    if name == "median":
        return statistics.median(vals)
    if name == "avg":
        return sum(vals) / len(vals)
    if name == "min":
        return min(vals)
    if name == "max":
        return max(vals)
    raise ValueError(name)  # pragma: no cover - the plan checks aggregate names


@dataclass
class _Entry:
    time: datetime
    ref: Ref
    inputs: list[Any]
    event: Mapping[str, Any] = field(repr=False)


class ThresholdOperator(Operator):
    """An aggregate per subject over a period or a sliding window passes a bound."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        assert rule.subject is not None and rule.having is not None
        self.subject = compile_predicate(rule.subject)
        self.inputs: list[Callable[[EvalContext], Any] | None] = [
            compile_predicate(arg) if arg is not None else None for _, _, arg in rule.values
        ]
        self.having = compile_predicate(rule.having)
        self.buckets: dict[tuple[datetime, datetime, str], list[_Entry]] = {}
        self.sliding: dict[str, deque[_Entry]] = {}
        self.last_fired: dict[str, datetime] = {}

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        ctx = self.ctx(event, hit.variables)
        inputs = [fn(ctx) if fn is not None else None for fn in self.inputs]
        for subject in _subjects(self.subject(ctx)):
            entry = _Entry(event["time"], event_ref(event), inputs, event)
            if self.rule.window == "sliding":
                self._slide(subject, entry)
            else:
                start, end = self.env.calendar.period_bounds(event["time"], self.rule.window)
                self.buckets.setdefault((start, end, subject), []).append(entry)

    def _values(self, entries: list[_Entry]) -> dict[str, Any]:
        return {
            name: _aggregate(agg, [e.inputs[i] for e in entries])
            for i, (name, agg, _) in enumerate(self.rule.values)
        }

    def _check(
        self, subject: str, entries: list[_Entry], start: datetime, end: datetime, status: str
    ) -> bool:
        values = self._values(entries)
        variables = {**values, "subject": subject, "window_start": start, "window_end": end}
        if not self.having(self.ctx({}, variables)):
            return False
        self.proc.emit(
            make_finding(
                self.rule,
                self.env,
                subject_id=subject,
                start=start,
                end=end,
                evidence=[e.ref for e in entries],
                ctx=self.ctx(entries[-1].event, variables),
                status=status,
                facts={k: v for k, v in values.items()},
            )
        )
        return True

    def _slide(self, subject: str, entry: _Entry) -> None:
        assert self.rule.sliding is not None
        window = self.sliding.setdefault(subject, deque())
        window.append(entry)
        floor = entry.time - self.rule.sliding
        fired = self.last_fired.get(subject)
        while window and (
            window[0].time <= floor or (fired is not None and window[0].time <= fired)
        ):
            window.popleft()
        if window and self._check(subject, list(window), window[0].time, entry.time, "final"):
            self.last_fired[subject] = entry.time
            window.clear()

    def on_watermark(self, wm: datetime) -> None:
        if self.rule.window == "sliding":
            self._evict(wm)
            return
        for key in sorted(k for k in self.buckets if k[1] <= wm):
            start, end, subject = key
            self._check(subject, self.buckets.pop(key), start, end, "final")

    def _evict(self, wm: datetime) -> None:
        assert self.rule.sliding is not None
        floor = wm - self.rule.sliding
        for subject in [s for s, w in self.sliding.items() if not w or w[-1].time <= floor]:
            del self.sliding[subject]
        for subject in [s for s, t in self.last_fired.items() if t <= floor]:
            del self.last_fired[subject]

    def finish(self, horizon: datetime) -> None:
        for key in sorted(self.buckets):
            start, end, subject = key
            self._check(
                subject, self.buckets[key], start, end, "final" if end <= horizon else "provisional"
            )
        self.buckets.clear()


@dataclass
class _Partial:
    events: list[Mapping[str, Any]]
    variables: dict[str, Any]
    start: datetime
    deadline: datetime
    next_step: int


class SequenceOperator(Operator):
    """Ordered steps on one key within a bound; a last ``absent`` step means "not followed by"."""

    MAX_PARTIALS_PER_KEY = 1000

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        self.keys = [
            {t: [compile_predicate(n) for n in nodes] for t, nodes in s.key.items()}
            for s in rule.steps
        ]
        self.wheres = [{t: compile_predicate(n) for t, n in s.where.items()} for s in rule.steps]
        self.by = [compile_predicate(s.by) if s.by is not None else None for s in rule.steps]
        assert rule.subject is not None
        self.subject = compile_predicate(rule.subject)
        self.partials: dict[tuple[Any, ...], list[_Partial]] = {}

    def _key(self, step: int, event: Mapping[str, Any]) -> tuple[Any, ...] | None:
        fns = self.keys[step].get(event["type"], [])
        ctx = self.ctx(event, {})
        key = tuple(fn(ctx) for fn in fns)
        return None if any(k is None for k in key) else key

    def _deadline(self, partial_vars: dict[str, Any], start: datetime, next_step: int) -> datetime:
        by = self.by[next_step] if next_step < len(self.by) else None
        if by is not None:
            value = by(self.ctx({}, partial_vars))
            if isinstance(value, datetime):
                return max(value, start)  # due before it was made: overdue from the start
        if self.rule.within is not None:
            return start + self.rule.within
        return start  # no bound could be computed: decide at once

    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        step = role[1]
        key = self._key(step, event)
        if key is None:
            return
        steps = self.rule.steps
        if step == 0:
            variables = {steps[0].alias: dict(event)}
            partial = _Partial([event], variables, event["time"], event["time"], 1)
            partial.deadline = self._deadline(variables, event["time"], 1)
            bucket = self.partials.setdefault(key, [])
            if len(bucket) < self.MAX_PARTIALS_PER_KEY:
                bucket.append(partial)
            return
        where = self.wheres[step].get(event["type"])
        remaining = []
        for partial in self.partials.get(key, []):
            last = partial.events[-1]
            if (
                partial.next_step != step
                or event["time"] < last["time"]
                or event is last
                or event["time"] > partial.deadline
            ):
                remaining.append(partial)
                continue
            if where is not None and not where(self.ctx(event, partial.variables)):
                remaining.append(partial)
                continue
            if steps[step].absent:
                continue  # followed after all: the partial is done, no finding
            partial.events.append(event)
            partial.variables[steps[step].alias] = dict(event)
            partial.next_step += 1
            if partial.next_step == len(steps):
                self._emit(partial, event["time"], [], "final")
            else:
                partial.deadline = min(
                    partial.deadline,
                    self._deadline(partial.variables, partial.start, partial.next_step),
                )
                remaining.append(partial)
        if remaining:
            self.partials[key] = remaining
        else:
            self.partials.pop(key, None)

    def _emit(self, partial: _Partial, end: datetime, negative: list[str], status: str) -> None:
        variables = {**partial.variables, "deadline": partial.deadline}
        for subject in _subjects(self.subject(self.ctx({}, variables))):
            self.proc.emit(
                make_finding(
                    self.rule,
                    self.env,
                    subject_id=subject,
                    start=partial.start,
                    end=end,
                    evidence=[event_ref(e) for e in partial.events],
                    ctx=self.ctx(partial.events[-1], {**variables, "subject": subject}),
                    negative_evidence=negative,
                    status=status,
                )
            )

    def _expire(self, limit: datetime, *, inclusive: bool, final_until: datetime | None) -> None:
        last = self.rule.steps[-1]
        for key in list(self.partials):
            keep = []
            for partial in self.partials[key]:
                due = partial.deadline <= limit if inclusive else partial.deadline < limit
                if not due:
                    keep.append(partial)
                    continue
                if last.absent and partial.next_step == len(self.rule.steps) - 1:
                    types = "/".join(sorted(self.rule.steps[-1].where or {"?": None}))
                    deadline = partial.deadline.isoformat(timespec="minutes")
                    negative = [
                        f"截至{deadline}未找到后续{types}记录 / no following {types} by {deadline}"
                    ]
                    status = (
                        "final"
                        if final_until is None or partial.deadline <= final_until
                        else "provisional"
                    )
                    self._emit(partial, partial.deadline, negative, status)
            if keep:
                self.partials[key] = keep
            else:
                del self.partials[key]

    def on_watermark(self, wm: datetime) -> None:
        self._expire(wm, inclusive=False, final_until=None)

    def finish(self, horizon: datetime) -> None:
        self._expire(horizon, inclusive=True, final_until=horizon)


OPERATORS: dict[str, type[Operator]] = {
    "match": MatchOperator,
    "absence": AbsenceOperator,
    "threshold": ThresholdOperator,
    "sequence": SequenceOperator,
}
