"""Load event files into the event tables, with the same outcome as the Python ingest.

JSON Lines (and Parquet, turned into JSON text row by row) take a fast path where DuckDB reads,
splits and parses the file and a SQL check (``check.py``) decides which rows are valid. Rows the
check refuses, rare in real data, are decided by the Python readers and validator, which also
word the quarantine reasons; CSV files take the Python path throughout. Dedupe follows the ledger:
the first ``(type, id)`` stands, the same content again is a duplicate, other content a conflict.

The oracle is :meth:`fourin_rules.ingest.Ingestor.read_files`: the same counts, the same
quarantine records in the same order, the same events admitted.
"""

from __future__ import annotations

import functools
import gzip
import tempfile
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import orjson
from sqlglot import exp

from fourin_rules.backends.sql.check import fn, lit, macros, type_check
from fourin_rules.backends.sql.db import worker_pool
from fourin_rules.backends.sql.rules import model_spec
from fourin_rules.backends.sql.schema import (
    column_type,
    create_table,
    integer_fields,
    local_selects,
    table_name,
)
from fourin_rules.backends.sql.sqltree import union_all
from fourin_rules.backends.sql.tables import EventRow, insert_rows
from fourin_rules.errors import FourinError

# The ledger's way of showing an id in a conflict reason, and the JSON Lines reader of one line:
# reused so that reasons and raw texts are the Python ingest's own.
from fourin_rules.ingest.ledger import IngestStats, QuarantineRecord, _show, event_digest
from fourin_rules.ingest.readers import RawRow, _iter_jsonl, iter_raw
from fourin_rules.ingest.validate import EventValidator, Rejection
from fourin_rules.model import types as vt
from fourin_rules.model.events import BaseEvent
from fourin_rules.timeutil import get_tz

__all__ = ["LoadResult", "load_files"]

_JSONL = (".jsonl", ".ndjson")
_MACRO_NAMES = ("_ld_naive_ok", "_ld_time_ok", "_ld_deadline_ok", "_ld_deadline")
_BLANK = " \t\r\x0b\x0c"  # what bytes.strip() removes (besides the line break)
_BOM = "\ufeff"


@dataclass
class LoadResult:
    """What :func:`load_files` read: the counts and the quarantine, in read order."""

    stats: IngestStats
    quarantine: list[QuarantineRecord]


@dataclass
class _Candidate:
    """A row the Python validator accepted (the check refused it, or it came from CSV)."""

    seq: int
    file: str
    line: int
    event: dict[str, Any]
    raw: str  # the JSON object text (``_raw``)
    shown: str  # the text a conflict's quarantine record shows


@dataclass
class _State:
    files: list[str] = field(default_factory=list)
    rejects: list[tuple[int, QuarantineRecord]] = field(default_factory=list)
    candidates: list[_Candidate] = field(default_factory=list)
    next_seq: int = 0
    unterminated: dict[int, int] = field(default_factory=dict)  # file -> last line, no break


