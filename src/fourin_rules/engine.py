"""The public facade: an :class:`Engine` built from packs and reference data, run in batch
(:meth:`Engine.run`) or as a streaming :class:`Session` (``push``, ``advance_to``, ``close``).

Batch and streaming share one code path: ``run`` is a session whose watermark only moves at the
end, so both give the same findings with the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fourin_rules.backends.base import Backend, RuleError
from fourin_rules.calendar import DutyCalendar
from fourin_rules.errors import FourinError, suggest
from fourin_rules.findings import sort_findings
from fourin_rules.gctuning import bulk_collections
from fourin_rules.ingest import Ingestor, IngestStats, QuarantineRecord
from fourin_rules.model.events import EVENT_MODELS, make_custom_event_model
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData, load_reference
from fourin_rules.packs.loader import Pack, load_packs
from fourin_rules.plan import Plan, build_plan
from fourin_rules.reference import ReferenceIndex
from fourin_rules.runtime.env import RuleEnv
from fourin_rules.runtime.processor import LateEvent, Processor
from fourin_rules.timeutil import parse_duration, parse_timestamp

DEFAULT_LATENESS = timedelta(days=1)
ADVANCE_STEP = timedelta(minutes=10)  # a streaming watermark moves at least this far at a time
ADVANCE_BATCH = 2000  # ... or when this many events wait
FORGET_AFTER = timedelta(days=2)  # event identities kept this long behind the watermark
FORGET_EVERY = timedelta(hours=6)


BACKENDS = ("durable", "python", "duckdb", "spark")


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``durable``, ``python``, ``duckdb`` or ``spark``)."""
    if name == "spark":
        from fourin_rules.backends.sql.backend import SparkBackend

        return SparkBackend()
    if name == "duckdb":
        from fourin_rules.backends.sql.backend import DuckDBBackend

        return DuckDBBackend()
    if name == "durable":
        from fourin_rules.backends.durable.matcher import DurableBackend

        return DurableBackend()
    if name == "python":
        from fourin_rules.backends.python import PythonBackend

        return PythonBackend()
    raise FourinError(
        "backend-limit",
        f"unknown backend {name!r}",
        suggestion=suggest(name, list(BACKENDS)),
    )


@dataclass
class RunResult:
    """What a run produced: findings, and the accounting of every event read."""

    findings: list[Finding]
    stats: IngestStats
    quarantine: list[QuarantineRecord]
    late: list[LateEvent] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    horizon: datetime | None = None


