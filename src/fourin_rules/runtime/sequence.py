"""Sequence rules: ordered steps on one key within a bound.

A last ``absent`` step means "not followed by": the finding comes when its deadline passes. With
``consecutive: true`` each step is tested only against the key's previous event (e.g. the speed
between two consecutive sightings of a cadre). A key expression that gives a list keys the event
under each element (a data request to several townships).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.expr import compile_predicate
from fourin_rules.findings import event_ref, make_finding
from fourin_rules.plan import RulePlan
from fourin_rules.runtime.base import Operator, subjects_of

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor


@dataclass(slots=True)
class _Partial:
    events: list[Mapping[str, Any]]
    variables: dict[str, Any]
    start: datetime
    deadline: datetime
    next_step: int
    key: tuple[Any, ...] = ()
    alive: bool = True


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
        # Deadlines in a heap, so deciding looks only at what is due (stale entries skipped).
        self._due: list[tuple[datetime, int, _Partial]] = []
        self._seq = itertools.count()
        self.partials: dict[tuple[Any, ...], list[_Partial]] = {}

    def _keys(self, step: int, event: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The event's keys: one, or one per element where a key expression gives a list."""
        fns = self.keys[step].get(event["type"], [])
        ctx = self.ctx(event, {})
        if len(fns) == 1:  # the common case, without the product
            value = fns[0](ctx)
            if value is None:
                return []
            if isinstance(value, list | tuple):
                return [(v,) for v in sorted(set(value))]
            return [(value,)]
        parts = []
        for fn in fns:
            value = fn(ctx)
            if value is None:
                return []
            parts.append(sorted(set(value)) if isinstance(value, list | tuple) else [value])
        return [tuple(p) for p in itertools.product(*parts)]

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
        for key in self._keys(step, event):
            self._advance(step, key, event)

    def _track(self, partial: _Partial) -> None:
        heapq.heappush(self._due, (partial.deadline, next(self._seq), partial))

    def _advance(self, step: int, key: tuple[Any, ...], event: Mapping[str, Any]) -> None:
        steps = self.rule.steps
        if step == 0:
            variables = {steps[0].alias: dict(event), "key": key[0] if key else None}
            partial = _Partial([event], variables, event["time"], event["time"], 1, key)
            partial.deadline = self._deadline(variables, event["time"], 1)
            if self.rule.consecutive:
                for old in self.partials.get(key, ()):
                    old.alive = False
                self.partials[key] = [partial]  # only the key's latest event can start a step
                self._track(partial)
                return
            bucket = self.partials.setdefault(key, [])
            if len(bucket) < self.MAX_PARTIALS_PER_KEY:
                bucket.append(partial)
                self._track(partial)
            return
        bucket = self.partials.get(key)
        if bucket is None:
            return
        where = self.wheres[step].get(event["type"])
        # One context for the event; each partial's variables are swapped in (where a fresh
        # context per partial would hold the same values).
        ctx = self.ctx(event, {})
        time = event["time"]
        last_step = len(steps)
        remaining = []
        for partial in bucket:
            # Past its deadline first: the most common reason to pass over a partial.
            if time > partial.deadline or partial.next_step != step:
                remaining.append(partial)
                continue
            last = partial.events[-1]
            if time < last["time"] or event is last:
                remaining.append(partial)
                continue
            if where is not None:
                ctx.variables = partial.variables
                if not where(ctx):
                    remaining.append(partial)
                    continue
            partial.alive = False
            if steps[step].absent:
                continue  # followed after all: the partial is done, no finding
            partial.events.append(event)
            partial.variables[steps[step].alias] = dict(event)
            partial.next_step += 1
            if partial.next_step == last_step:
                self._emit(partial, time, [], "final")
            else:
                partial.alive = True
                deadline = self._deadline(partial.variables, partial.start, partial.next_step)
                if deadline < partial.deadline:
                    partial.deadline = deadline
                    self._track(partial)
                remaining.append(partial)
        if remaining:
            self.partials[key] = remaining
        else:
            self.partials.pop(key, None)

    def _emit(self, partial: _Partial, end: datetime, negative: list[str], status: str) -> None:
        variables = {**partial.variables, "deadline": partial.deadline}
        for subject in subjects_of(self.subject(self.ctx({}, variables))):
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
        while self._due:
            deadline, _, partial = self._due[0]
            if deadline > limit or (deadline == limit and not inclusive):
                return
            heapq.heappop(self._due)
            if not partial.alive or partial.deadline != deadline:
                continue  # finished, replaced, or given an earlier deadline since
            partial.alive = False
            bucket = self.partials.get(partial.key)
            if bucket is not None:
                bucket[:] = [p for p in bucket if p is not partial]
                if not bucket:
                    del self.partials[partial.key]
            if last.absent and partial.next_step == len(self.rule.steps) - 1:
                types = "/".join(sorted(self.rule.steps[-1].where or {"?": None}))
                when = partial.deadline.isoformat(timespec="minutes")
                negative = [f"截至{when}未找到后续{types}记录 / no following {types} by {when}"]
                final = final_until is None or partial.deadline <= final_until
                self._emit(partial, partial.deadline, negative, "final" if final else "provisional")

    def on_watermark(self, wm: datetime) -> None:
        self._expire(wm, inclusive=False, final_until=None)

    def finish(self, horizon: datetime) -> None:
        self._expire(horizon, inclusive=True, final_until=horizon)