def load_files(
    con: duckdb.DuckDBPyConnection,
    paths: str | Path | Iterable[str | Path],
    *,
    models: Mapping[str, type[BaseEvent]],
    event_types: Mapping[str, Mapping[str, str]],
    tz: ZoneInfo | str,
    start_seq: int = 0,
    workers: int = 1,
) -> LoadResult:
    """Fill the ``ev_<type>`` tables (created when missing) from ``.jsonl``/``.ndjson``
    (optionally ``.gz``), ``.csv`` (optionally ``.gz``) and ``.parquet`` files. ``workers``:
    how many types are checked (and inserted) at once, each on a connection of its own.

    Raises:
        FourinError: ``input-file`` when a file cannot be read or its type is unknown, or a
            Parquet column has a type its field cannot take.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    zone = get_tz(tz) if isinstance(tz, str) else tz
    con.execute(f"SET TimeZone = '{zone.key}'")
    loader = _Loader(con, models, event_types, zone, start_seq, workers)
    try:
        for path in paths:
            loader.add(path)
        return loader.finish()
    finally:
        loader.drop()


class _NotText(Exception):
    """The file must be read as bytes first."""


class _Loader:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        models: Mapping[str, type[BaseEvent]],
        event_types: Mapping[str, Mapping[str, str]],
        tz: ZoneInfo,
        start_seq: int,
        workers: int = 1,
    ) -> None:
        self.con = con
        self.workers = workers
        self.models = models
        self.event_types = event_types
        self.tz = tz
        self.validator = EventValidator(tz, models)
        self.state = _State(next_seq=start_seq)
        self.tmp = tempfile.TemporaryDirectory(prefix="fourin-load-")
        self.work_tables: list[str] = []
        # The types the SQL checks; ``_tid``: the one a line seems to name (its 1-based index
        # here, see :func:`_route`), which picks its check. NULL: the line is for Python.
        self.routed = sorted(
            name for name in event_types if name in models and model_spec(models[name]).supported
        )
        self._create(
            "_ld_lines", "_seq BIGINT, _fi INTEGER, _line BIGINT, _text VARCHAR, _tid INTEGER"
        )
        self.macros = _MACRO_NAMES
        # The checks' SQL is rendered by a thread of its own while DuckDB reads the files.
        self._renderer = ThreadPoolExecutor(1)
        self._checks = self._renderer.submit(self._render_checks)

    def _render_checks(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """The macros the checks call, and each routed type's check (cached per process)."""
        return _macro_sql(self.tz), {
            etype: _stage_sql(
                self.models[etype], tuple(self.event_types[etype].items()), self.tz, etype, tid
            )
            for tid, etype in enumerate(self.routed, start=1)
        }

    # ------------------------------------------------------------------ reading files

    def add(self, path: str | Path) -> None:
        p = Path(path)
        name = p.name.lower()
        fi = len(self.state.files)
        self.state.files.append(str(path))
        if name.endswith(".parquet"):
            self._parquet(p, fi)
        elif name.endswith(_JSONL) or name.endswith(tuple(e + ".gz" for e in _JSONL)):
            self._jsonl(path, fi)
        else:
            self._python_file(path, fi)  # CSV, or the readers' own error for other files

    def _jsonl(self, path: str | Path, fi: int) -> None:
        p = Path(path)
        base = self.state.next_seq
        python_lines: dict[int, bytes] = {}
        try:
            if p.name.lower().endswith(".gz") or not _plain_file(p):
                raise _NotText
            self._insert_lines(p, fi, base)
        except (_NotText, duckdb.InvalidInputException, duckdb.IOException):
            # Not UTF-8 throughout (or compressed, or unreadable): Python reads the bytes, and
            # DuckDB a copy without the lines that are not UTF-8, which Python decides.
            data = self._read_bytes(path)
            lines = data.split(b"\n")
            for i, line in enumerate(lines):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    python_lines[i + 1] = line
                    lines[i] = b""
            source = Path(self.tmp.name) / f"{fi}.jsonl"
            source.write_bytes(b"\n".join(lines))
            self._insert_lines(source, fi, base)
            terminated = _closed(data.rsplit(b"\n", 1)[-1])
        else:
            terminated = _closed(_last_line(p))
        (last,) = self.con.execute(
            exp.select(fn("max", _c("_line")))
            .from_("_ld_lines")
            .where(exp.EQ(this=_c("_fi"), expression=lit(fi)))
            .sql(dialect="duckdb")
        ).fetchone() or (None,)
        if not terminated:
            self.state.unterminated[fi] = max([last or 0, *python_lines])
        for lineno, line in sorted(python_lines.items()):
            if lineno == 1 and line.startswith(_BOM.encode()):
                line = line[3:]
            self._python_line(fi, base + lineno, lineno, line)
        self.state.next_seq = base + max([last or 0, *python_lines]) + 1

    def _insert_lines(self, source: Path, fi: int, base: int) -> None:
        """Split a UTF-8 file into its non-blank lines (numbered as the readers number them)."""
        split = exp.select(
            exp.alias_(fn("unnest", fn("generate_series", lit(1), fn("len", _c("s")))), "line"),
            exp.alias_(fn("unnest", _c("s")), "text"),
        ).from_(
            exp.select(exp.alias_(fn("string_split", _c("content"), fn("chr", lit(10))), "s"))
            .from_(fn("read_text", lit(str(source))))
            .subquery("t")
        )
        unbommed = exp.Case(
            ifs=[
                exp.If(
                    this=exp.and_(
                        exp.EQ(this=_c("line"), expression=lit(1)),
                        fn("starts_with", _c("text"), lit(_BOM)),
                    ),
                    true=fn("substr", _c("text"), lit(2)),
                )
            ],
            default=_c("text"),
        )
        rows = exp.select(
            exp.alias_(exp.Add(this=lit(base), expression=_c("line")), "_seq"),
            exp.alias_(lit(fi), "_fi"),
            exp.alias_(_c("line"), "_line"),
            exp.alias_(_c("text"), "_text"),  # with its carriage returns, as Python reads it
            exp.alias_(_route_id(_c("text"), self.routed), "_tid"),
        ).from_(
            exp.select(_c("line"), exp.alias_(unbommed, "text"))
            .from_(split.subquery("s"))
            .subquery("u")
        )
        blank = exp.or_(
            exp.EQ(this=_c("text"), expression=lit("")),
            exp.and_(
                exp.In(this=fn("ascii", _c("text")), expressions=[lit(ord(c)) for c in _BLANK]),
                exp.EQ(this=fn("trim", _c("text"), lit(_BLANK)), expression=lit("")),
            ),
        )
        rows = rows.where(exp.not_(blank))
        self.con.execute(exp.insert(rows, "_ld_lines").sql(dialect="duckdb"))

    def _read_bytes(self, path: str | Path) -> bytes:
        p = Path(path)
        try:
            if p.name.lower().endswith(".gz"):
                with gzip.open(p, "rb") as fh:
                    return fh.read()
            return p.read_bytes()
        except (OSError, EOFError):
            for _ in iter_raw(path, self.models):  # raises the readers' own input-file error
                pass
            raise FourinError("input-file", f"cannot read events file {p}") from None

    def _python_file(self, path: str | Path, fi: int) -> None:
        """CSV (and anything the readers decide): the Python readers and validator."""
        base = self.state.next_seq
        top = 0
        for row in iter_raw(path, self.models):
            top = row.line
            self._python_row(base + row.line, row, csv=True)
        self.state.next_seq = base + top + 1

    def _parquet(self, p: Path, fi: int) -> None:
        if not _plain_file(p):
            try:
                data = p.read_bytes()
            except OSError as exc:
                reason = exc.strerror or exc
                raise FourinError("input-file", f"cannot read events file {p}: {reason}") from None
            copy = Path(self.tmp.name) / f"{fi}.parquet"
            copy.write_bytes(data)
            self._parquet_rows(p, copy, fi)
        else:
            self._parquet_rows(p, p, fi)

    def _parquet_rows(self, p: Path, path: Path, fi: int) -> None:
        source = fn(
            "read_parquet",
            lit(str(path)),
            exp.EQ(this=exp.var("file_row_number"), expression=exp.true()),
        )
        try:
            described = self.con.execute(
                f"DESCRIBE {exp.select('*').from_(source).sql(dialect='duckdb')}"
            ).fetchall()
        except duckdb.Error as exc:
            raise FourinError("input-file", f"cannot read events file {p}: {exc}") from None
        columns = [(row[0], row[1]) for row in described if row[0] != "file_row_number"]
        self._check_parquet_types(p, columns)
        base = self.state.next_seq
        record = fn(
            "struct_pack",
            *[
                exp.PropertyEQ(this=exp.to_identifier(n, quoted=True), expression=_c(n))
                for n, _ in columns
            ],
        )
        text = fn("json_merge_patch", lit("{}"), fn("to_json", record))  # drops NULLs
        line = exp.Add(this=_c("file_row_number"), expression=lit(1))
        rows = exp.select(
            "_seq", "_fi", "_line", "_text", exp.alias_(_route_id(_c("_text"), self.routed), "_tid")
        ).from_(
            exp.select(
                exp.alias_(exp.Add(this=lit(base), expression=line), "_seq"),
                exp.alias_(lit(fi), "_fi"),
                exp.alias_(line.copy(), "_line"),
                exp.alias_(_cast(text, "VARCHAR"), "_text"),
            )
            .from_(source)
            .subquery("p")
        )
        try:
            self.con.execute(exp.insert(rows, "_ld_lines").sql(dialect="duckdb"))
            (count,) = self.con.execute(
                exp.select(fn("count", exp.Star())).from_(source).sql(dialect="duckdb")
            ).fetchone() or (0,)
        except duckdb.Error as exc:
            raise FourinError("input-file", f"cannot read events file {p}: {exc}") from None
        self.state.next_seq = base + count + 1

    def _check_parquet_types(self, p: Path, columns: list[tuple[str, str]]) -> None:
        declared: dict[str, set[str]] = {}
        for fields in self.event_types.values():
            for name, value_type in fields.items():
                declared.setdefault(name, set()).add(value_type)
        declared.setdefault("type", set()).add(vt.STR)
        for name, sql_type in columns:
            for value_type in sorted(declared.get(name, ())):
                if not _parquet_fits(sql_type, value_type):
                    raise FourinError(
                        "input-file",
                        f"cannot load {p}: column {name!r} is {sql_type}, which field "
                        f"{name!r} ({value_type}, stored as "
                        f"{column_type(value_type).sql(dialect='duckdb')}) cannot take",
                    )

    # ------------------------------------------------------------------ the Python path

    def _python_line(self, fi: int, seq: int, lineno: int, line: bytes) -> None:
        """One JSON Lines row decided in Python, exactly as the ingest reads it."""
        file = self.state.files[fi]
        # The reader sees the line with its line break (error positions count it); a leading
        # empty line makes it line 2 (no BOM stripping: that was done).
        if self.state.unterminated.get(fi) != lineno:
            line += b"\n"
        for row in _iter_jsonl(file, iter([b"\n", line])):
            self._python_row(seq, RawRow(file, lineno, row.data, row.error, row.field, row.raw))

    def _python_row(self, seq: int, row: RawRow, *, csv: bool = False) -> None:
        state = self.state
        if row.data is None:
            record = QuarantineRecord(row.file, row.line, row.field, row.error or "", row.raw)
            state.rejects.append((seq, record))
            return
        result = self.validator.validate(row.data)
        if isinstance(result, Rejection):
            record = QuarantineRecord(row.file, row.line, result.field, result.reason, row.raw)
            state.rejects.append((seq, record))
            return
        raw = orjson.dumps(row.data).decode() if csv else row.raw
        state.candidates.append(_Candidate(seq, row.file, row.line, result, raw, row.raw))

    # ------------------------------------------------------------------ checking, deduping

    def finish(self) -> LoadResult:
        con = self.con
        present = con.execute(
            "SELECT _tid, count(*) FROM _ld_lines WHERE _tid IS NOT NULL GROUP BY _tid "
            "ORDER BY _tid"
        ).fetchall()
        checked = [self.routed[tid - 1] for tid, _ in present]
        macro_sql, checks = self._checks.result()
        for statement in macro_sql:
            con.execute(statement)
        # The types with the most lines first: the workers finish close together.
        by_size = sorted(zip(present, checked, strict=True), key=lambda item: -item[0][1])
        self._execute_all([self._create_sql(_stage(etype), checks[etype]) for _, etype in by_size])
        # Rows for Python: of no type the SQL checks, or refused by their type's check.
        refused = [
            exp.select("_seq", "_fi", "_line", "_text")
            .from_("_ld_lines")
            .where(exp.Is(this=_c("_tid"), expression=exp.null()))
        ]
        for etype in checked:
            refused.append(
                exp.select("_seq", "_fi", "_line", "_text")
                .from_(_stage(etype))
                .where(exp.not_(_c("_ok")))
            )
        rows = con.execute(
            exp.select("*")
            .from_(union_all(refused, copy=False).subquery("r"))
            .order_by("_seq")
            .sql(dialect="duckdb", copy=False)
        ).fetchall()
        for seq, fi, lineno, text in rows:
            self._python_line(fi, seq, lineno, text.encode("utf-8", "surrogatepass"))
        return self._dedupe(checked)

    def _dedupe(self, checked: list[str]) -> LoadResult:
        """Duplicates and conflicts. Only the ``(type, id)`` keys are grouped; the texts are
        read for the few rows whose key is not unique."""
        con, state = self.con, self.state
        self._create("_ld_py", "seq BIGINT, type VARCHAR, id VARCHAR, raw VARCHAR")
        by_seq = {c.seq: c for c in state.candidates}
        if state.candidates:
            path = Path(self.tmp.name) / "py.jsonl"
            path.write_bytes(
                b"".join(
                    orjson.dumps(
                        {"seq": c.seq, "type": c.event["type"], "id": c.event["id"], "raw": c.raw}
                    )
                    + b"\n"
                    for c in state.candidates
                )
            )
            con.execute(
                "INSERT INTO _ld_py SELECT * FROM read_json(?, format = 'newline_delimited', "
                "columns = {'seq': 'BIGINT', 'type': 'VARCHAR', 'id': 'VARCHAR', "
                "'raw': 'VARCHAR'})",
                [str(path)],
            )
        count = len(state.candidates)
        if checked:
            counts = [
                exp.select(exp.alias_(fn("count", exp.Star()), "n"))
                .from_(_stage(etype))
                .where(_c("_ok"))
                for etype in checked
            ]
            query = exp.select(fn("sum", _c("n"))).from_(
                union_all(counts, copy=False).subquery("c")
            )
            (total,) = con.execute(query.sql(dialect="duckdb", copy=False)).fetchone() or (0,)
            count += int(total or 0)
        later = self._later(checked) if self._has_repeats(checked) else []
        stats = IngestStats()
        digests: dict[int, bytes] = {}
        late_seqs: list[int] = []
        quarantine = list(state.rejects)
        for seq, etype, eid, raw, first_seq, first_raw, fi, line, ffi, fline in later:
            late_seqs.append(seq)
            if raw == first_raw or self._digest(first_seq, first_raw, digests) == self._digest(
                seq, raw, digests
            ):
                stats.duplicate += 1
                continue
            stats.conflict += 1
            file, line, shown = self._where(seq, fi, line, raw, by_seq)
            ffile, fline_, _ = self._where(first_seq, ffi, fline, first_raw, by_seq)
            reason = (
                f"conflict: ({_show(etype)}, {_show(eid)}) seen at {ffile}:{fline_} "
                "with different content"
            )
            quarantine.append((seq, QuarantineRecord(file, line, "id", reason, shown)))
        quarantine.sort(key=lambda item: item[0])
        stats.quarantined = len(state.rejects)
        stats.valid = count - len(late_seqs)
        stats.read = stats.valid + stats.duplicate + stats.conflict + stats.quarantined
        self._insert(checked, late_seqs, by_seq)
        return LoadResult(stats, [record for _, record in quarantine])

    def _has_repeats(self, checked: list[str]) -> bool:
        """Fill ``_ld_dup`` with the admitted rows (SQL or Python) whose ``(type, id)`` is
        not unique; whether there are any. Each type's ids are grouped on their own."""
        py_id = exp.select("id").from_("_ld_py")
        groups = []
        for etype in checked:
            ids = exp.union(
                exp.select("id").from_(_stage(etype)).where(_c("_ok")),
                py_id.copy().where(exp.EQ(this=_c("type"), expression=lit(etype))),
                distinct=False,
            )
            groups.append(
                exp.select(exp.alias_(lit(etype), "type"), "id")
                .from_(ids.subquery("i"))
                .group_by("id")
                .having(exp.GT(this=fn("count", exp.Star()), expression=lit(1)))
            )
        others = exp.select("type", "id").from_("_ld_py")
        if checked:
            others = others.where(
                exp.not_(exp.In(this=_c("type"), expressions=[lit(t) for t in checked]))
            )
        groups.append(
            others.group_by("type", "id").having(
                exp.GT(this=fn("count", exp.Star()), expression=lit(1))
            )
        )
        candidates = [
            exp.select(exp.alias_(_c("_seq"), "seq"), exp.alias_(lit(etype), "type"), "id")
            .from_(_stage(etype))
            .where(_c("_ok"))
            for etype in checked
        ]
        candidates.append(exp.select("seq", "type", "id").from_("_ld_py"))
        query = (
            exp.select("c.seq", "c.type", "c.id")
            .from_(union_all(candidates, copy=False).subquery("c"))
            .join(
                union_all(groups, copy=False).subquery("m"),
                on="c.type = m.type AND c.id = m.id",
                join_type="semi",
            )
        )
        self._create_as("_ld_dup", query)
        (n,) = self.con.execute("SELECT count(*) FROM _ld_dup").fetchone() or (0,)
        return bool(n)

    def _later(self, checked: list[str]) -> list[tuple[Any, ...]]:
        """The rows of ``_ld_dup`` after the first of their key, in read order: seq, type, id,
        raw, and the first row's seq and raw; the (file index, line) of both (NULL for rows
        decided in Python)."""
        wanted = exp.In(this=_c("seq"), query=exp.select("seq").from_("_ld_dup").subquery())
        texts = [
            exp.select(
                exp.alias_(_c("_seq"), "seq"),
                exp.alias_(_strip_cr(_c("_text")), "raw"),
                exp.alias_(_c("_fi"), "fi"),
                exp.alias_(_c("_line"), "line"),
            )
            .from_(_stage(etype))
            .where(
                # Admitted rows only: a refused row's seq may be a Python candidate's.
                exp.and_(
                    _c("_ok"),
                    exp.In(this=_c("_seq"), query=exp.select("seq").from_("_ld_dup").subquery()),
                )
            )
            for etype in checked
        ]
        texts.append(
            exp.select(
                "seq",
                "raw",
                exp.alias_(_cast(exp.null(), "INTEGER"), "fi"),
                exp.alias_(_cast(exp.null(), "BIGINT"), "line"),
            )
            .from_("_ld_py")
            .where(wanted)
        )
        self._create_as("_ld_texts", union_all(texts, copy=False))
        return self.con.execute(
            """
            WITH ranked AS (
                SELECT d.seq, d.type, d.id, t.raw, t.fi, t.line,
                       row_number() OVER w AS rn, first_value(d.seq) OVER w AS first_seq,
                       first_value(t.raw) OVER w AS first_raw,
                       first_value(t.fi) OVER w AS first_fi,
                       first_value(t.line) OVER w AS first_line
                FROM _ld_dup d JOIN _ld_texts t ON t.seq = d.seq
                WINDOW w AS (PARTITION BY d.type, d.id ORDER BY d.seq)
            )
            SELECT seq, type, id, raw, first_seq, first_raw, fi, line, first_fi, first_line
            FROM ranked WHERE rn > 1 ORDER BY seq
            """
        ).fetchall()

    def _digest(self, seq: int, raw: str, cache: dict[int, bytes]) -> bytes:
        if seq not in cache:
            result = self.validator.validate(orjson.loads(raw))
            assert not isinstance(result, Rejection), raw  # it was admitted once already
            cache[seq] = event_digest(result)
        return cache[seq]

    def _where(
        self, seq: int, fi: int | None, line: int | None, raw: str, by_seq: dict[int, _Candidate]
    ) -> tuple[str, int, str]:
        """(file, line, shown text) of a candidate row."""
        cand = by_seq.get(seq)
        if cand is not None:
            return cand.file, cand.line, cand.shown
        assert fi is not None and line is not None
        return self.state.files[fi], line, raw

    def _insert(self, checked: list[str], late: list[int], by_seq: dict[int, _Candidate]) -> None:
        con = self.con
        if late:
            self._create("_ld_late", "seq BIGINT")
            con.execute("INSERT INTO _ld_late SELECT unnest(?::BIGINT[])", [late])
        existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        for etype, fields in self.event_types.items():
            if table_name(etype) not in existing:
                con.execute(create_table(etype, fields).sql(dialect="duckdb"))
        files = self.state.files
        if len(files) == 1:
            file: exp.Expression = lit(files[0])
        else:  # the file's name by its index: a lookup in a constant list, in row order
            names = exp.Array(expressions=[lit(f) for f in files])
            file = fn("list_extract", names, exp.Add(this=_c("_fi"), expression=lit(1)))
        inserts = []
        for etype in checked:
            names = [n for n in self.event_types[etype] if n != "type"]
            locals_ = local_selects(self.event_types[etype])
            select = exp.select(
                "_seq",
                exp.alias_(file.copy(), "_file"),
                "_line",
                exp.alias_(_strip_cr(_c("_text")), "_raw"),
                *[_c(n) for n in names],
                *locals_,
            ).from_(_stage(etype))
            keep: exp.Expression = _c("_ok")
            if late:
                keep = exp.and_(
                    keep,
                    exp.not_(
                        exp.In(
                            this=_c("_seq"), query=exp.select("seq").from_("_ld_late").subquery()
                        )
                    ),
                )
            select = select.where(keep)
            columns = ["_seq", "_file", "_line", "_raw", *names, *[a.alias for a in locals_]]
            insert = exp.Insert(
                this=exp.Schema(
                    this=exp.to_table(table_name(etype)),
                    expressions=[exp.to_identifier(c, quoted=True) for c in columns],
                ),
                expression=select,
            )
            inserts.append(insert.sql(dialect="duckdb", copy=False))
        self._execute_all(inserts)
        late_set = set(late)
        for cand in self.state.candidates:
            if cand.seq not in late_set:
                _check_fits(cand)
        rows = [
            EventRow(c.event, c.seq, c.file, c.line, c.raw)
            for c in self.state.candidates
            if c.seq not in late_set and c.event["type"] in self.event_types
        ]
        if rows:
            insert_rows(con, rows, self.event_types)

    def _execute_all(self, statements: list[str]) -> None:
        """Run independent statements, ``workers`` at a time, in the order given; each worker
        on a connection of its own (DuckDB runs each while the GIL is free) and with its share
        of DuckDB's threads."""
        if self.workers < 2 or len(statements) < 2:
            for statement in statements:
                self.con.execute(statement)
            return
        local = threading.local()
        with worker_pool(
            self.con, self.workers, self.tz.key, lambda cursor: setattr(local, "cursor", cursor)
        ) as pool:
            list(pool.map(lambda statement: local.cursor.execute(statement), statements))

    # ------------------------------------------------------------------ work tables
    # Plain tables of the connection's database, not TEMP ones: the workers' connections
    # read them. Their names begin with ``_ld_``; :meth:`drop` removes them.

    def _create(self, name: str, columns: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} ({columns})")
        self.work_tables.append(name)

    def _create_sql(self, name: str, query: exp.Expression | str) -> str:
        """``CREATE OR REPLACE TABLE name AS query``, the table to be dropped at the end."""
        text = query if isinstance(query, str) else query.sql(dialect="duckdb", copy=False)
        self.work_tables.append(name)
        return (
            f"CREATE OR REPLACE TABLE {exp.to_identifier(name, quoted=True).sql('duckdb')} "
            f"AS {text}"
        )

    def _create_as(self, name: str, query: exp.Expression | str) -> None:
        self.con.execute(self._create_sql(name, query))

    def drop(self) -> None:
        self._renderer.shutdown(cancel_futures=True)
        for name in self.macros:
            self.con.execute(f"DROP MACRO IF EXISTS {name}")
        for name in dict.fromkeys(self.work_tables):
            self.con.execute(
                f"DROP TABLE IF EXISTS {exp.to_identifier(name, quoted=True).sql('duckdb')}"
            )
        self.tmp.cleanup()