class Engine:
    """Rule packs + reference data + calendar, compiled once; run as often as needed.

    Args:
        packs: loaded packs, or paths of pack/override files and folders (None: the bundled packs).
        reference: reference data, a path to it, or a mapping of its sections.
        params: parameter overrides ``{"RULE.param": value}``; disable: rule ids to switch off.
        backend: ``durable`` (durable_rules, the default), ``python`` (the reference matcher),
            ``duckdb`` (bulk runs as SQL in DuckDB) or ``spark`` (the same SQL on Spark).
        lateness: how far behind the newest event the watermark trails in a streaming session.
    """

    def __init__(
        self,
        packs: Sequence[Pack] | Sequence[str | Path] | None = None,
        reference: ReferenceData | Mapping[str, Any] | str | Path | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        disable: Iterable[str] = (),
        backend: str = "durable",
        lateness: timedelta | str = DEFAULT_LATENESS,
    ) -> None:
        if packs and all(isinstance(p, Pack) for p in packs):
            self.packs = list(packs)  # type: ignore[arg-type]
        else:
            self.packs = load_packs(packs or None, params=dict(params or {}), disable=disable)  # type: ignore[arg-type]
        self.plan: Plan = build_plan(self.packs)
        if isinstance(reference, str | Path):
            reference = load_reference(reference)
        elif reference is None:
            reference = ReferenceData()
        elif not isinstance(reference, ReferenceData):
            reference = ReferenceData.model_validate(dict(reference))
        self.reference: ReferenceData = reference
        self.index = ReferenceIndex(reference)
        section = reference.calendar.model_dump(exclude_none=True) if reference.calendar else None
        self.calendar = DutyCalendar.from_section(
            section, tz=reference.timezone, locate=lambda loc: reference.locate(("calendar", *loc))
        )
        self.env = RuleEnv(self.index, self.calendar)
        self.backend = get_backend(backend)
        prepare = getattr(self.backend, "prepare", None)
        if prepare is not None:
            prepare(self.plan, self.env)
        self.lateness = parse_duration(lateness) if isinstance(lateness, str) else lateness
        self.models = dict(EVENT_MODELS)
        for name, fields in self.plan.event_types.items():
            if name not in self.models:
                self.models[name] = make_custom_event_model(name, fields)

    def session(
        self,
        *,
        watermark: Literal["auto", "manual"] = "auto",
        lateness: timedelta | str | None = None,
        since: datetime | str | None = None,
        keep_findings: bool = True,
    ) -> Session:
        """A streaming session. With ``watermark="auto"`` the watermark trails the newest event
        by ``lateness``; with ``"manual"`` it moves only by :meth:`Session.advance_to`. A
        long-running session should pass ``keep_findings=False``: findings are then only returned
        by ``push``/``advance_to``/``close``, not kept for :meth:`Session.result`."""
        lag = (
            self.lateness
            if lateness is None
            else (parse_duration(lateness) if isinstance(lateness, str) else lateness)
        )
        return Session(
            self, auto=watermark == "auto", lateness=lag, since=since, keep=keep_findings
        )

    def run(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        until: datetime | str | None = None,
        since: datetime | str | None = None,
    ) -> RunResult:
        """Evaluate a batch of event dicts (validated and deduped here)."""
        with bulk_collections():
            return self._run(events, until=until, since=since)

    def _run(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        until: datetime | str | None,
        since: datetime | str | None,
    ) -> RunResult:
        if getattr(self.backend, "columnar", False):
            ingestor = Ingestor(self.calendar.tz, self.models)
            accepted = (ingestor.accept(dict(e)) for e in events)
            return self._run_columnar(
                ingestor, (e for e in accepted if e is not None), since, until
            )
        session = self.session(watermark="manual", since=since)
        for event in events:
            session.push(event)
        session.close(until=until)
        return session.result()

    def _run_columnar(
        self,
        ingestor: Ingestor,
        events: Iterable[dict[str, Any]],
        since: datetime | str | None,
        until: datetime | str | None,
    ) -> RunResult:
        """A bulk run on the columnar backend (DuckDB): same findings, same accounting."""
        from fourin_rules.backends.sql.run import ColumnarRun

        run = ColumnarRun(self.plan, self.env, self.reference.timezone)
        run.add_events(events)
        out = self._evaluate(run, since, until)
        return RunResult(
            findings=out.findings,
            stats=ingestor.stats,
            quarantine=list(ingestor.quarantine),
            errors=out.errors,
            horizon=out.horizon,
        )

    def _evaluate(
        self, run: Any, since: datetime | str | None, until: datetime | str | None
    ) -> Any:
        """Run the loaded columnar ``run``, on the backend's own SQL engine if it has one (Spark:
        the tables are copied there first)."""
        make = getattr(self.backend, "sql_engine", None)
        db = make(self.reference.timezone) if make is not None else None
        try:
            if db is not None:
                run.use(db)
            return run.run(since=self._since(since), until=self._until(until))
        finally:
            if db is not None:
                db.close()

    def _since(self, since: datetime | str | date | None) -> datetime | None:
        if isinstance(since, str | date) and not isinstance(since, datetime):
            return parse_timestamp(since, self.calendar.tz)
        return since

    def _until(self, until: datetime | str | None) -> datetime | None:
        """``until`` as a time; a date means the end of that local day."""
        if isinstance(until, str) and len(until) == 10:
            return self.calendar.day_bounds(date.fromisoformat(until))[1]
        return parse_timestamp(until, self.calendar.tz) if isinstance(until, str) else until

    def run_files(
        self,
        paths: Iterable[str | Path],
        *,
        until: datetime | str | None = None,
        since: datetime | str | None = None,
        progress: Any = None,
    ) -> RunResult:
        """Evaluate events read from JSONL/CSV files; bad rows are quarantined, never raised."""
        with bulk_collections():
            return self._run_files(paths, until=until, since=since, progress=progress)

    def _run_files(
        self,
        paths: Iterable[str | Path],
        *,
        until: datetime | str | None,
        since: datetime | str | None,
        progress: Any,
    ) -> RunResult:
        if getattr(self.backend, "columnar", False):
            from fourin_rules.backends.sql.run import ColumnarRun

            run = ColumnarRun(self.plan, self.env, self.reference.timezone)
            loaded = run.load_files(
                [paths] if isinstance(paths, str | Path) else list(paths), self.models
            )
            out = self._evaluate(run, since, until)
            return RunResult(
                findings=out.findings,
                stats=loaded.stats,
                quarantine=loaded.quarantine,
                errors=out.errors,
                horizon=out.horizon,
            )
        session = self.session(watermark="manual", since=since)
        for event in session.ingestor.read_files(paths):
            session._accept(event)
            if progress is not None:
                progress(1)
        session.close(until=until)
        return session.result()


