"""Absence rules: for every cadre on the roster and every period, expected events must be there."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fourin_rules.backends.base import Hit
from fourin_rules.findings import event_ref, make_finding
from fourin_rules.model.finding import Finding
from fourin_rules.plan import RulePlan, SlotPlan
from fourin_rules.runtime.base import Operator, Ref, RuleScope, raise_to, subjects_of

if TYPE_CHECKING:
    from fourin_rules.runtime.processor import Processor


def missing_note(day: date, slot: SlotPlan, found: int) -> str:
    """What was searched for in a slot and not found (enough of), in Chinese and English."""
    got = f"，仅{found}条" if found else ""
    return (
        f"{day.isoformat()} {slot.label_zh}：未找到{got} / "
        f"{slot.label_en} on {day.isoformat()}: "
        f"{'only ' + str(found) if found else 'none'} found (need {slot.min_count})"
    )


def absence_finding(
    scope: RuleScope,
    subject: str,
    assignment: Mapping[str, Any],
    period: tuple[datetime, datetime, date],
    missing: list[tuple[SlotPlan, list[Ref]]],
    present: list[Ref],
    severity: str,
    status: str,
) -> Finding:
    """The finding of a subject absent in a period: ``missing`` holds each slot short of its
    minimum with the events found in it; ``present`` the events of the slots that were met."""
    start, end, day = period
    negative = [missing_note(day, slot, len(refs)) for slot, refs in missing]
    negative.extend(scope.exemption_note())
    variables = {
        "subject": subject,
        "assignment": assignment,
        "day": day,
        "period_start": start,
        "period_end": end,
        "missing": "、".join(slot.label_zh for slot, _ in missing),
        "missing_en": "; ".join(slot.label_en for slot, _ in missing),
    }
    return make_finding(
        scope.rule,
        scope.env,
        subject_id=subject,
        start=start,
        end=end,
        evidence=[*present, *(r for _, refs in missing for r in refs)],
        ctx=scope.ctx({}, variables),
        severity=severity,
        negative_evidence=negative,
        status=status,
        facts={
            "missing": [slot.name for slot, _ in missing],
            "township_id": assignment.get("township_id"),
        },
    )


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
        for subject in subjects_of(event.get(slot.who[event["type"]])):
            self.seen.setdefault((start, subject, slot_index), []).append(event_ref(event))

    def _ensure_start(self, wm: datetime | None = None) -> bool:
        """Fix the first period to judge: that of ``since``, else of the earliest event, but
        only once the watermark is past its start (an earlier event may still arrive before)."""
        origin = self.proc.since or self.proc.first_time
        if self.next_start is None and origin is not None:
            start = self.period(origin)[0]
            if wm is None or self.proc.since is not None or wm > start:
                self.next_start = start
        return self.next_start is not None

    def on_watermark(self, wm: datetime) -> None:
        if not self._ensure_start(wm):
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
                severity = raise_to(severity, rep[2])
        self.proc.emit(
            absence_finding(
                self,
                subject,
                assignment,
                (start, end, days[0]),
                [(slot, refs) for slot, _s, _e, refs in missing],
                present,
                severity,
                status,
            )
        )