_BIGINT = (-(2**63), 2**63 - 1)


def _check_fits(cand: _Candidate) -> None:
    """Counts are BIGINT columns: refuse a valid event whose count does not fit one."""
    for name in integer_fields(cand.event["type"]):
        value = cand.event.get(name)
        if isinstance(value, int) and not _BIGINT[0] <= value <= _BIGINT[1]:
            raise FourinError(
                "backend-limit",
                f"{cand.file}:{cand.line}: {name} = {value} does not fit the SQL backend's "
                "64-bit integers",
            )


def _last_line(p: Path) -> bytes:
    """The bytes after the file's last line break (empty when it ends with one)."""
    with p.open("rb") as fh:
        end = fh.seek(0, 2)
        tail = b""
        while end > 0 and b"\n" not in tail:
            start = max(0, end - 65536)
            fh.seek(start)
            tail = fh.read(end - start) + tail
            end = start
    return tail.rsplit(b"\n", 1)[-1]


def _closed(last: bytes) -> bool:
    """Whether no line is left unterminated: the text after the last line break is blank (the
    readers skip it; the line before it keeps its line break)."""
    return not last.strip(_BLANK.encode())


def _plain_file(p: Path) -> bool:
    """A file DuckDB may open by name: it exists and its name is not a glob pattern."""
    return p.is_file() and not any(c in str(p) for c in "*?[{")