class Session:
    """Events one at a time (or in batches); findings as soon as they are decided."""

    def __init__(
        self,
        engine: Engine,
        *,
        auto: bool,
        lateness: timedelta,
        since: datetime | str | None,
        keep: bool = True,
    ) -> None:
        self.engine = engine
        self.auto = auto
        self.lateness = lateness
        self.ingestor = Ingestor(engine.calendar.tz, engine.models)
        matcher = engine.backend.matcher(engine.plan, engine.env)
        start = engine._since(since)
        self.processor = Processor(engine.plan, engine.env, matcher, since=start)
        self.findings: list[Finding] = []
        self.keep = keep
        self._forgot_at: datetime | None = None
        self._years: set[int] = set()
        self.closed = False
        self.horizon: datetime | None = None

    def push(self, event: Mapping[str, Any]) -> list[Finding]:
        """Add one event (a dict as in the data contract); returns findings decided by it."""
        accepted = self.ingestor.accept(dict(event))
        if accepted is not None:
            self._accept(accepted)
        return self._drain()

    def push_many(self, events: Iterable[Mapping[str, Any]]) -> list[Finding]:
        out: list[Finding] = []
        for event in events:
            out.extend(self.push(event))
        return out

    def _accept(self, event: dict[str, Any]) -> None:
        if self.closed:
            raise RuntimeError("session is closed")
        self._check_year(event["time"])
        if not self.processor.add(event):
            wm = self.processor.watermark
            self.ingestor.mark_late(
                event,
                f"late: event time {event['time'].isoformat()} is before the "
                f"watermark {wm.isoformat() if wm else '?'}",
            )
            return
        if self.auto and self.processor.max_time is not None:
            target = self.processor.max_time - self.lateness
            wm = self.processor.watermark
            # Move the watermark in steps (a batch of events, or ADVANCE_STEP of event time):
            # deciding after every single event would rescan every operator's state each time.
            if (
                wm is None
                or target - wm >= ADVANCE_STEP
                or self.processor.pending() >= ADVANCE_BATCH
            ):
                self.processor.advance(target)

    def _check_year(self, t: datetime) -> None:
        year = self.engine.calendar.local_date(t).year
        if year not in self._years:
            self.engine.calendar.is_duty_day(date(year, 1, 1))  # raises calendar-missing-year
            self._years.add(year)

    def advance_to(self, t: datetime | str) -> list[Finding]:
        """Declare that no event before ``t`` will come; returns the findings that decides."""
        wm = parse_timestamp(t, self.engine.calendar.tz) if isinstance(t, str) else t
        self.processor.advance(wm)
        return self._drain()

    def close(self, until: datetime | str | None = None) -> list[Finding]:
        """End of stream: decide everything. Periods ending after ``until`` (default: the newest
        event) are reported as provisional."""
        horizon = self.engine._until(until)
        self.processor.finish(horizon)
        self.horizon = horizon or self.processor.max_time
        self.closed = True
        return self._drain()

    def _drain(self) -> list[Finding]:
        new = sort_findings(self.processor.drain())
        if self.keep:
            self.findings.extend(new)
        wm = self.processor.watermark
        if wm is not None and (self._forgot_at is None or wm - self._forgot_at >= FORGET_EVERY):
            # Identities of events the watermark passed long ago are no longer needed for
            # dedupe: such an event sent again is late.
            self._forgot_at = wm
            self.ingestor.ledger.forget_before(wm - FORGET_AFTER)
        return new

    @property
    def stats(self) -> IngestStats:
        return self.ingestor.stats

    def result(self) -> RunResult:
        """Everything so far: sorted findings, counts, quarantine, late events, rule errors."""
        return RunResult(
            findings=sort_findings(self.findings),
            stats=self.ingestor.stats,
            quarantine=list(self.ingestor.quarantine),
            late=list(self.processor.late),
            errors=list(self.processor.matcher.errors) + list(self.processor.errors),
            horizon=self.horizon,
        )
