"""Threshold rules: an aggregate per subject over a window passes a bound.

Windows are tumbling (``day``, ``week``, ``calendar_month``), hopping (``hopping:14d:7d``: windows
of 14 days starting every 7, aligned on Mondays) or sliding (``sliding:30d``: decided at each
event over the preceding 30 days). With a ``roster`` every group or cadre is judged in every
window, so that "no visit at all" can be a finding.
"""

from __future__ import annotations

import heapq
import statistics
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.expr import EvalContext, compile_predicate
from fourin_rules.findings import event_ref, make_finding
from fourin_rules.plan import RulePlan
from fourin_rules.runtime.base import Operator, Ref, subjects_of

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor

ROSTER_KIND = {"groups": "group", "cadres": "cadre"}
EVICT_EVERY = timedelta(hours=6)


def _streak(values: list[Any]) -> int:
    """The longest run of consecutive calendar days among the values."""
    days = sorted(
        {v.date() if isinstance(v, datetime) else v for v in values if isinstance(v, date)}
    )
    best = run = 0
    previous: date | None = None
    for d in days:
        run = run + 1 if previous is not None and d - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = d
    return best


def aggregate(name: str, values: list[Any]) -> Any:
    """Aggregate ``values`` (one per event); nulls are skipped except by ``count``."""
    if name == "count":
        return len(values)
    vals = [v for v in values if v is not None]
    if name == "distinct":
        return len({repr(v) for v in vals})
    if name == "sum":
        return sum(vals) if vals else 0
    if name == "streak":
        return _streak(vals)
    if not vals:
        return None
    if name == "median":
        return statistics.median(vals)
    if name == "avg":
        return sum(vals) / len(vals)
    if name == "min":
        return min(vals)
    if name == "max":
        return max(vals)
    raise ValueError(name)  # pragma: no cover - the plan checks aggregate names


def _longest_run(entries: list[Entry], i: int) -> tuple[float, list[Entry]]:
    """Minutes from the first to the last event of the longest run of consecutive events (in
    time order) whose value ``i`` holds, and that run."""
    best: tuple[float, list[Entry]] = (0.0, [])
    run: list[Entry] = []
    for entry in entries:
        if entry.inputs[i]:
            run.append(entry)
            minutes = (run[-1].time - run[0].time).total_seconds() / 60
            if minutes > best[0] or not best[1]:
                best = (minutes, list(run))
        else:
            run = []
    return best


def window_values(rule: RulePlan, entries: list[Entry]) -> tuple[dict[str, Any], list[Entry]]:
    """A window's aggregates, and the events that make them: all of them, or the run that a
    ``run_span`` measured."""
    values: dict[str, Any] = {}
    focus = entries
    for i, (name, agg, _) in enumerate(rule.values):
        if agg == "run_span":
            values[name], run = _longest_run(entries, i)
            if run:
                focus = run
        else:
            values[name] = aggregate(agg, [e.inputs[i] for e in entries])
    return values, focus


@dataclass
class Entry:
    time: datetime
    ref: Ref
    inputs: list[Any]
    event: Mapping[str, Any] = field(repr=False)


Key = tuple[datetime, datetime, str, str]  # window start, end, subject id, subject kind