def _strip_cr(text: exp.Expression) -> exp.Expression:
    """``text`` without trailing carriage returns (the CASE spares rtrim, which is slow)."""
    return exp.Case(
        ifs=[
            exp.If(this=fn("ends_with", text, lit("\r")), true=fn("rtrim", text.copy(), lit("\r")))
        ],
        default=text.copy(),
    )


def _c(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _cast(e: exp.Expression, to: str) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build(to, dialect="duckdb"))


@functools.lru_cache(maxsize=128)
def _stage_sql(
    model: type[BaseEvent], fields: tuple[tuple[str, str], ...], tz: ZoneInfo, etype: str, tid: int
) -> str:
    """The SQL of one type's check over the lines routed to it (``_tid``; cached per process)."""
    check = type_check(model_spec(model), dict(fields), tz, etype)
    source = (
        exp.select("_seq", "_fi", "_line", "_text")
        .from_("_ld_lines")
        .where(exp.EQ(this=_c("_tid"), expression=lit(tid)))
    )
    select = check.select(source.subquery("src"), ["_seq", "_fi", "_line", "_text"])
    return select.sql(dialect="duckdb", copy=False)


@functools.lru_cache(maxsize=16)
def _macro_sql(tz: ZoneInfo) -> tuple[str, ...]:
    """``CREATE MACRO`` statements of the timestamp rules of ``tz`` (cached)."""
    return tuple(
        f"CREATE OR REPLACE MACRO {name}({', '.join(params)}) AS {body.sql(dialect='duckdb')}"
        for name, (params, body) in macros(tz).items()
    )


