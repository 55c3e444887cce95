"""The event-time processor: buffer, watermark, ordered matching, and routing of hits.

Events wait in a heap until the watermark passes them; then they are matched in batches by the
backend, in (time, type, id) order, and each hit is routed to its rule's operator. Because
every decision is taken in that order and only once the watermark has passed what it depends
on, the findings do not depend on the order or batching in which events arrived.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fourin_rules.backends.base import Matcher, RuleError
from fourin_rules.model.finding import Finding
from fourin_rules.plan import Plan, RulePlan
from fourin_rules.runtime.base import covers
from fourin_rules.runtime.env import RuleEnv
from fourin_rules.runtime.operators import OPERATORS, Operator

MATCH_BATCH = 2000
EXEMPTION_RETENTION = timedelta(days=40)
EVICT_EVERY = timedelta(hours=6)  # longer than any period (a month) an open decision spans


@dataclass(frozen=True)
class LateEvent:
    """An event that arrived after the watermark had passed its time: which rules' conditions
    it meets, and the findings already decided that it would have touched (same rule and
    subject, a window holding its time)."""

    type: str
    id: str
    time: datetime
    watermark: datetime
    rules: tuple[str, ...] = ()
    touched: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "time": self.time.isoformat(),
            "watermark": self.watermark.isoformat(),
            "rules": list(self.rules),
            "touched_findings": list(self.touched),
        }


class Processor:
    """Runs a plan's operators over events in event time."""

    def __init__(
        self, plan: Plan, env: RuleEnv, matcher: Matcher, *, since: datetime | None = None
    ) -> None:
        self.plan = plan
        self.env = env
        self.matcher = matcher
        self.since = since
        self.watermark: datetime | None = None
        self.first_time: datetime | None = None
        self.max_time: datetime | None = None
        self.late: list[LateEvent] = []
        self._evicted_at: datetime | None = None
        # (rule, subject) -> decided findings' windows, kept as long as exemptions are
        self._decided: dict[tuple[str, str], list[tuple[datetime, datetime, str]]] = {}
        self.errors: list[RuleError] = []
        self._heap: list[tuple[datetime, str, str, int, Mapping[str, Any]]] = []
        self._seq = itertools.count()
        self._out: list[Finding] = []
        self.operators: list[Operator] = [OPERATORS[r.kind](r, self) for r in plan.rules]
        self.routes: dict[int, list[tuple[Operator, tuple[Any, ...]]]] = {}
        self._exempt_routes: dict[int, list[tuple[str, int, str]]] = {}
        # (rule id, exemption index) -> subject -> [(start, end, ref)]
        self.exemptions: dict[
            tuple[str, int], dict[str, list[tuple[datetime, datetime, tuple[str, str]]]]
        ] = {}
        for op in self.operators:
            rule = op.rule
            for pid in rule.predicates:
                self.routes.setdefault(pid, []).append((op, ("source",)))
            for k, slot in enumerate(rule.slots):
                for pid in slot.predicates:
                    self.routes.setdefault(pid, []).append((op, ("slot", k)))
            for i, step in enumerate(rule.steps):
                for pid in step.predicates:
                    self.routes.setdefault(pid, []).append((op, ("step", i)))
            for k, ex in enumerate(rule.exemptions):
                for pid in ex.predicates:
                    ptype = plan.predicates[pid].type
                    self._exempt_routes.setdefault(pid, []).append((rule.rule_id, k, ex.who[ptype]))

    # -- input -------------------------------------------------------------------------------
    def add(self, event: Mapping[str, Any]) -> bool:
        """Buffer a validated event; False (and recorded as late) when the watermark passed it."""
        t = event["time"]
        if self.watermark is not None and t < self.watermark:
            rules, touched = self._would_touch(event)
            self.late.append(
                LateEvent(event["type"], event["id"], t, self.watermark, rules, touched)
            )
            return False
        heapq.heappush(self._heap, (t, event["type"], event["id"], next(self._seq), event))
        if self.first_time is None or t < self.first_time:
            self.first_time = t
        if self.max_time is None or t > self.max_time:
            self.max_time = t
        return True

    def pending(self) -> int:
        """Events waiting for the watermark."""
        return len(self._heap)

    def drain(self) -> list[Finding]:
        """Findings decided since the last call."""
        out, self._out = self._out, []
        return out

    def emit(self, finding: Finding) -> None:
        self._out.append(finding)
        self._decided.setdefault((finding.rule_id, finding.subject.id), []).append(
            (finding.window.start, finding.window.end, finding.id)
        )

    def _would_touch(self, event: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """For a late event: the rules whose conditions it meets, and the decided findings of
        those rules (any subject it names) whose window holds its time."""
        try:
            hits = self.matcher.match([event])[0]
        except Exception:  # explaining a late event must never lose it
            return (), ()
        preds = [self.plan.predicates[h.predicate] for h in hits]
        rules = sorted({p.rule_id for p in preds if not p.routing})
        names = {v for v in event.values() if isinstance(v, str)}
        for value in event.values():
            if isinstance(value, list):
                names.update(x for x in value if isinstance(x, str))
        touched = sorted(
            fid
            for rule_id in rules
            for (rid, subject), decided in self._decided.items()
            if rid == rule_id and subject in names
            for start, end, fid in decided
            if start <= event["time"] <= end
        )
        return tuple(rules), tuple(touched)

    # -- time ----------------------------------------------------------------------------------
    def advance(self, watermark: datetime) -> None:
        """No event earlier than ``watermark`` will come: process those, decide what is due."""
        if self.watermark is not None and watermark <= self.watermark:
            return
        while self._heap and self._heap[0][0] < watermark:
            batch = []
            while self._heap and self._heap[0][0] < watermark and len(batch) < MATCH_BATCH:
                batch.append(heapq.heappop(self._heap)[-1])
            self._process(batch)
            # Decide what is due up to the last processed instant, so state stays small.
            self._decide(batch[-1]["time"])
        self.watermark = watermark
        self._decide(watermark)
        self._evict(watermark)

    def finish(self, horizon: datetime | None = None) -> None:
        """End of stream: process everything; decide all, provisional past ``horizon``."""
        while self._heap:
            batch = [
                heapq.heappop(self._heap)[-1] for _ in range(min(MATCH_BATCH, len(self._heap)))
            ]
            self._process(batch)
            self._decide(batch[-1]["time"])
        horizon = horizon or self.max_time or self.watermark
        if horizon is None:
            return
        if self.watermark is None or horizon > self.watermark:
            self._decide(horizon)
        for op in self.operators:
            op.finish(horizon)

    def _decide(self, watermark: datetime) -> None:
        for op in self.operators:
            op.on_watermark(watermark)

    def _process(self, batch: list[Mapping[str, Any]]) -> None:
        hits = self.matcher.match(batch)
        for event, event_hits in zip(batch, hits, strict=True):
            for hit in event_hits:
                for rule_id, k, who in self._exempt_routes.get(hit.predicate, ()):
                    self._add_exemption(rule_id, k, who, event)
            calls = [
                (op, role, hit)
                for hit in event_hits
                for op, role in self.routes.get(hit.predicate, ())
            ]
            # Later sequence steps first, so that one event cannot both start and continue a
            # sequence (the sort is stable: otherwise predicate order).
            calls.sort(key=lambda c: -c[1][1] if c[1][0] == "step" else 0)
            for op, role, hit in calls:
                try:
                    op.on_hit(event, hit, role)
                except Exception as exc:  # one rule's failure must not stop the others
                    self.errors.append(
                        RuleError(
                            op.rule.rule_id,
                            event["type"],
                            event["id"],
                            f"{type(exc).__name__}: {exc}",
                        )
                    )

    # -- exemptions -------------------------------------------------------------------------
    def _add_exemption(self, rule_id: str, k: int, who: str, event: Mapping[str, Any]) -> None:
        value = event.get(who)
        subjects = (
            [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        )
        start = event["time"]
        end = event.get("end") or start
        table = self.exemptions.setdefault((rule_id, k), {})
        for subject in subjects:
            table.setdefault(subject, []).append((start, end, (event["type"], event["id"])))

    def exemption(
        self, rule: RulePlan, subject: str, start: datetime, end: datetime
    ) -> tuple[str, str] | None:
        """The first exempting record of ``rule`` for ``subject`` overlapping [start, end]."""
        for k in range(len(rule.exemptions)):
            for ex_start, ex_end, ref in self.exemptions.get((rule.rule_id, k), {}).get(
                subject, ()
            ):
                if covers(ex_start, ex_end, start, end):
                    return ref
        return None

    def _evict(self, watermark: datetime) -> None:
        if self._evicted_at is not None and watermark - self._evicted_at < EVICT_EVERY:
            return  # a full scan now and then keeps memory bounded without a scan per batch
        self._evicted_at = watermark
        floor = watermark - EXEMPTION_RETENTION
        for key in list(self._decided):
            kept = [x for x in self._decided[key] if x[1] >= floor]
            if kept:
                self._decided[key] = kept
            else:
                del self._decided[key]
        for table in self.exemptions.values():
            for subject in list(table):
                kept = [x for x in table[subject] if x[1] >= floor]
                if kept:
                    table[subject] = kept
                else:
                    del table[subject]
