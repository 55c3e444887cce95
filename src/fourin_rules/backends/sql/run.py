"""A bulk run on the columnar backend: events in DuckDB tables, the plan as SQL, findings out.

The work is split by where it is cheapest:

* DuckDB reads, types, dedupes and tests the events (every predicate of the plan is one SQL
  query), and decides the rule kinds that aggregate many events (see :mod:`.kinds`);
* what is left, the hits of rules that need event-ordered state (sequences that are not
  consecutive, sliding windows that restart after a finding), is replayed through the shared
  event-time operators of :mod:`fourin_rules.runtime`, fed only with the events that hit.

Both halves build findings with :func:`fourin_rules.findings.make_finding`, so ids, evidence,
windows and messages are those of the incremental backends.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from fourin_rules.backends.base import Hit, RuleError
from fourin_rules.backends.sql.db import DuckDb, SqlEngine, worker_pool
from fourin_rules.backends.sql.expr import ExprCompiler
from fourin_rules.backends.sql.load import LoadResult, load_files
from fourin_rules.backends.sql.predicates import prepare
from fourin_rules.backends.sql.schema import table_name, zoned
from fourin_rules.backends.sql.sqltree import table, union_all
from fourin_rules.backends.sql.tables import create_tables, insert_events
from fourin_rules.model import types as vt
from fourin_rules.model.finding import Finding
from fourin_rules.plan import Plan, RulePlan
from fourin_rules.runtime.base import covers
from fourin_rules.runtime.env import RuleEnv
from fourin_rules.runtime.processor import Processor

Hits = dict[int, list[tuple[int, dict[str, Any]]]]  # predicate id -> [(seq, variables)]


def connect(tz: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection whose local time is the dataset's time zone."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET TimeZone = '{tz}'")  # tz is a validated IANA name, never user SQL
    return con


@dataclass
class Events:
    """Fetches events (as the ingest's dicts) from the event tables by ``_seq``."""

    con: duckdb.DuckDBPyConnection
    event_types: Mapping[str, Mapping[str, str]]
    tz: tzinfo
    cache: dict[int, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one connection, many threads

    def fetch(self, etype: str, seqs: Iterable[int]) -> list[dict[str, Any]]:
        """The events of one type with these ``_seq``, in ``_seq`` order (cached)."""
        wanted = sorted(set(seqs))
        with self.lock:
            missing = [s for s in wanted if s not in self.cache]
            if missing:
                sql = f"{self._select(etype)} WHERE _seq IN (SELECT unnest(?))"
                self._keep(etype, self.con.execute(sql, [missing]).fetchall())
            return [self.cache[s] for s in wanted]

    def scan(self, etype: str) -> list[tuple[int, dict[str, Any]]]:
        """Every event of one type with its ``_seq``, in ``_seq`` order (not cached)."""
        rows = self.con.execute(f"{self._select(etype)} ORDER BY _seq").fetchall()
        return self._build(etype, rows)

    def _select(self, etype: str) -> str:
        times = self._times(etype)
        names = ", ".join(
            f'epoch_us("{c}")' if c in times else f'"{c}"' for c in self._columns(etype)
        )
        return f"SELECT _seq, {names} FROM {table_name(etype)}"

    def _columns(self, etype: str) -> list[str]:
        return [c for c in self.event_types[etype] if c != "type"]

    def _times(self, etype: str) -> set[str]:
        return {c for c, t in self.event_types[etype].items() if t == vt.TIME}

    def _build(self, etype: str, rows: list[tuple]) -> list[tuple[int, dict[str, Any]]]:
        cols = self._columns(etype)
        times = [name for name in cols if name in self._times(etype)]
        tz = self.tz
        out = []
        for row in rows:
            event: dict[str, Any] = {"type": etype}
            event.update(zip(cols, row[1:], strict=True))
            for name in times:
                event[name] = zoned(event[name], tz)
            out.append((row[0], event))
        return out

    def _keep(self, etype: str, rows: list[tuple]) -> None:
        for seq, event in self._build(etype, rows):
            self.cache[seq] = event


@dataclass
class Exemptions:
    """Exempting records by subject: ``(start, end)`` intervals, as the processor keeps them."""

    spans: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def add(self, event: Mapping[str, Any], who: str) -> None:
        value = event.get(who)
        names = (
            [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        )
        start = event["time"]
        end = event.get("end") or start
        for name in names:
            self.spans.setdefault(name, []).append((start, end))

    def covers(self, subject: str, start: datetime, end: datetime) -> bool:
        """A record of ``subject`` holds the instant, or overlaps the span (see
        :meth:`fourin_rules.runtime.processor.Processor.exemption`)."""
        return any(covers(a, b, start, end) for a, b in self.spans.get(subject, ()))


class _ReplayMatcher:
    """Hands the processor the hits computed in SQL, looked up by event ``_seq``."""

    name = "sql"

    def __init__(self, by_seq: Mapping[int, list[Hit]], seq_of: Mapping[int, int]) -> None:
        self.errors: list[RuleError] = []
        self.by_seq = by_seq
        self.seq_of = seq_of  # id(event dict) -> seq

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[list[Hit]]:
        return [self.by_seq.get(self.seq_of.get(id(e), -1), []) for e in events]

    def close(self) -> None:
        pass


@dataclass
class ColumnarResult:
    findings: list[Finding]
    errors: list[RuleError]
    horizon: datetime | None


class ColumnarRun:
    """One bulk run: load events, evaluate the plan, return findings.

    Args:
        plan: the compiled packs. env: reference data and calendar. tz: the dataset time zone.
        workers: how many rules are decided at once on DuckDB, each thread on a connection of
            its own (DuckDB runs a query while the GIL is free, so one rule's findings are built
            in Python while another's SQL runs). 1: one after another.
    """

    def __init__(
        self,
        plan: Plan,
        env: RuleEnv,
        tz: str,
        con: duckdb.DuckDBPyConnection | None = None,
        db: SqlEngine | None = None,
        workers: int = 2,
    ) -> None:
        self.plan = plan
        self.env = env
        self.tz = tz
        self.con = con or connect(tz)
        self.db: SqlEngine = db or DuckDb(self.con)  # where the plan's queries run
        self.event_types = plan.event_types
        create_tables(self.con, self.event_types)
        self.prepared = prepare(self.con, plan, env)
        self.next_seq = 0
        self.events = Events(self.con, self.event_types, env.calendar.tz)
        self.errors: list[RuleError] = []
        self._hits: Hits = {}
        self._hit_tables: dict[int, str] = {}  # predicate id -> its table
        # a query's tree hash -> [(query, the table holding its rows)]
        self._hit_by_hash: dict[int, list[tuple[exp.Expression, str]]] = {}
        self._made: dict[str, Future[str]] = {}  # hit table -> made (or being made)
        self._fetched: dict[int, Future[Any]] = {}  # predicate id -> its hits read (or being)
        self._periods: dict[str, str] = {}  # window unit -> its table of periods
        self._span: tuple[datetime | None, datetime | None] | None = None  # of the events
        self.workers = workers
        self._lock = threading.RLock()  # guards the tables of hit tables, hits and periods
        self._local = threading.local()  # a worker thread's own connection and compiler

    # -- input --------------------------------------------------------------------------------
    def add_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Add validated, deduped event dicts (the ingest's output)."""
        self.next_seq = insert_events(self.con, events, self.event_types, start_seq=self.next_seq)

    def load_files(self, paths: Sequence[str | Path], models: Mapping[str, Any]) -> LoadResult:
        """Read event files with DuckDB (JSONL, CSV, Parquet): valid rows into the tables, the
        rest counted and quarantined exactly as the Python ingest would."""
        result = load_files(
            self.con,
            paths,
            models=models,
            event_types=self.event_types,
            tz=self.tz,
            start_seq=self.next_seq,
            workers=self.workers if isinstance(self.db, DuckDb) else 1,
        )
        (last,) = self._over_tables(["max(_seq) AS s"], ["coalesce(max(s), -1) + 1"])[0]
        self.next_seq = last
        return result

    def time_span(self) -> tuple[datetime | None, datetime | None]:
        """The earliest and newest event time over every table."""
        lo, hi = self._over_tables(["min(time) AS lo", "max(time) AS hi"], ["min(lo)", "max(hi)"])[
            0
        ]
        return lo, hi

    def years(self) -> set[int]:
        """The local years the events fall in (each must be known to the duty calendar)."""
        return {y for (y,) in self._over_tables(["year(time) AS y"], ["y"], distinct=True)}

    def _over_tables(
        self, per_table: list[str], overall: list[str], distinct: bool = False
    ) -> list[tuple[Any, ...]]:
        """``SELECT overall FROM (SELECT per_table FROM ev_a UNION ALL ...)`` on the loaded
        tables (DuckDB, where the files were read)."""
        columns = [exp.maybe_parse(c) for c in per_table]  # parsed once, copied per table
        parts = [
            exp.select(*[c.copy() for c in columns])
            .from_(table(table_name(t)), copy=False)
            .distinct(distinct=distinct, copy=False)
            for t in self.event_types
        ]
        query = (
            exp.select(*overall)
            .from_(union_all(parts, copy=False).subquery("t", copy=False), copy=False)
            .distinct(distinct=distinct, copy=False)
        )
        return self.con.execute(query.sql(dialect="duckdb", copy=False)).fetchall()

    # -- evaluation ---------------------------------------------------------------------------
    def hits(self, pids: Iterable[int]) -> Hits:
        """The hits ``(seq, variables)`` of these predicates, each in event order: fetched from
        their SQL queries, or tested in Python for the few predicates SQL cannot express."""
        from fourin_rules.backends.sql.fallback import python_hits

        pids = list(pids)
        with self._lock:  # Python's tests hold it: their errors come in one order
            wanted = sorted(set(pids) - self._hits.keys())
            in_python = [self.plan.predicates[p] for p in wanted if p in self.prepared.unsupported]
            if in_python:
                found, errors = python_hits(self.plan, self.env, self.events, in_python)
                self.errors.extend(errors)
                for pred in in_python:
                    self._hits[pred.id] = found.get(pred.id, [])
        for pid in wanted:
            if pid in self.prepared.queries:
                rows = self._once(self._fetched, pid, lambda pid=pid: self._hit_rows_of(pid))
                with self._lock:
                    self._hits.setdefault(pid, rows)
        with self._lock:
            return {p: self._hits[p] for p in pids}

    def _hit_rows_of(self, pid: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.fetch(exp.select(exp.Star()).from_(table(self.hit_table(pid)), copy=False))
        return self._as_hits(pid, rows)

    def _as_hits(self, pid: int, rows: list[tuple[Any, ...]]) -> list[tuple[int, dict[str, Any]]]:
        """Rows of ``pid``'s hit table as hits: ``_seq`` and the bound variables by name."""
        names = self.prepared.variables[pid]
        if names:
            return [(r[0], dict(zip(names, r[1:], strict=True))) for r in rows]
        return [(r[0], {}) for r in rows]

    def _once(self, made: dict[Any, Future[Any]], key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` run once for ``key`` by whichever thread asks first, outside the lock; the
        others wait for its result (or its error) instead of doing the work again."""
        with self._lock:
            future = made.get(key)
            mine = future is None
            if future is None:
                future = made[key] = Future()
        if mine:
            try:
                future.set_result(make())
            except BaseException as exc:
                future.set_exception(exc)
                raise
        return future.result()

    def exemptions(self, rule: RulePlan) -> Exemptions:
        """The records that can excuse ``rule``'s findings, by subject."""
        table = Exemptions()
        for ex in rule.exemptions:
            for pid, found in self.hits(ex.predicates).items():
                ptype = self.plan.predicates[pid].type
                seqs = [seq for seq, _ in found]
                for event in self.events.fetch(ptype, seqs):
                    table.add(event, ex.who[ptype])
        return table

    def use(self, db: SqlEngine) -> None:
        """Run the plan's queries on ``db`` from now on (call it after loading): an engine with
        storage of its own first copies this connection's tables (``db.attach(con)``)."""
        attach = getattr(db, "attach", None)
        if attach is not None:
            attach(self.con)
        self.db = db
        self._hit_tables.clear()
        self._hit_by_hash.clear()
        self._made.clear()
        self._fetched.clear()
        self._periods.clear()

    def periods(self, unit: str) -> str:
        """A table ``(pday, wstart, wend)`` of the local periods (``day``, ``week``,
        ``calendar_month``) the events fall in: each period's first day and its bounds as the
        calendar gives them. Entries join it by their period's first day instead of turning
        it into two instants each (a time zone conversion a row and bound: 0.2 s of the 0.48 s
        of P3's entries on 1M events)."""
        with self._lock:
            if unit not in self._periods:
                first, newest = self._span or self.time_span()
                cal = self.env.calendar
                bounds: dict[date, tuple[datetime, datetime]] = {}
                if first is not None and newest is not None:
                    day, last = cal.local_date(first), cal.local_date(newest)
                    while day <= last:
                        start, end = cal.period_bounds(day, unit)
                        bounds.setdefault(cal.local_date(start), (start, end))
                        day += timedelta(days=1)
                name = self._periods[unit] = f"_periods_{unit}"
                columns = {"pday": "DATE", "wstart": "TIMESTAMPTZ", "wend": "TIMESTAMPTZ"}
                rows = [(pday, *span) for pday, span in bounds.items()]
                self._db().create_temp_from(name, columns, rows, shared=True)
            return self._periods[unit]

    @property
    def compiler(self) -> ExprCompiler:
        """The expression compiler of this thread (its alias counter is its own)."""
        return getattr(self._local, "compiler", None) or self.prepared.compiler

    def _db(self) -> SqlEngine:
        return getattr(self._local, "db", None) or self.db

    def create_temp(self, name: str, query: exp.Expression) -> None:
        self._db().create_temp(name, query)

    def create_temp_from(
        self, name: str, columns: Mapping[str, str], rows: Sequence[Sequence[Any]]
    ) -> None:
        self._db().create_temp_from(name, columns, rows)

    def fetch(self, query: exp.Expression) -> list[tuple[Any, ...]]:
        return self._db().fetch(query)

    def hit_rows(self, pid: int, seqs: Iterable[int]) -> list[tuple[int, dict[str, Any]]]:
        """The hits ``(seq, variables)`` of predicate ``pid`` on these events only."""
        if pid in self._hits or pid in self.prepared.unsupported:
            wanted = set(seqs)
            return [h for h in self.hits([pid])[pid] if h[0] in wanted]
        self.create_temp_from("_want", {"_seq": "BIGINT"}, [[s] for s in sorted(set(seqs))])
        query = (
            exp.select(exp.column(exp.Star(), table="h"))
            .from_(table(self.hit_table(pid), "h"), copy=False)
            .join(table("_want", "w"), using=["_seq"], copy=False)
        )
        return self._as_hits(pid, self.fetch(query))

    def hit_table(self, pid: int) -> str:
        """A table of predicate ``pid``'s hits: ``_seq`` and one column per bound variable, one
        row per binding, in event order. Predicates whose queries are the same text (a rule's
        slots often repeat one condition) share one table. Every thread's connection sees it.
        The lock is held only to name the table: other threads go on while it is made."""
        with self._lock:
            name = self._hit_tables.get(pid)
            if name is None:
                name = f"hit_{pid}"
                query = self.prepared.queries.get(pid)
                if query is not None:
                    # The compiler gives equal texts only for equal trees: texts are rendered
                    # and compared only for queries whose trees hash alike (rarely but the same).
                    same = self._hit_by_hash.setdefault(hash(query), [])
                    found = [
                        n for q, n in same if q is query or q.sql("duckdb") == query.sql("duckdb")
                    ]
                    if found:
                        name = found[0]
                    else:
                        same.append((query, name))
                self._hit_tables[pid] = name
        return self._once(self._made, name, lambda: self._make_hit_table(pid, name))

    def _make_hit_table(self, pid: int, name: str) -> str:
        query = self.prepared.queries.get(pid)
        if query is None:
            seqs = [[seq] for seq, _ in self.hits([pid])[pid]]
            self._db().create_temp_from(name, {"_seq": "BIGINT"}, seqs, shared=True)
        else:
            self._db().create_temp(name, query.copy(), shared=True)
        return name

    def run(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> ColumnarResult:
        """Evaluate the plan over the loaded events."""
        for year in sorted(self.years()):
            self.env.calendar.is_duty_day(date(year, 1, 1))  # raises calendar-missing-year
        span = self.time_span()
        if span != self._span:  # events were added: the periods cover the new span
            self._periods.clear()
        first, newest = self._span = span
        horizon = until or newest
        first = first or since
        if first is None or horizon is None:
            return ColumnarResult([], self.errors, horizon)
        from fourin_rules.backends.sql.kinds import SQL_KINDS

        def decide(rule: RulePlan) -> list[Finding] | None:
            """The rule's findings decided in SQL, or None: it is replayed."""
            kind = SQL_KINDS.get(rule.kind)
            decider = kind(self, rule) if kind is not None else None
            if decider is not None and decider.supported():
                return decider.findings(first=first, horizon=horizon, since=since)
            return None

        replay = functools.partial(
            self._replay, first=first, newest=newest, since=since, until=until
        )
        early: list[RulePlan] = []
        replayed_early: Future[tuple[list[Finding], list[RuleError]]] | None = None
        if self.workers > 1 and isinstance(self.db, DuckDb) and len(self.plan.rules) > 1:
            # The predicates tested in Python first, so their errors come in one order.
            self.hits(sorted(self.prepared.unsupported))
            # The rules no decider takes are replayed by a worker while the others' SQL runs.
            early = [r for r in self.plan.rules if not self._taken(r, SQL_KINDS)]
            # The rules over the most events first: a long one left for last would keep one
            # worker busy while the others wait.
            size = self._table_sizes()
            rules = self.plan.rules
            taken = sorted(
                (i for i, r in enumerate(rules) if r not in early),
                key=lambda i: -sum(size[t] for t in self._event_types_of(rules[i])),
            )
            with worker_pool(self.con, self.workers, self.tz, self._worker) as pool:
                if early:
                    replayed_early = pool.submit(replay, early)
                deciding = {i: pool.submit(decide, rules[i]) for i in taken}
                decided = [
                    deciding[i].result() if i in deciding else None for i in range(len(rules))
                ]
        else:
            decided = [decide(rule) for rule in self.plan.rules]
        findings: list[Finding] = []
        replayed: list[RulePlan] = []
        for rule, found in zip(self.plan.rules, decided, strict=True):
            if found is None:
                replayed.append(rule)
            else:
                findings.extend(found)
        if replayed:
            # Rules whose queries failed to compile join the early ones: all are replayed
            # together again, so that their errors come in the order of one replay.
            if replayed_early is not None and replayed == early:
                found, errors = replayed_early.result()
            else:
                found, errors = replay(replayed)
            findings.extend(found)
            self.errors.extend(errors)
        from fourin_rules.findings import sort_findings

        return ColumnarResult(sort_findings(findings), self.errors, horizon)

    def _table_sizes(self) -> dict[str, int]:
        """Each event type's row count, as DuckDB estimates it."""
        sizes = dict(
            self.con.execute("SELECT table_name, estimated_size FROM duckdb_tables()").fetchall()
        )
        return {etype: int(sizes.get(table_name(etype)) or 0) for etype in self.event_types}

    def _event_types_of(self, rule: RulePlan) -> set[str]:
        """The event types ``rule`` reads."""
        return {self.plan.predicates[pid].type for pid in rule.all_predicates()}

    def _taken(self, rule: RulePlan, kinds: Mapping[str, Any]) -> bool:
        """Whether a SQL decider takes ``rule`` by its shape (it may still fail to compile)."""
        kind = kinds.get(rule.kind)
        return kind is not None and kind(self, rule).takes()

    def _worker(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """A worker thread's own connection to the database (its temp tables are its own; the
        event, reference and hit tables are shared) and its own compiler."""
        self._local.db = DuckDb(cursor)
        self._local.compiler = copy.copy(self.prepared.compiler)

    def _replay(
        self,
        rules: list[RulePlan],
        *,
        first: datetime,
        newest: datetime,
        since: datetime | None,
        until: datetime | None,
    ) -> tuple[list[Finding], list[RuleError]]:
        """Run ``rules`` through the shared event-time operators, fed only the events that hit
        one of their predicates (plus the exemptions they consult): their findings and
        errors."""
        wanted: set[int] = set()
        for rule in rules:
            wanted.update(rule.all_predicates())
        hits = self.hits(wanted)
        by_seq: dict[int, list[Hit]] = {}
        for pid in sorted(wanted):
            for seq, variables in hits.get(pid, ()):
                by_seq.setdefault(seq, []).append(Hit(pid, variables))
        for seq_hits in by_seq.values():
            seq_hits.sort(key=lambda h: h.predicate)
        seq_of: dict[int, int] = {}
        events: list[dict[str, Any]] = []
        by_type: dict[str, list[int]] = {}
        for seq, seq_hits in by_seq.items():
            by_type.setdefault(self.plan.predicates[seq_hits[0].predicate].type, []).append(seq)
        for etype, seqs in by_type.items():
            for seq, event in zip(sorted(seqs), self.events.fetch(etype, seqs), strict=True):
                seq_of[id(event)] = seq
                events.append(event)
        sub_plan = replace(self.plan, rules=tuple(rules))
        proc = Processor(sub_plan, self.env, _ReplayMatcher(by_seq, seq_of), since=since)
        for event in events:
            proc.add(event)
        proc.first_time = first if proc.first_time is None else min(first, proc.first_time)
        proc.max_time = newest
        proc.finish(until)
        return proc.drain(), proc.errors