def _stage(etype: str) -> str:
    return f"_ld_st_{etype}"


#: A line that begins with the ``type`` key and a plain string (as writers put it): group 1.
_TYPE_KEY = r'^\{"type": ?"([^"\\]*)"'


def _route_id(text: exp.Expression, routed: list[str]) -> exp.Expression:
    """The 1-based index in ``routed`` of the type a line seems to name (NULL when none): the
    lines' check is picked by an integer, which the checks' scans compare much faster."""
    if not routed:
        return exp.Cast(this=exp.null(), to=exp.DataType.build("INTEGER"))
    return fn("list_position", exp.Array(expressions=[lit(t) for t in routed]), _route(text))


def _route(text: exp.Expression) -> exp.Expression:
    """The type a line seems to name, which only picks the check that decides it: the type
    check itself verifies ``type`` (and refuses to Python when it differs). Lines that begin
    with the ``type`` key, as writers put it, are read without parsing; others are parsed."""
    path = lit("$.type")
    exact = exp.Case(
        ifs=[
            exp.If(
                this=fn("json_valid", text.copy()),
                true=exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.EQ(
                                this=fn("json_type", text.copy(), path),
                                expression=lit("VARCHAR"),
                            ),
                            true=fn("json_extract_string", text.copy(), path.copy()),
                        )
                    ]
                ),
            )
        ]
    )
    quick = fn("nullif", fn("regexp_extract", text, lit(_TYPE_KEY), lit(1)), lit(""))
    return exp.Coalesce(this=quick, expressions=[exact])


_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
)


def _parquet_fits(sql_type: str, value_type: str) -> bool:
    """Whether a Parquet column of ``sql_type`` can hold values of ``value_type``."""
    t = sql_type.upper()
    if value_type == vt.ANY:
        return True
    if vt.is_list(value_type):
        if not t.endswith("[]"):
            return False
        inner = vt.element_type(value_type)
        if vt.is_record(inner):
            return t.startswith("STRUCT(")
        return _parquet_fits(t[:-2], inner)
    if value_type == vt.STR:
        return t == "VARCHAR"
    if value_type == vt.NUMBER:
        return t in _NUMERIC or t.startswith("DECIMAL")
    if value_type == vt.BOOL:
        return t == "BOOLEAN"
    if value_type == vt.TIME:
        return t in ("VARCHAR", "DATE") or t.startswith("TIMESTAMP")
    if value_type == vt.DATE:
        return t in ("VARCHAR", "DATE")
    return False