class ThresholdOperator(Operator):
    """An aggregate per subject over a window passes a bound."""

    def __init__(self, rule: RulePlan, proc: Processor) -> None:
        super().__init__(rule, proc)
        assert rule.subject is not None and rule.having is not None
        self.subject = compile_predicate(rule.subject)
        self.kind = compile_predicate(rule.subject_kind_expr) if rule.subject_kind_expr else None
        self.inputs: list[Callable[[EvalContext], Any] | None] = [
            compile_predicate(arg) if arg is not None else None for _, _, arg in rule.values
        ]
        self.having = compile_predicate(rule.having)
        self.buckets: dict[Key, list[Entry]] = {}
        self.sliding: dict[tuple[str, str], deque[Entry]] = {}
        self.last_fired: dict[tuple[str, str], datetime] = {}
        self.next_start: datetime | None = None  # rosters: the next window to judge
        self._ends: list[tuple[datetime, Key]] = []  # bucket ends, so deciding skips open ones
        self._evicted_at: datetime | None = None
        tz = self.env.calendar.tz
        self.epoch = datetime(1970, 1, 5, tzinfo=tz)  # a Monday: hopping windows align on it

    # -- windows ---------------------------------------------------------------------------------
    def windows_of(self, t: datetime) -> list[tuple[datetime, datetime]]:
        rule = self.rule
        if rule.window == "hopping":
            assert rule.hop_size is not None and rule.hop_step is not None
            n = (t - self.epoch) // rule.hop_step
            out = []
            k = n
            while True:
                start = self.epoch + k * rule.hop_step
                if start + rule.hop_size <= t:
                    break
                out.append((start, start + rule.hop_size))
                k -= 1
            return sorted(out)
        return [self.env.calendar.period_bounds(t, rule.window)]

    def _next_window(self, start: datetime) -> tuple[datetime, datetime]:
        if self.rule.window == "hopping":
            assert self.rule.hop_size is not None and self.rule.hop_step is not None
            return start, start + self.rule.hop_size
        return self.env.calendar.period_bounds(start, self.rule.window)

    def _step(self, start: datetime, end: datetime) -> datetime:
        return start + self.rule.hop_step if self.rule.window == "hopping" else end  # type: ignore[operator]

    # -- input -----------------------------------------------------------------------------------
    def on_hit(self, event: Mapping[str, Any], hit: Hit, role: tuple[Any, ...]) -> None:
        ctx = self.ctx(event, hit.variables)
        inputs = [fn(ctx) if fn is not None else None for fn in self.inputs]
        for subject in subjects_of(self.subject(ctx)):
            kind = (self.kind(ctx) if self.kind else None) or self.rule.subject_kind
            entry = Entry(event["time"], event_ref(event), inputs, event)
            if self.rule.window == "sliding":
                self._slide((subject, kind), entry)
                continue
            for start, end in self.windows_of(event["time"]):
                if self.next_start is not None and start < self.next_start:
                    continue  # a roster window before the data, or already judged
                key = (start, end, subject, kind)
                bucket = self.buckets.get(key)
                if bucket is None:
                    bucket = self.buckets[key] = []
                    heapq.heappush(self._ends, (end, key))
                bucket.append(entry)

    # -- decisions ---------------------------------------------------------------------------------
    def _values(self, entries: list[Entry]) -> tuple[dict[str, Any], list[Entry]]:
        return window_values(self.rule, entries)

    def _check(self, key: Key, entries: list[Entry], status: str) -> bool:
        start, end, subject, kind = key
        values, entries = self._values(entries)
        variables = {**values, "subject": subject, "window_start": start, "window_end": end}
        if not self.having(self.ctx({}, variables)):
            return False
        if self.rule.exemptions:
            span = (entries[0].time, entries[-1].time) if entries else (start, end)
            if self.proc.exemption(self.rule, subject, *span) is not None:
                return False
        if self.rule.window == "sliding" and entries:
            start, end = entries[0].time, entries[-1].time
        self.proc.emit(
            make_finding(
                self.rule,
                self.env,
                subject_id=subject,
                start=start,
                end=end,
                evidence=[e.ref for e in entries],
                ctx=self.ctx(entries[-1].event if entries else {}, variables),
                status=status,
                negative_evidence=self.exemption_note(),
                facts=dict(values),
                subject_kind=kind,
            )
        )
        return True

    def _slide(self, key: tuple[str, str], entry: Entry) -> None:
        assert self.rule.sliding is not None
        window = self.sliding.setdefault(key, deque())
        window.append(entry)
        floor = entry.time - self.rule.sliding
        fired = self.last_fired.get(key)
        while window and (
            window[0].time <= floor or (fired is not None and window[0].time <= fired)
        ):
            window.popleft()
        if window and self._check((entry.time, entry.time, *key), list(window), "final"):
            self.last_fired[key] = entry.time
            window.clear()

    def _roster(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        cal = self.env.calendar
        first, last = cal.local_date(start), cal.local_date(end - timedelta(microseconds=1))
        members: set[tuple[str, str]] = set()
        kind = ROSTER_KIND[self.rule.roster or "cadres"]
        for i in range((last - first).days + 1):
            for a in self.env.roster(first + timedelta(days=i)):
                members.add((a["group_id"] if kind == "group" else a["cadre_id"], kind))
        return sorted(members)

    def _judge_roster_window(self, start: datetime, end: datetime, status: str) -> None:
        keys = {(s, k) for (ws, we, s, k) in self.buckets if (ws, we) == (start, end)}
        keys.update(self._roster(start, end))
        for subject, kind in sorted(keys):
            key = (start, end, subject, kind)
            self._check(key, self.buckets.pop(key, []), status)

    def _start_roster(self, origin: datetime) -> None:
        """Judge rosters from ``origin`` on; windows starting before it cover days without data."""
        self.next_start = origin
        for key in [k for k in self.buckets if k[0] < origin]:
            del self.buckets[key]

    def _origin(self) -> datetime | None:
        """The first roster window: the first that starts on or after the first day judged (a
        window reaching back before the data would judge days nobody reported on)."""
        origin = self.proc.since or self.proc.first_time
        if origin is None:
            return None
        day_start = self.env.calendar.day_bounds(self.env.calendar.local_date(origin))[0]
        if self.rule.window == "hopping":
            assert self.rule.hop_step is not None
            k = -(
                (self.epoch - day_start) // self.rule.hop_step
            )  # ceil((day_start - epoch) / step)
            return self.epoch + k * self.rule.hop_step
        start, end = self._next_window(day_start)
        return start if start >= day_start else end

    def on_watermark(self, wm: datetime) -> None:
        if self.rule.window == "sliding":
            self._evict(wm)
            return
        if self.rule.roster:
            if self.next_start is None:
                origin = self._origin()
                # Fixed once the watermark is past it: an earlier event may still arrive before.
                if origin is None or (self.proc.since is None and wm <= origin):
                    return
                self._start_roster(origin)
            while self.next_start is not None:
                start, end = self._next_window(self.next_start)
                if end > wm:
                    break
                self._judge_roster_window(start, end, "final")
                self.next_start = self._step(start, end)
            return
        due = []
        while self._ends and self._ends[0][0] <= wm:
            due.append(heapq.heappop(self._ends)[1])
        for key in sorted(due):
            if key in self.buckets:
                self._check(key, self.buckets.pop(key), "final")

    def _evict(self, wm: datetime) -> None:
        assert self.rule.sliding is not None
        if self._evicted_at is not None and wm - self._evicted_at < EVICT_EVERY:
            return  # a scan of every window now and then keeps memory bounded
        self._evicted_at = wm
        floor = wm - self.rule.sliding
        for key in [k for k, w in self.sliding.items() if not w or w[-1].time <= floor]:
            del self.sliding[key]
        for key in [k for k, t in self.last_fired.items() if t <= floor]:
            del self.last_fired[key]

    def finish(self, horizon: datetime) -> None:
        if self.rule.roster:
            if self.next_start is None and (origin := self._origin()) is not None:
                self._start_roster(origin)
            while self.next_start is not None:
                start, end = self._next_window(self.next_start)
                if end > horizon:
                    break  # not over yet: only its subjects with events are judged, below
                self._judge_roster_window(start, end, "final")
                self.next_start = self._step(start, end)
        for key in sorted(self.buckets):
            self._check(key, self.buckets[key], "final" if key[1] <= horizon else "provisional")
        self.buckets.clear()
