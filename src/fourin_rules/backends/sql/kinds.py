"""Rule kinds decided in SQL: the queries that aggregate many events.

Each decider builds sqlglot trees over the event tables (``ev_<type>``) and the predicates' hit
tables (``hit_<pid>``: the ``_seq`` of each event a predicate holds for), runs them in DuckDB,
and turns the few rows that come back into findings with the same
:func:`~fourin_rules.findings.make_finding` the incremental operators use. A rule a decider
cannot take (``supported()`` is false) is replayed through those operators instead.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from fourin_rules.backends.sql.expr import TableResolver
from fourin_rules.backends.sql.hoist import hoist
from fourin_rules.backends.sql.schema import (
    column_type,
    integer_fields,
    local_name,
    table_name,
    wall_clock,
    zoned,
)
from fourin_rules.backends.sql.sqltree import col, union_all
from fourin_rules.backends.sql.sqltree import table as sql_table
from fourin_rules.expr import to_source
from fourin_rules.expr.nodes import Arith, Attr, Field, IfElse, Literal, Neg, Node, Var, walk
from fourin_rules.findings import make_finding
from fourin_rules.model.finding import Finding
from fourin_rules.model.types import is_list
from fourin_rules.plan import RulePlan
from fourin_rules.runtime.absence import absence_finding
from fourin_rules.runtime.base import RuleScope, raise_to
from fourin_rules.runtime.threshold import Entry, aggregate, window_values

if TYPE_CHECKING:
    from fourin_rules.backends.sql.run import ColumnarRun

Ref = tuple[str, str]

_TRUNC = {"day": "day", "duty_day": "day", "week": "week", "calendar_month": "month"}


def local_day(t: exp.Expression) -> exp.Expression:
    """The local calendar date of a TIMESTAMPTZ (the session time zone is the dataset's), read
    from its local wall-clock column where ``t`` is marked with one."""
    return exp.cast(wall_clock(t), "DATE")


#: The local wall-clock column of the event time.
LOCAL_TIME = local_name("time")
#: The operator's order of events: its times share the dataset's zone, and Python compares such
#: times on the wall clock (two instants of an hour the clocks repeat tie, then type and id).
_ORDER_COLUMNS = (LOCAL_TIME, "etype", "id", "pid")
EVENT_ORDER = ", ".join(_ORDER_COLUMNS)


def _event_order(alias: str) -> list[str]:
    return [f"{alias}.{c}" for c in _ORDER_COLUMNS]


def local_time(table: str) -> exp.Column:
    """The event time of ``table``'s rows, which carry its local wall-clock column too."""
    column = col("time", table)
    column.meta["local"] = LOCAL_TIME
    return column


def period_start(t: exp.Expression, unit: str) -> exp.Expression:
    """The local date the period (day, week from Monday, month) holding ``t`` starts on."""
    day = local_day(t)
    if _TRUNC[unit] == "day":
        return day
    return exp.cast(exp.func("date_trunc", exp.Literal.string(_TRUNC[unit]), day), "DATE")


def clock(t: exp.Expression) -> exp.Expression:
    """The local wall clock in seconds, as :func:`to_seconds` reads it (on a day the clocks
    change, not the time elapsed since midnight): whole seconds plus the fraction."""
    whole = exp.Add(
        this=exp.Add(
            this=exp.Mul(this=_wall_part("HOUR", t), expression=exp.Literal.number(3600)),
            expression=exp.Mul(this=_wall_part("MINUTE", t), expression=exp.Literal.number(60)),
        ),
        expression=_wall_part("SECOND", t),
    )
    fraction = exp.Div(
        this=exp.Mod(this=_wall_part("MICROSECOND", t), expression=exp.Literal.number(1_000_000)),
        expression=exp.Literal.number(1e6),
    )
    return exp.Add(this=exp.Paren(this=whole), expression=fraction)


def _wall_part(unit: str, t: exp.Expression) -> exp.Expression:
    """``EXTRACT(unit FROM t)``, from ``t``'s local wall-clock column where it has one."""
    return exp.Extract(this=exp.var(unit), expression=wall_clock(t).copy())


def clock_us(t: exp.Expression) -> exp.Expression:
    """The local wall clock in whole microseconds since midnight (``t`` read as :func:`clock`
    reads it)."""
    return exp.Add(
        this=exp.Add(
            this=exp.Mul(this=_wall_part("HOUR", t), expression=exp.Literal.number(3_600_000_000)),
            expression=exp.Mul(
                this=_wall_part("MINUTE", t), expression=exp.Literal.number(60_000_000)
            ),
        ),
        expression=_wall_part("MICROSECOND", t),  # the seconds and their fraction
    )


#: Monday 1970-01-05, where hopping windows align (local wall-clock midnight).
_HOP_EPOCH_DAY = exp.cast(exp.Literal.string("1970-01-05"), "DATE")
_HOP_EPOCH = exp.cast(
    exp.Literal.string("1970-01-05 00:00:00"), exp.DataType.build("TIMESTAMP", dialect="duckdb")
)


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


#: Positions in a window's member row: ``g``, then :meth:`ThresholdKind._entry_fields` (the
#: inputs ``v0``, ``v1`` ... from ``_M_INPUTS`` on).
_M_SEQ, _M_TYPE, _M_ID, _M_US, _M_INPUTS = 1, 2, 3, 4, 5


def to_seconds(t: Any) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def seconds(t: Any) -> exp.Literal:
    return exp.Literal.number(to_seconds(t))


def subjects_column(
    field: str, field_type: str, table: str = "e"
) -> tuple[exp.Expression, exp.Expression | None]:
    """The subject ids of an event's ``field``: the value, or each element of a list (as an
    UNNEST to cross-join), skipping nulls and empty strings like ``subjects_of``."""
    if field_type.startswith("list["):
        return col("s", "u"), exp.Unnest(
            expressions=[col(field, table)],
            alias=exp.TableAlias(this=exp.to_identifier("u"), columns=[exp.to_identifier("s")]),
        )
    return col(field, table), None


class SqlKind(RuleScope):
    """Base of the SQL deciders."""

    def __init__(self, run: ColumnarRun, rule: RulePlan) -> None:
        super().__init__(rule, run.env, run.plan.lists)
        self.run = run

    def takes(self) -> bool:
        """Whether the rule has a shape this decider takes, told without SQL. ``supported``
        then also compiles its queries; rules it does not take are replayed."""
        return False

    def supported(self) -> bool:
        return self.takes()

    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        raise NotImplementedError

    # -- shared SQL pieces ---------------------------------------------------------------------
    def hit_rows(self, pid: int, who: str | None, extra: list[exp.Expression] = ()) -> exp.Select:
        """``(subject, _seq, time, end, type, id, *extra)`` of predicate ``pid``'s hits, one row
        per subject named by the event's ``who`` field."""
        pred = self.run.plan.predicates[pid]
        fields = self.run.event_types[pred.type]
        table = self.run.hit_table(pid)
        subject, unnest = subjects_column(who, fields[who]) if who else (exp.null(), None)
        select = (
            exp.select(
                subject.as_("subject"),
                col("_seq", "e"),
                col("time", "e"),
                col(LOCAL_TIME, "e"),
                col("end", "e"),
                exp.Literal.string(pred.type).as_("etype"),
                col("id", "e"),
                *extra,
            )
            .from_(sql_table(table_name(pred.type), "e"), copy=False)
            .join(
                sql_table(table, "h"),
                on=exp.EQ(this=col("_seq", "h"), expression=col("_seq", "e")),
                copy=False,
            )
        )
        if unnest is not None:
            select = select.join(unnest, join_type="CROSS", copy=False)
        return select.where(
            exp.and_(
                exp.Not(this=exp.Is(this=subject.copy(), expression=exp.null())),
                exp.NEQ(this=subject.copy(), expression=exp.Literal.string("")),
                copy=False,
            ),
            copy=False,
        )

    def exemption_rows(self) -> exp.Expression | None:
        """``(subject, ex_start, ex_end)`` of every record that can excuse this rule."""
        parts: list[exp.Select] = []
        for ex in self.rule.exemptions:
            for pid in ex.predicates:
                ptype = self.run.plan.predicates[pid].type
                rows = self.hit_rows(pid, ex.who[ptype])
                parts.append(
                    exp.select(
                        col("subject"),
                        col("time").as_("ex_start"),
                        exp.func("coalesce", col("end"), col("time")).as_("ex_end"),
                    ).from_(rows.subquery("x", copy=False), copy=False)
                )
        return union_all(parts, copy=False) if parts else None

    @staticmethod
    def overlaps(start: exp.Expression, end: exp.Expression) -> exp.Expression:
        """An exemption row ``x`` covers [start, end]: a point is inside, a span overlaps."""
        point = exp.and_(
            exp.LTE(this=col("ex_start", "x"), expression=start),
            exp.LTE(this=start, expression=col("ex_end", "x")),
        )
        span = exp.and_(
            exp.LT(this=col("ex_start", "x"), expression=end),
            exp.GT(this=col("ex_end", "x"), expression=start),
        )
        return exp.If(this=exp.EQ(this=start, expression=end), true=point, false=span)


class Roster:
    """The assignment standing for each (period, subject) of ``_roster``, fetched on demand
    (only flagged rows need theirs)."""

    def __init__(self, run: ColumnarRun, assignments: list[dict[str, Any]]) -> None:
        self.run = run
        self.assignments = assignments
        self.ords: dict[tuple[int, str], int] = {}

    def load(self, keys: Any) -> None:
        """Fetch the assignment order numbers of these (pidx, subject) keys."""
        query = (
            exp.select("r.pidx", "r.subject", "r.ord")
            .from_("_roster AS r")
            .join("_flag AS f", using=["pidx", "subject"])
        )
        for pidx, subject, ord_ in self.run.fetch(query):
            self.ords[(pidx, subject)] = ord_

    def __getitem__(self, key: tuple[int, str]) -> dict[str, Any]:
        return self.assignments[self.ords[key]]


class AbsenceKind(SqlKind):
    """Absence: roster × periods of the duty calendar, against counted expected events.

    The periods and who is on the roster come from the reference data and calendar (a small
    table); counting the expected events per period, subject and slot, and looking for an
    exemption that covers each missing slot, are SQL over the event tables."""

    def takes(self) -> bool:
        return self.rule.per in _TRUNC

    def _periods(
        self, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[tuple[int, datetime, datetime, list[date], str]]:
        cal = self.env.calendar
        unit = "day" if self.rule.per in ("duty_day", "day") else self.rule.per
        start = cal.period_bounds(since or first, unit)[0]
        out = []
        index = 0
        while start < horizon:
            s, e = cal.period_bounds(start, unit)
            d0, d1 = cal.local_date(s), cal.local_date(e - timedelta(microseconds=1))
            if self.rule.per == "duty_day":
                days = cal.duty_days_between(d0, d1)
            else:
                days = [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]
            if days:
                out.append((index, s, e, days, "final" if e <= horizon else "provisional"))
                index += 1
            start = e
        return out

    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        periods = self._periods(first, horizon, since)
        if not periods:
            return []
        assignments = self._load_roster(periods)
        self.run.create_temp("_seen", self._seen())
        self.run.create_temp("_counted", self._counted())
        short = exp.select("*").from_("_counted").where("n < need")
        ex_rows = self.exemption_rows()
        if ex_rows is not None:
            self.run.create_temp("_ex", ex_rows)
            covered = (
                exp.select("1")
                .from_("_ex AS x")
                .where(
                    exp.and_(
                        "x.subject = c.subject",
                        self.overlaps(exp.column("s_start", "c"), exp.column("s_end", "c")),
                    )
                )
            )
            short = (
                exp.select("*")
                .from_(short.select(*self._slot_span(), append=True).subquery("c"))
                .where(exp.Not(this=exp.Exists(this=covered)))
            )
        query = exp.select("pidx", "subject", "slot").from_(short.subquery("m"))
        missing = self.run.fetch(query.order_by("pidx", "subject", "slot"))
        if not missing:
            return []
        flagged: dict[tuple[int, str], list[int]] = {}
        for pidx, subject, slot in missing:
            flagged.setdefault((pidx, subject), []).append(slot)
        self.run.create_temp_from(
            "_flag", {"pidx": "INTEGER", "subject": "VARCHAR"}, [list(k) for k in flagged]
        )
        refs: dict[tuple[int, str, int], list[Ref]] = {}
        query = (
            exp.select("r.pidx", "r.subject", "s.slot", "s.etype", "s.id")
            .from_("_roster AS r")
            .join("_flag AS f", using=["pidx", "subject"])
            .join("_seen AS s", on="s.pday = r.pday AND s.subject = r.subject")
        )
        for pidx, subject, slot, etype, eid in self.run.fetch(query):
            refs.setdefault((pidx, subject, slot), []).append((etype, eid))
        assignments.load(flagged)
        return self._assemble(periods, flagged, refs, assignments)

    def _load_roster(
        self, periods: list[tuple[int, datetime, datetime, list[date], str]]
    ) -> Roster:
        """``_roster(pidx, pday, subject, ord)``: who should be there in each judged period.

        As ``ReferenceIndex.roster`` answers day by day (assignments active that day, in
        (cadre, start) order), and the first assignment found in the period stands, as in the
        incremental operator; joined in SQL instead of scanned per day in Python."""
        assignments = sorted(
            (a.model_dump() for a in self.env.reference.data.assignments),
            key=lambda a: (a["cadre_id"], a["start"]),
        )
        self.run.create_temp_from(
            "_asg",
            {"ord": "INTEGER", "cadre_id": "VARCHAR", "a_start": "DATE", "a_end": "DATE"},
            [[i, a["cadre_id"], a["start"], a["end"]] for i, a in enumerate(assignments)],
        )
        days = [
            [index, self.env.calendar.local_date(start), d]
            for index, start, _end, period_days, _status in periods
            for d in period_days
        ]
        self.run.create_temp_from("_pdays", {"pidx": "INTEGER", "pday": "DATE", "d": "DATE"}, days)
        active = (
            exp.select(
                "p.pidx",
                "p.pday",
                exp.column("cadre_id", "a").as_("subject"),
                "a.ord",
                "row_number() OVER (PARTITION BY p.pidx, a.cadre_id ORDER BY p.d, a.ord) AS _n",
            )
            .from_("_pdays AS p")
            .join("_asg AS a", on="a.a_start <= p.d AND (a.a_end IS NULL OR p.d <= a.a_end)")
        )
        self.run.create_temp(
            "_roster",
            exp.select("pidx", "pday", "subject", "ord")
            .from_(active.subquery("x"))
            .where("_n = 1"),
        )
        return Roster(self.run, assignments)

    def _seen(self) -> exp.Expression:
        """``(pday, subject, slot, etype, id)``: expected events inside their slot's hours.

        Slots often expect the same events at other hours (a check-in in the morning, another
        in the afternoon): each distinct source is read once, with its period and local clock
        (the costly time zone arithmetic), into a table the slots then filter."""
        parts = []
        sources: dict[str, str] = {}
        for k, slot in enumerate(self.rule.slots):
            for pid in slot.predicates:
                ptype = self.run.plan.predicates[pid].type
                rows = self.hit_rows(pid, slot.who[ptype]).subquery("r", copy=False)
                text = rows.sql(dialect="duckdb")
                if text not in sources:
                    sources[text] = f"_seen_{len(sources)}"
                    self.run.create_temp(
                        sources[text],
                        exp.select(
                            period_start(local_time("r"), self.rule.per).as_("pday"),
                            col("subject", "r"),
                            col("etype", "r"),
                            col("id", "r"),
                            clock(local_time("r")).as_("secs"),
                        ).from_(rows, copy=False),
                    )
                cond: exp.Expression = exp.GTE(this=col("secs"), expression=seconds(slot.start))
                if slot.end is not None:
                    cond = exp.and_(cond, exp.LT(this=col("secs"), expression=seconds(slot.end)))
                parts.append(
                    exp.select("pday", "subject", exp.Literal.number(k).as_("slot"), "etype", "id")
                    .from_(sql_table(sources[text]), copy=False)
                    .where(cond, copy=False)
                )
        return union_all(parts, copy=False)

    def _counted(self) -> exp.Select:
        """Per roster row and slot: how many expected events were seen."""
        slots = exp.values(
            [(k, s.min_count) for k, s in enumerate(self.rule.slots)],
            alias="sl",
            columns=["slot", "need"],
        )
        keys = ["r.pidx", "r.pday", "r.subject", "sl.slot", "sl.need"]
        return (
            exp.select(*keys, "count(s.id) AS n")
            .from_("_roster AS r")
            .join(slots, join_type="cross")
            .join(
                "_seen AS s",
                on="s.pday = r.pday AND s.subject = r.subject AND s.slot = sl.slot",
                join_type="left",
            )
            .group_by(*keys)
        )

    def _slot_span(self) -> list[exp.Expression]:
        """``s_start``, ``s_end``: the span a missing slot covers (its hours on its day for daily
        periods, else the whole period), for the exemption test."""

        def at(offset: exp.Expression) -> exp.Expression:
            local = exp.Add(this=exp.cast(col("pday"), "TIMESTAMP"), expression=offset)
            return exp.func("timezone", exp.Literal.string(self.run.tz), local)

        def secs(n: float) -> exp.Expression:
            return exp.Interval(this=exp.Literal.string(str(int(n))), unit=exp.var("SECOND"))

        if self.rule.per in ("duty_day", "day"):
            start = exp.Case(this=col("slot"))
            end = exp.Case(this=col("slot"))
            for k, slot in enumerate(self.rule.slots):
                start = start.when(exp.Literal.number(k), at(secs(to_seconds(slot.start))))
                close = to_seconds(slot.end) if slot.end is not None else 86400
                end = end.when(exp.Literal.number(k), at(secs(close)))
            return [start.as_("s_start"), end.as_("s_end")]
        unit = {"week": "WEEK", "calendar_month": "MONTH"}[self.rule.per]
        step = exp.Interval(this=exp.Literal.string("1"), unit=exp.var(unit))
        return [at(secs(0)).as_("s_start"), at(step).as_("s_end")]

    def _assemble(
        self,
        periods: list[tuple[int, datetime, datetime, list[date], str]],
        flagged: dict[tuple[int, str], list[int]],
        refs: dict[tuple[int, str, int], list[Ref]],
        assignments: Roster,
    ) -> list[Finding]:
        rule = self.rule
        rep = rule.repeat_escalation
        marks: dict[str, deque[int]] = {}
        out = []
        for pidx, subject in sorted(flagged):
            _, start, end, days, status = periods[pidx]
            severity = rule.severity
            if rep:
                m = marks.setdefault(subject, deque())
                m.append(pidx)
                while m and m[0] <= pidx - rep[1]:
                    m.popleft()
                if len(m) >= rep[0]:
                    severity = raise_to(severity, rep[2])
            missing = flagged[(pidx, subject)]
            present = [
                r
                for k in range(len(rule.slots))
                if k not in missing
                for r in refs.get((pidx, subject, k), [])
            ]
            out.append(
                absence_finding(
                    self,
                    subject,
                    assignments[(pidx, subject)],
                    (start, end, days[0]),
                    [(rule.slots[k], refs.get((pidx, subject, k), [])) for k in missing],
                    present,
                    severity,
                    status,
                )
            )
        return out


SQL_KINDS: dict[str, type[SqlKind]] = {"absence": AbsenceKind}


class ThresholdKind(SqlKind):
    """Threshold over tumbling (day, week, month) or hopping windows, with or without a roster.

    SQL computes every entry's subject, window and inputs, groups them, aggregates and applies
    ``having``; the few groups that pass are rebuilt in Python from their events (values
    recomputed exactly as the incremental operator does, ``having`` confirmed), then exempted
    or reported. Sliding windows, which restart after each finding, are :class:`SlidingKind`."""

    SQL_AGGREGATES = ("count", "sum", "distinct", "median", "avg", "min", "max", "run_span")

    def takes_window(self) -> bool:
        return self.rule.window in ("day", "week", "calendar_month", "hopping")

    def takes(self) -> bool:
        return self.takes_window() and all(
            agg in self.SQL_AGGREGATES for _, agg, _ in self.rule.values
        )

    def supported(self) -> bool:
        if not self.takes():
            return False
        try:
            self._entries()
            self._having()
        except NotImplementedError:
            return False
        return True

    # -- SQL ---------------------------------------------------------------------------------
    def _entries(self) -> exp.Expression:
        """The entries query (built once: ``supported`` builds it to test it compiles)."""
        cached = self.__dict__.get("_entries_query")
        if cached is None:
            cached = self.__dict__["_entries_query"] = self._build_entries()
        return cached

    def _build_entries(self) -> exp.Expression:
        """``(_seq, etype, id, time, ord, subject, kind, wstart, wend, v0, v1 ...)``: one row
        per hit, subject and window."""
        run, rule = self.run, self.rule
        compiler = run.compiler
        parts = []
        for pid in rule.predicates:
            pred = run.plan.predicates[pid]
            columns = run.event_types[pred.type]
            names = run.prepared.variables.get(pid, ())
            variables = {n: exp.column(f"_v_{n}", table="e", quoted=True) for n in names}
            resolver = TableResolver("e", columns, pred.type, variables, local=True)
            outputs = [
                compiler.value(rule.subject, resolver),
                compiler.value(rule.subject_kind_expr, resolver)
                if rule.subject_kind_expr is not None
                else exp.null(),
            ]
            outputs += [
                compiler.truth(arg, resolver)
                if agg == "run_span"
                else compiler.value(arg, resolver)
                for _, agg, arg in rule.values
                if arg is not None
            ]
            base = (
                exp.select(
                    exp.column(exp.Star(), table="e"),
                    *[
                        exp.column(n, table="h", quoted=True).as_(f"_v_{n}", quoted=True)
                        for n in names
                    ],
                )
                .from_(sql_table(table_name(pred.type), "e"), copy=False)
                .join(
                    sql_table(run.hit_table(pid), "h"),
                    on=exp.EQ(this=col("_seq", "h"), expression=col("_seq", "e")),
                    copy=False,
                )
            )
            outputs, source = hoist(outputs, base, "e", copy=False)
            subject, kind, *inputs = outputs
            parts.append(
                exp.select(
                    col("_seq", "e"),
                    exp.Literal.string(pred.type).as_("etype"),
                    col("id", "e"),
                    col("time", "e"),
                    col(LOCAL_TIME, "e"),
                    exp.Literal.number(pid).as_("pid"),
                    subject.as_("subj", copy=False),
                    kind.as_("kind", copy=False),
                    *[v.as_(f"v{i}", copy=False) for i, v in enumerate(inputs)],
                ).from_(source.subquery("e", copy=False), copy=False)
            )
        rows = union_all(parts, copy=False).subquery("r", copy=False)
        subject_type = rule.subject.type if rule.subject is not None else "str"
        if subject_type.startswith("list["):
            subject = col("s", "u")
            source = (
                exp.select(exp.column(exp.Star(), table="r"), subject.as_("subject"))
                .from_(rows, copy=False)
                .join(
                    exp.Unnest(
                        expressions=[col("subj", "r")],
                        alias=exp.TableAlias(
                            this=exp.to_identifier("u"), columns=[exp.to_identifier("s")]
                        ),
                    ),
                    join_type="CROSS",
                    copy=False,
                )
            )
        else:
            source = exp.select(
                exp.column(exp.Star(), table="r"), col("subj", "r").as_("subject")
            ).from_(rows, copy=False)
        default_kind = exp.Literal.string(rule.subject_kind)
        kind = exp.func(
            "coalesce", exp.func("nullif", col("kind", "s"), exp.Literal.string("")), default_kind
        )
        windowed = self._windows(source.subquery("s", copy=False), kind)
        return windowed

    def _entry_columns(self, kind: exp.Expression) -> list[exp.Expression | str]:
        """The columns of an entry row: the hit, its subject and kind, its inputs."""
        fixed = ["s._seq", "s.etype", "s.id", "s.time", f"s.{LOCAL_TIME}", "s.pid", "s.subject"]
        return [*fixed, kind.as_("kind"), *[f"s.v{i}" for i in range(len(self._inputs()))]]

    def _windows(self, source: exp.Expression, kind: exp.Expression) -> exp.Select:
        rule = self.rule
        base = self._entry_columns(kind)
        valid = "s.subject IS NOT NULL AND s.subject <> ''"
        if rule.window != "hopping":
            day = period_start(local_time("s"), rule.window)
            return (
                exp.select(*base, col("wstart", "p"), col("wend", "p"))
                .from_(source, copy=False)
                .join(
                    sql_table(self.run.periods(rule.window), "p"),
                    on=exp.EQ(this=col("pday", "p"), expression=day),
                    copy=False,
                )
                .where(valid, copy=False)
            )
        assert rule.hop_size is not None and rule.hop_step is not None
        # On the wall clock, as the operator counts (its times share the dataset's zone, so
        # Python's arithmetic on them is wall-clock arithmetic): windows start at local
        # midnight from Monday 1970-01-05 all year round, whatever the clocks do.
        size, step = _micros(rule.hop_size), _micros(rule.hop_step)
        back = -(-size // step)  # windows that can hold one instant
        local = local_time("s")
        since_epoch = exp.Add(
            this=exp.Mul(
                this=exp.DateDiff(
                    this=local_day(local), expression=_HOP_EPOCH_DAY.copy(), unit=exp.var("DAY")
                ),
                expression=exp.Literal.number(86_400_000_000),
            ),
            expression=clock_us(local),
        )
        n = exp.cast(
            exp.Floor(
                this=exp.Div(this=exp.Paren(this=since_epoch), expression=exp.Literal.number(step))
            ),
            "BIGINT",
        )
        k = col("k", "w")
        ks = exp.Unnest(
            expressions=[
                exp.func(
                    "range",
                    exp.Sub(this=n, expression=exp.Literal.number(back - 1)),
                    exp.Add(this=n.copy(), expression=exp.Literal.number(1)),
                )
            ],
            alias=exp.TableAlias(this=exp.to_identifier("w"), columns=[exp.to_identifier("k")]),
        )

        def wall(offset: int) -> exp.Expression:
            """The local wall-clock time ``offset`` microseconds after window ``w.k`` starts."""
            us = exp.Add(
                this=exp.Mul(this=k.copy(), expression=exp.Literal.number(step)),
                expression=exp.Literal.number(offset),
            )
            return exp.TimestampAdd(
                this=_HOP_EPOCH.copy(), expression=us, unit=exp.var("MICROSECOND")
            )

        def instant(local_time_: exp.Expression) -> exp.Expression:
            return exp.func("timezone", exp.Literal.string(self.run.tz), local_time_)

        return (
            exp.select(*base, instant(wall(0)).as_("wstart"), instant(wall(size)).as_("wend"))
            .from_(source, copy=False)
            .join(ks, join_type="CROSS", copy=False)
            .where(
                exp.and_(valid, exp.GT(this=wall(size), expression=wall_clock(local)), copy=False),
                copy=False,
            )
        )

    def _inputs(self) -> list[int]:
        """Indexes (into ``rule.values``) of the aggregates that take an argument."""
        return self._input_indexes

    @functools.cached_property
    def _input_indexes(self) -> list[int]:
        return [i for i, (_, _, arg) in enumerate(self.rule.values) if arg is not None]

    def _aggregates(self) -> list[exp.Expression]:
        column_of = {i: k for k, i in enumerate(self._inputs())}
        out = []
        for i, (name, agg, _arg) in enumerate(self.rule.values):
            v = col(f"v{column_of[i]}") if i in column_of else None
            if agg == "count":
                value: exp.Expression = exp.Count(this=exp.Star())
            elif agg == "sum":
                value = exp.func("coalesce", exp.Sum(this=v), exp.Literal.number(0))
            elif agg == "distinct":
                value = exp.Count(this=exp.Distinct(expressions=[v]))
            elif agg == "median":
                value = exp.Median(this=v)
            elif agg == "avg":
                value = exp.Avg(this=v)
            elif agg == "min":
                value = exp.Min(this=v)
            elif agg == "max":
                value = exp.Max(this=v)
            else:  # run_span: the island pass below fills it
                value = exp.Max(this=col(f"_span{i}"))
            out.append(value.as_(name))
        return out

    def _having(self) -> exp.Expression:
        assert self.rule.having is not None
        variables = {name: col(name, "g") for name, _, _ in self.rule.values}
        variables.update(
            subject=col("subject", "g"),
            window_start=col("wstart", "g"),
            window_end=col("wend", "g"),
        )
        resolver = TableResolver("g", {}, "", variables)
        return self.run.compiler.truth(self.rule.having, resolver)

    def _grouped(self, entries: exp.Expression, roster: bool = False) -> exp.Select:
        """Per window and subject: the aggregates (and run spans), filtered by ``having``; with
        ``roster``, the rows of ``_roster_w`` that had no entries are judged too (at the values
        of an empty window) and entries before the first judged window are left out."""
        grouped: exp.Expression = self._aggregated(entries)
        if roster:
            keys = ["wstart", "wend", "subject", "kind"]
            empty = [
                (
                    exp.Literal.number(0)
                    if agg in ("count", "sum", "distinct")
                    else exp.Literal.number(0.0)
                    if agg == "run_span"
                    else exp.null()
                ).as_(name)
                for name, agg, _ in self.rule.values
            ]
            lonely = (
                exp.select(*[col(k, "r") for k in keys], *empty)
                .from_(sql_table("_roster_w", "r"), copy=False)
                .join(sql_table("_agg", "a"), using=keys, join_type="anti", copy=False)
            )
            self.run.create_temp(
                "_agg",
                exp.select(exp.Star())
                .from_(grouped.subquery("g1", copy=False), copy=False)
                .where("wstart >= (SELECT min(origin) FROM _origin)", copy=False),
            )
            everything = exp.select(exp.Star()).from_(sql_table("_agg"), copy=False)
            grouped = exp.union(everything, lonely, distinct=False, copy=False)
        return self._filtered(grouped)

    def _filtered(self, grouped: exp.Expression) -> exp.Select:
        """The groups that pass ``having``; its reference lookups (``target_share`` ...)
        hoisted, so each is one join rather than a subquery per group."""
        star = exp.column(exp.Star(), table="g")
        [having], source = hoist(
            [self._having()],
            exp.select(star).from_(grouped.subquery("g", copy=False), copy=False),
            "g",
            copy=False,
        )
        return (
            exp.select(star.copy())
            .from_(source.subquery("g", copy=False), copy=False)
            .where(having, copy=False)
        )

    def _aggregated(self, entries: exp.Expression) -> exp.Select:
        """Per window and subject: the aggregates (and run spans)."""
        keys = ["wstart", "wend", "subject", "kind"]
        spans = [i for i, (_, agg, _) in enumerate(self.rule.values) if agg == "run_span"]
        aggregates = self._aggregates()
        if not spans:
            return (
                exp.select(*keys, *aggregates)
                .from_(entries, copy=False)
                .group_by(*keys, copy=False)
            )
        # Islands of consecutive entries whose input holds: the entries of one island have the
        # same count of failing entries before them (as has the failing entry that ends the
        # island before, which the filter leaves out). A span is the longest island's length in
        # minutes, 0 in a window with no run at all; one GROUP BY per island, then per window.
        # Only the windows where the input holds at least once are sorted into islands (on the
        # 1M benchmark, none of P3's or P4's 554k entries); the others' span is 0.
        column_of = {i: k for k, i in enumerate(self._inputs())}
        part = ", ".join(keys)
        others = [
            (name, a)
            for a, (name, agg, _) in zip(aggregates, self.rule.values, strict=True)
            if agg != "run_span"
        ]
        plain = exp.select(*keys, *[a for _, a in others]).from_(entries.copy()).group_by(*keys)
        joined = exp.select(*[col(k, "p0") for k in keys]).from_(plain.subquery("p0"))
        where: dict[str, exp.Expression] = {name: col(name, "p0") for name, _ in others}

        def same_keys(a: str, b: str) -> exp.Expression:
            return exp.and_(*[exp.NullSafeEQ(this=col(k, a), expression=col(k, b)) for k in keys])

        for n, i in enumerate(spans, start=1):
            v, name, alias = f"v{column_of[i]}", self.rule.values[i][0], f"p{n}"
            live = exp.select(*keys).from_(entries.copy()).where(v).group_by(*keys)
            marked = (
                exp.select(
                    "x.*",
                    f"sum(CASE WHEN {v} THEN 0 ELSE 1 END) OVER (PARTITION BY {part} "
                    f"ORDER BY {EVENT_ORDER} ROWS UNBOUNDED PRECEDING) AS _i",
                )
                .from_(entries.copy())
                .join(live.subquery("l"), on=same_keys("x", "l"), join_type="semi")
            )
            islands = (
                exp.select(
                    *keys,
                    f"epoch(max(time) FILTER (WHERE {v}) - min(time) FILTER (WHERE {v})) / 60.0 "
                    "AS s",
                )
                .from_(marked.subquery("m"))
                .group_by(*keys, "_i")
            )
            spans_of = (
                exp.select(*keys, exp.Max(this=col("s")).as_(name))
                .from_(islands.subquery("i"))
                .group_by(*keys)
            )
            joined = joined.join(
                spans_of.subquery(alias), on=same_keys("p0", alias), join_type="left"
            )
            where[name] = exp.func("coalesce", col(name, alias), exp.Literal.number(0.0))
        return joined.select(*[where[name].as_(name) for name, _, _ in self.rule.values])

    # -- findings ----------------------------------------------------------------------------
    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        run = self.run
        run.create_temp("_entries", self._entries())
        if self.rule.roster:
            self._load_roster(since or first, horizon)
        grouped = self._grouped(exp.to_table("_entries").as_("x"), bool(self.rule.roster))
        passing = run.fetch(
            exp.select("wstart", "wend", "subject", "kind").from_(
                grouped.subquery("q", copy=False), copy=False
            )
        )
        if not passing:
            return []
        # Each window's member rows, by its index g (the member rows carry g, not the keys).
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {tuple(p): [] for p in passing}
        run.create_temp_from(
            "_pass",
            {
                "wstart": "TIMESTAMPTZ",
                "wend": "TIMESTAMPTZ",
                "subject": "VARCHAR",
                "kind": "VARCHAR",
                "g": "INTEGER",
            },
            [(*key, g) for g, key in enumerate(groups)],
        )
        rows = run.fetch(
            exp.select("p.g", *self._entry_fields("e"))
            .from_(sql_table("_pass", "p"), copy=False)
            .join(
                sql_table("_entries", "e"), using=["wstart", "wend", "subject", "kind"], copy=False
            )
            .where(
                "e.wstart >= (SELECT min(origin) FROM _origin)" if self.rule.roster else "TRUE",
                copy=False,
            )
            .order_by("p.wstart", "p.subject", "p.kind", *_event_order("e"), copy=False)
        )
        members = list(groups.values())
        for row in rows:
            members[row[0]].append(row)
        return self._assemble(groups, horizon)

    def _load_roster(self, origin_time: datetime, horizon: datetime) -> None:
        """``_origin`` (the first judged window's start) and ``_roster_w``: every subject of the
        roster in every window from there that ends by ``horizon`` (as the operator judges)."""
        from fourin_rules.runtime.threshold import ROSTER_KIND

        rule, cal = self.rule, self.env.calendar
        day_start = cal.day_bounds(cal.local_date(origin_time))[0]
        epoch = datetime(1970, 1, 5, tzinfo=cal.tz)
        if rule.window == "hopping":
            assert rule.hop_step is not None and rule.hop_size is not None
            k = -((epoch - day_start) // rule.hop_step)
            origin = epoch + k * rule.hop_step
        else:
            s, e = cal.period_bounds(day_start, rule.window)
            origin = s if s >= day_start else e
        kind = ROSTER_KIND[rule.roster or "cadres"]
        # The roster of a window: every assignment active on one of its days (``env.roster``
        # day by day), that is, whose (start, end) span overlaps the window's days.
        spans = [
            (a.start, a.end, a.group_id if kind == "group" else a.cadre_id)
            for a in self.env.reference.data.assignments
        ]
        rows: list[list[Any]] = []
        start = origin
        while True:
            if rule.window == "hopping":
                s, e = start, start + rule.hop_size
            else:
                s, e = cal.period_bounds(start, rule.window)
            if e > horizon:
                break
            first, last = cal.local_date(s), cal.local_date(e - timedelta(microseconds=1))
            members = {m for a0, a1, m in spans if a0 <= last and (a1 is None or first <= a1)}
            rows.extend([s, e, m, kind] for m in sorted(members))
            start = s + rule.hop_step if rule.window == "hopping" else e
        self.run.create_temp_from("_origin", {"origin": "TIMESTAMPTZ"}, [[origin]])
        self.run.create_temp_from(
            "_roster_w",
            {
                "wstart": "TIMESTAMPTZ",
                "wend": "TIMESTAMPTZ",
                "subject": "VARCHAR",
                "kind": "VARCHAR",
            },
            rows,
        )

    def _entry_fields(self, alias: str) -> list[str]:
        """The columns :meth:`_entry` reads from an ``_entries`` row (the time as epoch
        microseconds: DuckDB's own conversion of zoned times costs 2.6 us a value)."""
        inputs = [f"{alias}.v{i}" for i in range(len(self._inputs()))]
        return [
            f"{alias}._seq",
            f"{alias}.etype",
            f"{alias}.id",
            f"epoch_us({alias}.time)",
            *inputs,
        ]

    def _entry(self, row: Sequence[Any]) -> Entry:
        """The runtime's entry of one ``_entries`` row (see :meth:`_entry_fields`). Its inputs
        are those SQL computed (the compiler's values equal the Python evaluator's, as the
        differential tests check); its event is fetched later, for the findings only. A row
        seen before (an event in two hopping windows) gives the entry built then, as the
        operator appends one entry to each window of an event."""
        key = tuple(row)
        built = self._built
        try:
            entry = built.get(key)
        except TypeError:  # a list among the inputs: built anew
            entry, key = None, None
        if entry is not None:
            return entry
        seq, etype, eid, us, *values = row
        time = zoned(us, self.env.calendar.tz)
        positions = self._inputs()
        if len(positions) == len(self.rule.values):
            inputs = values
        else:
            inputs = [None] * len(self.rule.values)
            for k, i in enumerate(positions):
                inputs[i] = values[k]
        for k in self._whole(etype):
            # A union of event types may widen a count to DOUBLE: Python has an int there.
            v = values[k]
            if isinstance(v, float) and v.is_integer():
                inputs[positions[k]] = int(v)
        entry = Entry(time, (etype, eid), inputs, {})
        self._seq_of[entry.ref] = seq
        if key is not None:
            built[key] = entry
        return entry

    @functools.cached_property
    def _built(self) -> dict[tuple[Any, ...], Entry]:
        return {}

    @functools.cached_property
    def _seq_of(self) -> dict[tuple[str, str], int]:
        return {}

    def _whole(self, etype: str) -> list[int]:
        """The inputs (by position among :meth:`_inputs`) for which the Python evaluator gives
        an int on events of ``etype``."""
        known = self._whole_by_type
        if etype not in known:
            ints = integer_fields(etype)
            known[etype] = [
                k for k, i in enumerate(self._inputs()) if int_valued(self.rule.values[i][2], ints)
            ]
        return known[etype]

    @functools.cached_property
    def _whole_by_type(self) -> dict[str, list[int]]:
        return {}

    def _events_of(self, entries: Iterable[Entry]) -> None:
        """Fill in the events of these entries (one query per event type)."""
        by_type: dict[str, list[Entry]] = {}
        for entry in entries:
            by_type.setdefault(entry.ref[0], []).append(entry)
        for etype, wanted in by_type.items():
            seqs = [self._seq_of[e.ref] for e in wanted]
            self.run.events.fetch(etype, seqs)
            for entry, seq in zip(wanted, seqs, strict=True):
                entry.event = self.run.events.cache[seq]

    def _window(self, rows: list[tuple[Any, ...]]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        """A window's aggregates and the member rows that make them (its focus), from its rows
        (``g`` first, then :meth:`_entry_fields`), as :func:`window_values` computes them on
        the operator's entries. Without a run span (whose focus is a run of entries) they are
        computed from the columns, without building an entry per row."""
        rule = self.rule
        if any(agg == "run_span" for _, agg, _ in rule.values):
            entries = [self._entry(row[_M_SEQ:]) for row in rows]
            row_of = {id(e): row for e, row in zip(entries, rows, strict=True)}
            values, focus = window_values(rule, entries)
            return values, [row_of[id(e)] for e in focus]
        columns = list(zip(*rows, strict=True)) or [()] * (_M_INPUTS + len(self._inputs()))
        values: dict[str, Any] = {}
        k = 0
        for name, agg, arg in rule.values:
            if arg is None:
                values[name] = aggregate(agg, [None] * len(rows))
            else:
                values[name] = aggregate(agg, self._column(columns, k))
                k += 1
        return values, rows

    def _column(self, columns: list[tuple[Any, ...]], k: int) -> list[Any]:
        """The values of input ``k`` (the :meth:`_entry_fields` column ``v<k>``) of a window's
        rows, as :meth:`_entry` gives them."""
        values = list(columns[_M_INPUTS + k])
        if float in map(type, values):  # DuckDB gives plain floats
            for n, (etype, v) in enumerate(zip(columns[_M_TYPE], values, strict=True)):
                # A union of event types may widen a count to DOUBLE: Python has an int there.
                if isinstance(v, float) and v.is_integer() and k in self._whole(etype):
                    values[n] = int(v)
        return values

    def _assemble(
        self, groups: dict[tuple[Any, ...], list[tuple[Any, ...]]], horizon: datetime
    ) -> list[Finding]:
        """Findings of the windows SQL found passing ``having``: their aggregates (for the
        facts and messages) and focus computed as the operator computes them."""
        rule = self.rule
        tz = self.env.calendar.tz
        exemptions = self.run.exemptions(rule) if rule.exemptions else None
        kept = []
        for (start, end, subject, kind), rows in sorted(groups.items(), key=lambda kv: kv[0]):
            start, end = self._named(start, end)
            values, focus = self._window(rows)
            if exemptions is not None:
                span = (
                    (zoned(focus[0][_M_US], tz), zoned(focus[-1][_M_US], tz))
                    if focus
                    else (start, end)
                )
                if exemptions.covers(subject, *span):
                    continue
            kept.append((start, end, subject, kind, values, focus))
        last: dict[str, list[int]] = {}  # the focus's last event of each window, by type
        for *_, focus in kept:
            if focus:
                last.setdefault(focus[-1][_M_TYPE], []).append(focus[-1][_M_SEQ])
        for etype, seqs in last.items():
            self.run.events.fetch(etype, seqs)
        cache = self.run.events.cache
        return [
            make_finding(
                rule,
                self.env,
                subject_id=subject,
                start=start,
                end=end,
                evidence=[(row[_M_TYPE], row[_M_ID]) for row in focus],
                ctx=self.ctx(
                    cache[focus[-1][_M_SEQ]] if focus else {},
                    {**values, "subject": subject, "window_start": start, "window_end": end},
                ),
                status="final" if end <= horizon else "provisional",
                negative_evidence=self.exemption_note(),
                facts=dict(values),
                subject_kind=kind,
            )
            for start, end, subject, kind, values, focus in kept
        ]

    def _named(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """A window's bounds as the operator writes them: local wall-clock times, even one the
        clocks skip (SQL gives that instant as the first wall time after the change)."""
        rule, tz = self.rule, self.env.calendar.tz
        if rule.window != "hopping":
            return self.env.calendar.period_bounds(start, rule.window)
        assert rule.hop_size is not None and rule.hop_step is not None
        epoch = datetime(1970, 1, 5, tzinfo=tz)
        # Arithmetic of times in one zone is on the wall clock, as in the operator.
        first = epoch + ((start.astimezone(tz) - epoch) // rule.hop_step) * rule.hop_step
        return first, first + rule.hop_size


SQL_KINDS["threshold"] = ThresholdKind


def int_valued(node: Node | None, ints: frozenset[str]) -> bool:
    """Whether ``node`` always evaluates to an int (or None) in Python: whole literals, count
    fields, ``+ - *`` and conditionals of those."""
    if isinstance(node, Literal):
        return node.value is None or (type(node.value) is int)
    if isinstance(node, Field):
        return node.name in ints
    if isinstance(node, Neg):
        return int_valued(node.operand, ints)
    if isinstance(node, Arith):
        whole = int_valued(node.left, ints) and int_valued(node.right, ints)
        return node.op in ("+", "-", "*") and whole
    if isinstance(node, IfElse):
        return int_valued(node.then, ints) and int_valued(node.other, ints)
    return False


def bind_aliases(node: Node, aliases: frozenset[str]) -> Node:
    """``a.lat`` (an attribute of a bound event) as the plain variable ``a.lat``, so that the
    compiler can take it from a column of the joined row."""
    if isinstance(node, Attr) and isinstance(node.obj, Var) and node.obj.name in aliases:
        return Var(f"{node.obj.name}.{node.name}", node.type)
    if not dataclasses.is_dataclass(node):
        return node
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            new = tuple(bind_aliases(v, aliases) for v in value)
            if new != value:
                changes[f.name] = new
        elif dataclasses.is_dataclass(value):
            new_node = bind_aliases(value, aliases)
            if new_node is not value:
                changes[f.name] = new_node
    return dataclasses.replace(node, **changes) if changes else node


def referenced(node: Node, alias: str) -> set[str]:
    """The fields of the bound event ``alias`` that ``node`` reads."""
    return {
        n.name.split(".", 1)[1]
        for n in walk(node)
        if isinstance(n, Var) and n.name.startswith(alias + ".")
    }


class ConsecutiveSequenceKind(SqlKind):
    """Two present steps, each event compared with the key's previous step-0 event
    (``consecutive: true``), within a bound: one window function and one join.

    The runtime keeps, per key, the latest event that met step 0; an event that meets step 1
    against it completes the pair and ends it. In SQL: for each routed event, the latest step-0
    event before it (in (time, type, id) order) is its partner; among the pairs whose condition
    holds within the bound, each partner completes only its first."""

    def takes(self) -> bool:
        rule = self.rule
        if not rule.consecutive or len(rule.steps) != 2 or rule.within is None:
            return False
        first, second = rule.steps
        if second.absent or second.by is not None or first.absent:
            return False
        for t in set(first.key) | set(second.key):
            keys = first.key.get(t) or second.key.get(t)
            if len(keys or ()) != 1 or is_list(keys[0].type):
                return False
            other = second.key.get(t) if t in first.key else first.key.get(t)
            if other is not None and [to_source(k) for k in other] != [to_source(k) for k in keys]:
                return False
        return True

    def supported(self) -> bool:
        if not self.takes():
            return False
        try:
            self._queries  # noqa: B018 (compiled now: a condition SQL cannot express refuses)
        except NotImplementedError:
            return False
        return True

    def _types(self) -> list[str]:
        seen: list[str] = []
        for step in self.rule.steps:
            for pid in step.predicates:
                t = self.run.plan.predicates[pid].type
                if t not in seen:
                    seen.append(t)
        return seen

    @functools.cached_property
    def _queries(self) -> tuple[exp.Select, exp.Select]:
        """``(routed, pairs)``: the rows of either step with their key, step flags and partner
        (the key's latest step-0 row before them; read twice by the pairs, so materialized as
        ``_routed`` first), and ``(a_seq, a_type, b_seq, b_type, k)`` of every completed pair,
        read from ``_routed``."""
        run, rule = self.run, self.rule
        first, second = rule.steps
        alias = first.alias
        aliases = frozenset({alias})
        wheres = {t: bind_aliases(n, aliases) for t, n in second.where.items()}
        a_fields = sorted({"time"} | {f for n in wheres.values() for f in referenced(n, alias)})
        e_fields = sorted(
            {n.name for w in wheres.values() for n in walk(w) if isinstance(n, Field)} | {"time"}
        )
        types = self._types()
        union_cols: dict[str, str] = {}
        for t in types:
            for f in set(a_fields) | set(e_fields):
                if f in run.event_types[t]:
                    union_cols.setdefault(f, run.event_types[t][f])
        compiler = run.compiler
        parts = []
        for t in types:
            columns = run.event_types[t]
            key_node = (first.key.get(t) or second.key.get(t))[0]
            key = compiler.value(key_node, TableResolver("e", columns, t, local=True))
            s0 = [p for p in first.predicates if run.plan.predicates[p].type == t]
            s1 = [p for p in second.predicates if run.plan.predicates[p].type == t]

            def member(pids: list[int]) -> exp.Expression:
                if not pids:
                    return exp.false()
                hits = union_all(
                    [
                        exp.select("_seq").from_(sql_table(run.hit_table(p)), copy=False)
                        for p in pids
                    ],
                    copy=False,
                )
                return exp.In(this=col("_seq", "e"), query=exp.Subquery(this=hits))

            fields = [
                (col(f, "e") if f in columns else exp.cast(exp.null(), column_type(ft))).as_(f)
                for f, ft in union_cols.items()
            ]
            fields.append(col(LOCAL_TIME, "e").as_(LOCAL_TIME))
            parts.append(
                exp.select(
                    col("_seq", "e"),
                    exp.Literal.string(t).as_("etype"),
                    col("id", "e"),
                    key.as_("k"),
                    member(s0).as_("s0"),
                    member(s1).as_("s1"),
                    *fields,
                )
                .from_(sql_table(table_name(t), "e"), copy=False)
                .where(exp.or_(member(s0), member(s1), copy=False), copy=False)
            )
        keyed = (
            exp.select(exp.Star())
            .from_(union_all(parts, copy=False).subquery("u", copy=False), copy=False)
            .where("k IS NOT NULL", copy=False)
        )
        order = f"ORDER BY {LOCAL_TIME}, etype, id"
        partner = exp.maybe_parse(
            "last_value(CASE WHEN s0 THEN _seq END IGNORE NULLS) OVER (PARTITION BY k "
            f"{order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
            dialect="duckdb",
        )
        # Each row's partner is stored with it: DuckDB joins a stored column faster than the
        # window inside the join's query (P3-speed on 1M events: 0.73 s against 0.95 s).
        routed = exp.select("*", partner.as_("a_seq")).from_(
            keyed.subquery("r", copy=False), copy=False
        )
        variables = {f"{alias}.{f}": col(f, "a") for f in a_fields}
        conds = []
        for t, node in wheres.items():
            resolver = TableResolver("b", union_cols, t, variables)
            conds.append(
                exp.and_(
                    exp.EQ(this=col("etype", "b"), expression=exp.Literal.string(t)),
                    compiler.truth(node, resolver),
                )
            )
        within = exp.Interval(
            this=exp.Literal.string(str(int(rule.within.total_seconds()))), unit=exp.var("SECOND")
        )
        pairs = (
            exp.select(
                col("_seq", "a").as_("a_seq"),
                col("etype", "a").as_("a_type"),
                col("_seq", "b").as_("b_seq"),
                col("etype", "b").as_("b_type"),
                col("k", "b").as_("k"),
                col(LOCAL_TIME, "b").as_("b_time"),
                col("id", "b").as_("b_id"),
            )
            .from_(sql_table("_routed", "b"), copy=False)
            .join(sql_table("_routed", "a"), on="a._seq = b.a_seq", copy=False)
            .where(
                exp.and_(
                    "b.s1",
                    exp.LTE(  # on the wall clock, as the operator adds ``within``
                        this=col(LOCAL_TIME, "b"),
                        expression=exp.Add(this=col(LOCAL_TIME, "a"), expression=within),
                    ),
                    exp.or_(*conds, copy=False) if conds else exp.false(),
                    copy=False,
                ),
                copy=False,
            )
        )
        return routed, (
            exp.select("a_seq", "a_type", "b_seq", "b_type", "k")
            .from_(pairs.subquery("p", copy=False), copy=False)
            .qualify(
                "row_number() OVER (PARTITION BY a_seq ORDER BY b_time, b_type, b_id) = 1",
                copy=False,
            )
        )

    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        from fourin_rules.expr import compile_predicate
        from fourin_rules.findings import event_ref
        from fourin_rules.runtime.base import subjects_of

        rule = self.rule
        routed, query = self._queries
        self.run.create_temp("_routed", routed)
        pairs = self.run.fetch(query)
        by_type: dict[str, set[int]] = {}
        for a_seq, a_type, b_seq, b_type, _k in pairs:
            by_type.setdefault(a_type, set()).add(a_seq)
            by_type.setdefault(b_type, set()).add(b_seq)
        for etype, seqs in by_type.items():
            self.run.events.fetch(etype, seqs)
        subject_fn = compile_predicate(rule.subject)
        a_alias, b_alias = rule.steps[0].alias, rule.steps[1].alias
        out = []
        for a_seq, _a_type, b_seq, _b_type, key in pairs:
            a, b = self.run.events.cache[a_seq], self.run.events.cache[b_seq]
            assert rule.within is not None
            variables = {
                a_alias: dict(a),
                "key": key,
                b_alias: dict(b),
                "deadline": a["time"] + rule.within,
            }
            for subject in subjects_of(subject_fn(self.ctx({}, variables))):
                out.append(
                    make_finding(
                        rule,
                        self.env,
                        subject_id=subject,
                        start=a["time"],
                        end=b["time"],
                        evidence=[event_ref(a), event_ref(b)],
                        ctx=self.ctx(b, {**variables, "subject": subject}),
                        status="final",
                    )
                )
        return out


SQL_KINDS["sequence"] = ConsecutiveSequenceKind


class SlidingKind(ThresholdKind):
    """Threshold over a sliding window (``sliding:60d``) that starts afresh after each finding.

    Until a key's first finding its windows are plain sliding windows, so SQL finds, per key,
    the first entry whose preceding window passes ``having`` (a self-join over the window and
    the aggregates). Keys without one have no finding at all; the few keys with one are replayed
    in Python from their first event, with the restart semantics of the incremental operator."""

    SQL_AGGREGATES = ("count", "sum", "distinct", "median", "avg", "min", "max")

    def takes_window(self) -> bool:
        rule = self.rule
        return (
            rule.window == "sliding"
            and not rule.roster
            and not rule.exemptions
            and rule.sliding is not None
        )

    def _windows(self, source: exp.Expression, kind: exp.Expression) -> exp.Select:
        base = [
            *self._entry_columns(kind),
            col("time", "s").as_("wstart"),
            col("time", "s").as_("wend"),
        ]
        return (
            exp.select(*base)
            .from_(source, copy=False)
            .where("s.subject IS NOT NULL AND s.subject <> ''", copy=False)
        )

    def _fires(self, entries: exp.Expression) -> exp.Select:
        """``(subject, kind)`` of every key whose plain sliding window passes ``having`` once."""
        assert self.rule.sliding is not None
        ordered = exp.select(
            "x.*",
            f"row_number() OVER (PARTITION BY subject, kind ORDER BY {EVENT_ORDER}) AS _o",
        ).from_(entries)
        span = exp.Interval(
            this=exp.Literal.string(str(int(self.rule.sliding.total_seconds()))),
            unit=exp.var("SECOND"),
        )
        joined = (
            exp.select(
                col("subject", "e"),
                col("kind", "e"),
                col("_o", "e"),
                col("time", "e").as_("wstart"),
                col("time", "e").as_("wend"),
                *[col(f"v{i}", "w").as_(f"v{i}") for i in range(len(self._inputs()))],
            )
            .from_(ordered.subquery("e"), copy=False)
            .join(
                ordered.subquery("w", copy=False),
                on=exp.and_(
                    "w.subject = e.subject",
                    "w.kind = e.kind",
                    "w._o <= e._o",
                    exp.GT(  # on the wall clock, as the operator subtracts the span
                        this=col(LOCAL_TIME, "w"),
                        expression=exp.Sub(this=col(LOCAL_TIME, "e"), expression=span),
                    ),
                    copy=False,
                ),
                copy=False,
            )
        )
        keys = ["subject", "kind", "_o", "wstart", "wend"]
        grouped = (
            exp.select(*keys, *self._aggregates())
            .from_(joined.subquery("j", copy=False), copy=False)
            .group_by(*keys, copy=False)
        )
        passing = self._filtered(grouped)
        return (
            exp.select("subject", "kind")
            .from_(passing.subquery("p", copy=False), copy=False)
            .distinct(copy=False)
        )

    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        run = self.run
        run.create_temp("_entries", self._entries())
        keys = run.fetch(self._fires(exp.to_table("_entries").as_("x")))
        if not keys:
            return []
        run.create_temp_from("_keys", {"subject": "VARCHAR", "kind": "VARCHAR"}, keys)
        rows = run.fetch(
            exp.select("e.subject", "e.kind", *self._entry_fields("e"))
            .from_(sql_table("_entries", "e"), copy=False)
            .join(sql_table("_keys", "k"), using=["subject", "kind"], copy=False)
            .order_by("e.subject", "e.kind", *_event_order("e"), copy=False)
        )
        return self._replay_keys(rows)

    def _replay_keys(self, rows: list[tuple[Any, ...]]) -> list[Finding]:
        from fourin_rules.expr import compile_predicate

        rule = self.rule
        assert rule.sliding is not None
        having = compile_predicate(rule.having)
        fires: list[tuple[str, str, list[Entry], dict[str, Any]]] = []
        window: deque[Entry] = deque()
        current: tuple[str, str] | None = None
        fired: datetime | None = None
        for row in rows:
            subject, kind = row[0], row[1]
            if (subject, kind) != current:
                current, fired = (subject, kind), None
                window.clear()
            entry = self._entry(row[2:])
            window.append(entry)
            floor = entry.time - rule.sliding
            while window and (
                window[0].time <= floor or (fired is not None and window[0].time <= fired)
            ):
                window.popleft()
            if not window:
                continue
            entries = list(window)
            values, _ = window_values(rule, entries)
            variables = {
                **values,
                "subject": subject,
                "window_start": entry.time,
                "window_end": entry.time,
            }
            if not having(self.ctx({}, variables)):
                continue
            fires.append((subject, kind, entries, variables))
            fired = entry.time
            window.clear()
        self._events_of(entries[-1] for _, _, entries, _ in fires)
        return [
            make_finding(
                rule,
                self.env,
                subject_id=subject,
                start=entries[0].time,
                end=entries[-1].time,
                evidence=[e.ref for e in entries],
                ctx=self.ctx(entries[-1].event, variables),
                status="final",
                negative_evidence=self.exemption_note(),
                facts={name: variables[name] for name, _, _ in rule.values},
                subject_kind=kind,
            )
            for subject, kind, entries, variables in fires
        ]


class _ThresholdKinds(SqlKind):
    """Chooses the threshold decider by window."""

    def __new__(cls, run: ColumnarRun, rule: RulePlan) -> SqlKind:  # type: ignore[misc]
        if rule.window == "sliding":
            return SlidingKind(run, rule)
        return ThresholdKind(run, rule)


SQL_KINDS["threshold"] = _ThresholdKinds


class MatchKind(SqlKind):
    """Match: each hit of the rule's predicates, per subject its ``subject`` expression names,
    unless an exemption of that subject covers the event (an anti-join).

    SQL selects the hits, their variables and subjects, and drops the exempted ones;
    escalations, facts and the message of each remaining hit (a finding each) are computed in
    Python, as the incremental operator does."""

    def takes(self) -> bool:
        return True

    def supported(self) -> bool:
        try:
            self.__dict__["_queries"] = {pid: self._matches(pid) for pid in self.rule.predicates}
        except NotImplementedError:
            return False
        return True

    def _matches(self, pid: int) -> exp.Select:
        """``(_seq, subject, *variables)`` of every hit of ``pid`` and subject not exempted."""
        run, rule = self.run, self.rule
        assert rule.subject is not None
        pred = run.plan.predicates[pid]
        columns = run.event_types[pred.type]
        names = run.prepared.variables.get(pid, ())
        variables = {n: exp.column(f"_v_{n}", table="e", quoted=True) for n in names}
        resolver = TableResolver("e", columns, pred.type, variables, local=True)
        base = (
            exp.select(
                exp.column(exp.Star(), table="e"),
                *[col(n, "h").as_(f"_v_{n}", quoted=True) for n in names],
            )
            .from_(sql_table(table_name(pred.type), "e"), copy=False)
            .join(
                sql_table(run.hit_table(pid), "h"),
                on=exp.EQ(this=exp.column("_seq", "h"), expression=exp.column("_seq", "e")),
                copy=False,
            )
        )
        [subject], source = hoist(
            [run.compiler.value(rule.subject, resolver)], base, "e", copy=False
        )
        rows = exp.select(
            exp.column(exp.Star(), table="e"),
            exp.func("coalesce", col("end", "e"), col("time", "e")).as_("_end"),
            subject.as_("_subj", copy=False),
        ).from_(source.subquery("e", copy=False), copy=False)
        if is_list(rule.subject.type):
            unnest = exp.Unnest(
                expressions=[col("_subj", "r")],
                alias=exp.TableAlias(this=exp.to_identifier("u"), columns=[exp.to_identifier("s")]),
            )
            named = exp.select(
                exp.column(exp.Star(), table="r"), col("s", "u").as_("_subject")
            ).from_(rows.subquery("r", copy=False), copy=False)
            named = named.join(unnest, join_type="CROSS", copy=False)
        else:
            named = exp.select(
                exp.column(exp.Star(), table="r"), col("_subj", "r").as_("_subject")
            ).from_(rows.subquery("r", copy=False), copy=False)
        kept = (
            exp.select(exp.Star())
            .from_(named.subquery("m", copy=False), copy=False)
            .where("m._subject IS NOT NULL AND m._subject <> ''", copy=False)
        )
        ex_rows = self.exemption_rows()
        if ex_rows is not None:
            covered = (
                exp.select("1")
                .from_(ex_rows.subquery("x", copy=False), copy=False)
                .where(
                    exp.and_(
                        "x.subject = m._subject",
                        self.overlaps(col("time", "m"), col("_end", "m")),
                    ),
                    copy=False,
                )
            )
            kept = kept.where(exp.Not(this=exp.Exists(this=covered)), copy=False)
        return exp.select(
            "_seq", "_subject", *[col(f"_v_{n}").as_(n, quoted=True) for n in names]
        ).from_(kept.subquery("k", copy=False), copy=False)

    def findings(
        self, *, first: datetime, horizon: datetime, since: datetime | None
    ) -> list[Finding]:
        from fourin_rules.expr import compile_predicate
        from fourin_rules.findings import event_ref
        from fourin_rules.runtime.base import event_end

        rule = self.rule
        queries = self.__dict__.get("_queries") or {
            pid: self._matches(pid) for pid in rule.predicates
        }
        rows = {pid: self.run.fetch(query) for pid, query in queries.items()}
        if not any(rows.values()):
            return []
        escalations = [(compile_predicate(w), to) for w, to in rule.escalations]
        facts = [(name, compile_predicate(n)) for name, n in rule.facts]
        kind_of = compile_predicate(rule.subject_kind_expr) if rule.subject_kind_expr else None
        ptype = {pid: self.run.plan.predicates[pid].type for pid in rows}
        for pid, found in rows.items():
            self.run.events.fetch(ptype[pid], [r[0] for r in found])
        out = []
        for pid, found in rows.items():
            names = self.run.prepared.variables.get(pid, ())
            for seq, subject, *values in found:
                event = self.run.events.cache[seq]
                scoped = {**dict(zip(names, values, strict=True)), "subject": subject}
                ctx = self.ctx(event, scoped)
                severity = rule.severity
                for when, to in escalations:
                    if when(ctx):
                        severity = raise_to(severity, to)
                end = event_end(event)
                out.append(
                    make_finding(
                        rule,
                        self.env,
                        subject_id=subject,
                        start=event["time"],
                        end=end,
                        evidence=[event_ref(event)],
                        ctx=ctx,
                        severity=severity,
                        negative_evidence=self.exemption_note(),
                        status="provisional" if rule.exemptions and end > horizon else "final",
                        facts={name: fn(ctx) for name, fn in facts},
                        subject_kind=kind_of(ctx) if kind_of else None,
                    )
                )
        return out


SQL_KINDS["match"] = MatchKind
