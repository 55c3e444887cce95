"""Fault and abuse suite, ingest: fuzzed files of malformed and odd lines.

Every example is a batch of generated lines (broken JSON, wrong types, huge numbers, NaN and
Infinity, invalid UTF-8, surrogates, BOMs, NULs, missing fields, wrong time formats, nested junk,
valid events, exact duplicates and conflicts) written to a ``.jsonl`` file and, row for row, to a
``.csv`` file. The properties:

- nothing escapes :meth:`Ingestor.read_files` or :meth:`Engine.run_files`;
- every non-blank line is accounted for: ``read`` is the number of non-blank lines (CSV: rows)
  and ``read == valid + duplicate + conflict + late + quarantined``;
- every quarantine record names the file, the line the row is on (its text is that line) and a
  non-empty, printable reason without Python noise;
- lines known to be good are never refused (only a conflict may quarantine them), lines known to
  be bad are always refused, copies are duplicates and altered copies conflicts, exactly.

A CI run feeds at least ``MIN_LINES`` lines to each of 150 files (60 JSONL, 50 CSV, 20 runs of
both): 12,000 lines, about 20,000 in practice (see
``test_a_ci_run_fuzzes_at_least_ten_thousand_lines``). For a nightly run set
``FOURIN_FUZZ_EXAMPLES`` (e.g. 200000) to the total number of examples to spread over the tests
in the same proportions. docs/reliability.md lists what each test guarantees.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError
from fourin_rules.ingest import Ingestor, QuarantineRecord

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "rules" / "fixtures" / "small-county.yaml"
SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

MIN_LINES, MAX_LINES = 80, 200
#: Default examples per fuzz test; FOURIN_FUZZ_EXAMPLES (a total) scales them in proportion.
EXAMPLES = {"jsonl": 60, "csv": 50, "run_files": 20}
_TOTAL = int(os.environ.get("FOURIN_FUZZ_EXAMPLES", "0") or 0)
_SCALE = _TOTAL / sum(EXAMPLES.values()) if _TOTAL else 1.0
LINES_FED: dict[str, int] = {}


def _examples(name: str) -> int:
    return max(1, round(EXAMPLES[name] * _SCALE))


def _fuzz_settings(name: str) -> settings:
    # No shrinking: a batch cannot shrink below MIN_LINES and each try writes and reads files;
    # a failure names the line, its kind and its text instead.
    return settings(
        max_examples=_examples(name),
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------------------- the lines

GOOD, BAD, ANY, BLANK = "good", "bad", "any", "blank"

ODD_TEXT = [
    "金色年华KTV",
    "café",
    "e\u0301\u0301",  # combining marks
    "\u202eVTK\u202c",  # right-to-left override
    "zero\u200bwidth\u200d",
    "🎤🍺",
    "nul\u0000inside",
    "line\u2028sep\u2029",
    "tab\tand\u000bvt",
    'quote"s and \\back',
    "\ufeffbom in text",
    "\uffff\ufffe",
    "𝕂𝕋𝕍",
    "  padded  ",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "x" * 3000,
]
BAD_TIMES = [
    "2026-13-45T08:00",
    "yesterday",
    "2026/03/10 08:00",
    "10/03/2026",
    "2026-03-10T25:00",
    "2026-03-10T08:00+25:00",
    "2026-03-10T08:00\u0000",
    "２０２６-03-10",
    "2026-03-10T08:00:00+08:00 and more",
    "",
    "T08:00",
    "2026-02-30",
]
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xb8", b"\x80", b"\xf8\x88\x80"]
BAD_TYPES = ["checkn", "CHECKIN", "check-in", "checkin ", "\u0000", "ＣＨＥＣＫＩＮ", "card txn"]
#: A number field of each type (None: the type has none; a non-finite token goes elsewhere).
NUMERIC = {
    "checkin": "lat",
    "card_txn": "amount_cny",
    "leave": None,
    "vehicle_trip": "km",
    "canteen_meal": "paid_cny",
}
REQUIRED = {
    "checkin": ["cadre_id"],
    "card_txn": ["cadre_id", "amount_cny"],
    "leave": ["cadre_id"],
    "vehicle_trip": ["plate", "passenger_ids"],
    "canteen_meal": ["cadre_id"],
}
#: (type, field) -> values pydantic must refuse, as JSON values.
WRONG: dict[tuple[str | None, str], list[Any]] = {
    (None, "id"): [[1], {"a": 1}, 5, 3.5, True, ""],
    (None, "time"): [12345, True, [2026, 3, 10], {"at": "2026-03-10"}],
    (None, "end"): ["2020-01-01T00:00:00+08:00", 7],
    ("checkin", "cadre_id"): [5, [], {"x": 1}, True],
    ("checkin", "mock_location"): ["maybe", 2, []],
    ("checkin", "kind"): ["sideways", 3],
    ("card_txn", "amount_cny"): ["abc", [1], {}, "1e400", "NaN"],
    ("leave", "leave_type"): ["holiday"],
    ("leave", "status"): ["approved?", 1],
    ("vehicle_trip", "passenger_ids"): ["K01", 5, [1, 2], {"a": "K01"}],
    ("canteen_meal", "meal"): ["brunch"],
}
#: The same as CSV cells (text).
WRONG_CSV: dict[tuple[str | None, str], list[str]] = {
    (None, "time"): ["12345", "true"],
    (None, "end"): ["2020-01-01T00:00:00+08:00"],
    ("checkin", "mock_location"): ["maybe", "2"],
    ("checkin", "kind"): ["sideways"],
    ("card_txn", "amount_cny"): ["abc", "1e400", "NaN", "inf", "0x10"],
    ("leave", "leave_type"): ["holiday"],
    ("vehicle_trip", "passenger_ids"): ["[1, 2]", "[1,", "[[[[[]]]]]", '[{"a": 1}]'],
    ("canteen_meal", "meal"): ["brunch"],
}
HEADER = [
    "type",
    "id",
    "time",
    "end",
    "cadre_id",
    "township_id",
    "lat",
    "kind",
    "mock_location",
    "amount_cny",
    "merchant_name",
    "mcc",
    "leave_type",
    "status",
    "plate",
    "passenger_ids",
    "km",
    "meal",
    "paid_cny",
    "note",
    "source",
]


def _when(rng: random.Random) -> datetime:
    return datetime(2026, 3, rng.randint(9, 15), rng.randint(0, 23), rng.randint(0, 59), tzinfo=SH)


def _stamp(rng: random.Random, t: datetime) -> str:
    """The same instant in one of the forms the contract allows."""
    form = rng.randrange(5)
    if form == 0:
        return t.isoformat()
    if form == 1:
        return t.strftime("%Y-%m-%dT%H:%M:%S")  # local, no offset
    if form == 2:
        return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 3:
        return t.strftime("%Y-%m-%d %H:%M:%S+08:00")
    return t.isoformat(timespec="milliseconds")


def _text(rng: random.Random) -> str:
    return rng.choice(ODD_TEXT) if rng.random() < 0.5 else rng.choice(["KTV", "超市", "酒店"])


def make_event(rng: random.Random, event_id: str) -> dict[str, Any]:
    """A contract-valid event of one of five types, with odd but legal strings."""
    kind = rng.choice(["checkin", "card_txn", "leave", "vehicle_trip", "canteen_meal"])
    t = _when(rng)
    cadre = rng.choice(["K01", "K02", "K03", "K04", "K\u202e05", "K 06"])
    event: dict[str, Any] = {"type": kind, "id": event_id, "time": _stamp(rng, t)}
    if kind == "checkin":
        event.update(cadre_id=cadre, township_id=rng.choice(["T01", "T02", None]))
        if rng.random() < 0.5:
            event["lat"] = rng.uniform(-90, 90)
        if rng.random() < 0.5:
            event["mock_location"] = rng.random() < 0.5
        if rng.random() < 0.3:
            event["kind"] = rng.choice(["in", "out", "field"])
    elif kind == "card_txn":
        event.update(
            cadre_id=cadre,
            amount_cny=rng.choice([0, 1, 860, 12.5, 1e308, 123456789012345678901234567890]),
            merchant_name=_text(rng),
            mcc=rng.choice(["7911", "5411", 5812, 42]),
        )
    elif kind == "leave":
        end = t + timedelta(hours=rng.randint(0, 72))
        event.update(
            end=_stamp(rng, end),
            cadre_id=cadre,
            leave_type=rng.choice(["personal", "sick"]),
            status=rng.choice(["approved", "pending"]),
        )
    elif kind == "vehicle_trip":
        event.update(
            plate=rng.choice(["皖K-T0101", "皖K-E0001"]),
            passenger_ids=rng.sample(["K01", "K02", "S02"], rng.randint(0, 3)),
            km=rng.choice([0, 10, 2.5]),
        )
    else:
        event.update(cadre_id=cadre, meal=rng.choice(["lunch", "dinner"]), paid_cny=0)
    if rng.random() < 0.2:
        event["note"] = _text(rng)
    return event


def _nested(rng: random.Random, depth: int) -> Any:
    value: Any = _text(rng)
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value, "n": None}
    return value


def dump(rng: random.Random, event: dict[str, Any]) -> bytes:
    """One JSON line: keys in a random order, ASCII-escaped or raw UTF-8, compact or spaced."""
    items = list(event.items())
    rng.shuffle(items)
    seps = rng.choice([(",", ":"), (", ", ": ")])
    return json.dumps(dict(items), ensure_ascii=rng.random() < 0.5, separators=seps).encode()


def _splice(line: bytes, at: int, extra: bytes) -> bytes:
    return line[:at] + extra + line[at:]


def _inside_first_key(line: bytes) -> int:
    return line.index(b'"') + 1


@dataclass
class Batch:
    """Generated lines and what each must become."""

    lines: list[bytes] = field(default_factory=list)
    expect: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    good: list[dict[str, Any]] = field(default_factory=list)  # events first seen, to copy
    fresh: int = 0

    def new_id(self, space: str) -> str:
        self.fresh += 1
        return f"{space}-{self.fresh}"

    def add(self, line: bytes, expect: str, kind: str) -> None:
        assert b"\n" not in line, kind
        self.lines.append(line)
        self.expect.append(expect)
        self.kinds.append(kind)


def _jsonl_line(batch: Batch, kind: str, rng: random.Random) -> None:
    """Add one line of ``kind``. Good events take ids "good-N" and junk "junk-N": one changed
    byte cannot turn one into the other, so the good lines' fate can be predicted exactly."""
    if kind in ("dup", "conflict") and not batch.good:
        kind = "valid"
    if kind == "valid":
        event = make_event(rng, batch.new_id("good"))
        batch.good.append(event)
        return batch.add(dump(rng, event), GOOD, kind)
    if kind == "dup":  # the same content, keys reordered, the time maybe written another way
        event = dict(rng.choice(batch.good))
        event["time"] = _stamp(rng, _instant(event["time"]))
        return batch.add(dump(rng, event), GOOD, kind)
    if kind == "conflict":  # the same (type, id), other content
        event = {**rng.choice(batch.good), "source": f"altered-{rng.random()}"}
        return batch.add(dump(rng, event), GOOD, kind)
    if kind == "bom":  # a BOM is allowed at the start of the file only
        event = make_event(rng, batch.new_id("good" if not batch.lines else "junk"))
        if not batch.lines:
            batch.good.append(event)
        return batch.add(b"\xef\xbb\xbf" + dump(rng, event), BAD if batch.lines else GOOD, kind)
    if kind == "blank":
        return batch.add(rng.choice([b"", b"   ", b"\t", b"\r", b" \r", b"\x0c"]), BLANK, kind)
    if kind == "nested_ok":
        event = make_event(rng, batch.new_id("good"))
        event[rng.choice(["extra", "", "__class__", "model_config", "时间"])] = _nested(rng, 8)
        batch.good.append(event)
        return batch.add(dump(rng, event), GOOD, kind)
    event = make_event(rng, batch.new_id("junk"))
    line = dump(rng, event)
    if kind == "truncated":
        return batch.add(line[: rng.randint(1, len(line) - 1)], BAD, kind)
    if kind == "not_object":
        choice = rng.choice([b"[]", b"[1,2]", b'"text"', b"42", b"null", b"true", b"-0.5"])
        return batch.add(rng.choice([choice, b"[" + line + b"]"]), BAD, kind)
    if kind == "syntax":
        broken = rng.choice(
            [
                line[:-1] + b",}",
                line.replace(b'"', b"'"),
                line.replace(b'"type"', b"type"),
                b"{" + line + b"}",
                line + b" // comment",
                line + line,
                line.replace(b":", b"", 1),
                b"\x1c" + line,
            ]
        )
        return batch.add(broken, BAD, kind)
    if kind == "nonfinite":
        token = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
        event[NUMERIC[event["type"]] or "score"] = "@@"
        return batch.add(dump(rng, event).replace(b'"@@"', token), BAD, kind)
    if kind == "wrong_type":
        key = rng.choice([k for k in WRONG if k[0] in (None, event["type"])])
        event[key[1]] = rng.choice(WRONG[key])
        return batch.add(dump(rng, event), BAD, kind)
    if kind == "missing":
        del event[rng.choice(["type", "id", "time", *REQUIRED[event["type"]]])]
        return batch.add(dump(rng, event), BAD, kind)
    if kind == "bad_time":
        event[rng.choice(["time", "time", "end"])] = rng.choice(BAD_TIMES)
        if event.get("end") == "":
            event["end"] = "never"
        return batch.add(dump(rng, event), BAD, kind)
    if kind == "unknown_type":
        event["type"] = rng.choice(BAD_TYPES)
        return batch.add(dump(rng, event), BAD, kind)
    if kind == "bad_utf8":
        at = _inside_first_key(line)
        return batch.add(_splice(line, at, rng.choice(BAD_UTF8)), BAD, kind)
    if kind == "surrogate":
        event["id"] = "@@"
        escape = rng.choice([b"\\ud800", b"\\udc00x", b"\\udbff\\u0041"])
        return batch.add(dump(rng, event).replace(b"@@", escape), BAD, kind)
    if kind == "control":  # raw control bytes inside a JSON string are not JSON
        at = _inside_first_key(line)
        return batch.add(
            _splice(line, at, rng.choice([b"\x00", b"\x01", b"\x1f", b"\t"])), BAD, kind
        )
    if kind == "too_deep":
        event["junk"] = _nested(rng, rng.choice([40, 300]))
        deep = dump(rng, event)
        if rng.random() < 0.3:  # past what the JSON reader takes
            deep = deep.replace(b'"junk"', b'"junk":' + b"[" * 1100 + b"]" * 1100 + b', "x"')
        return batch.add(deep, BAD, kind)
    if kind == "mutate":  # one byte changed or inserted, never a line break
        at = rng.randrange(len(line))
        byte = bytes([rng.choice([b for b in range(256) if b != 0x0A])])
        mutated = line[:at] + byte + line[at + rng.randint(0, 1) :]
        return batch.add(mutated, ANY, kind)
    raise AssertionError(kind)


def _instant(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.astimezone(SH) if t.tzinfo else t.replace(tzinfo=SH)


JSONL_KINDS = [
    "valid",
    "valid",
    "valid",
    "dup",
    "conflict",
    "bom",
    "blank",
    "nested_ok",
    "truncated",
    "not_object",
    "syntax",
    "nonfinite",
    "wrong_type",
    "missing",
    "bad_time",
    "unknown_type",
    "bad_utf8",
    "surrogate",
    "control",
    "too_deep",
    "mutate",
    "mutate",
]


def jsonl_batch(plan: list[tuple[int, int]]) -> Batch:
    batch = Batch()
    for kind_index, seed in plan:
        _jsonl_line(batch, JSONL_KINDS[kind_index % len(JSONL_KINDS)], random.Random(seed))
    return batch


# ------------------------------------------------------------------------------- CSV rows


def _cell(rng: random.Random, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return rng.choice(["true", "TRUE", "1", "yes"] if value else ["false", "0", "No"])
    if isinstance(value, list):
        if value and all(isinstance(v, str) and ";" not in v for v in value) and rng.random() < 0.5:
            return ";".join(value)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    # One physical line a row: a line break inside a quoted cell would be legal CSV, but then
    # lines and rows could not be counted against each other.
    return str(value).replace("\r", " ").replace("\n", " ")


def csv_row(rng: random.Random, event: dict[str, Any], extra: list[str] | None = None) -> bytes:
    cells = [_cell(rng, event.get(name)) for name in HEADER] + (extra or [])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue().encode("utf-8", "surrogatepass")


def _csv_line(batch: Batch, kind: str, rng: random.Random) -> None:
    if kind in ("dup", "conflict") and not batch.good:
        kind = "valid"
    if kind == "valid":
        event = make_event(rng, batch.new_id("good"))
        batch.good.append(event)
        return batch.add(csv_row(rng, event), GOOD, kind)
    if kind == "dup":
        event = dict(rng.choice(batch.good))
        event["time"] = _stamp(rng, _instant(event["time"]))
        return batch.add(csv_row(rng, event), GOOD, kind)
    if kind == "conflict":
        event = {**rng.choice(batch.good), "source": f"altered-{rng.random()}"}
        return batch.add(csv_row(rng, event), GOOD, kind)
    if kind == "blank":
        return batch.add(rng.choice([b"", b"   ", b",,,", b" , ,\t,"]), BLANK, kind)
    event = make_event(rng, batch.new_id("junk"))
    if kind == "missing":
        event[rng.choice(["type", "id", "time", *REQUIRED[event["type"]]])] = None
        return batch.add(csv_row(rng, event), BAD, kind)
    if kind == "wrong_type":
        choices = [k for k in WRONG_CSV if k[0] in (None, event["type"])]
        key = rng.choice(choices)
        row = {**event, key[1]: "@@"}
        line = csv_row(rng, row)
        cell = rng.choice(WRONG_CSV[key])
        quoted = '"' + cell.replace('"', '""') + '"'
        return batch.add(line.replace(b"@@", quoted.encode()), BAD, kind)
    if kind == "bad_time":
        event["time"] = rng.choice([t for t in BAD_TIMES if t])
        return batch.add(csv_row(rng, event), BAD, kind)
    if kind == "unknown_type":
        event["type"] = rng.choice(BAD_TYPES)
        return batch.add(csv_row(rng, event), BAD, kind)
    if kind == "too_many_cells":
        return batch.add(csv_row(rng, event, ["x"] * rng.randint(1, 3)), BAD, kind)
    if kind == "bad_utf8":
        line = csv_row(rng, event)
        at = rng.randrange(len(line) + 1)
        return batch.add(_splice(line, at, rng.choice(BAD_UTF8)), BAD, kind)
    if kind == "bom":
        return batch.add(b"\xef\xbb\xbf" + csv_row(rng, event), BAD, kind)
    if (
        kind == "mutate"
    ):  # a byte inserted; never a quote or a line break, which would re-frame rows
        line = csv_row(rng, event)
        at = rng.randrange(len(line) + 1)
        byte = bytes([rng.choice([b for b in range(256) if b not in (0x0A, 0x0D, 0x22)])])
        return batch.add(_splice(line, at, byte), ANY, kind)
    raise AssertionError(kind)


CSV_KINDS = [
    "valid",
    "valid",
    "valid",
    "dup",
    "conflict",
    "blank",
    "missing",
    "wrong_type",
    "bad_time",
    "unknown_type",
    "too_many_cells",
    "bad_utf8",
    "bom",
    "mutate",
]


def csv_batch(plan: list[tuple[int, int]]) -> Batch:
    batch = Batch()
    for kind_index, seed in plan:
        _csv_line(batch, CSV_KINDS[kind_index % len(CSV_KINDS)], random.Random(seed))
    return batch


# ---------------------------------------------------------------------------- the checks

NOISE = ("Traceback", "Error(", "<class ", " object at 0x", "errors.pydantic.dev", "ValidationErr")


def assert_readable(record: QuarantineRecord) -> None:
    reason = record.reason
    assert reason.strip(), record
    assert reason.isprintable(), f"unprintable reason {reason!r}"
    assert not [n for n in NOISE if n in reason], f"Python noise in {reason!r}"
    assert record.field is None or isinstance(record.field, str)
    orjson.dumps(record.to_dict())  # writable to --quarantine (no lone surrogates)


def write(folder: Path, name: str, lines: list[bytes], header: bytes | None = None) -> Path:
    """The lines as a file (with or without a final line break, as the batch size falls)."""
    path = folder / name
    body = b"\n".join(([header] if header is not None else []) + lines)
    path.write_bytes(body + (b"\n" if len(lines) % 2 else b""))
    return path


def check_file(path: Path, batch: Batch, first_line: int, quarantine: list[QuarantineRecord]):
    """Each record points at its line (its text is that line's), known-good lines are refused
    only as conflicts, known-bad lines always; returns the counts the good lines imply."""
    text = path.read_bytes().split(b"\n")
    by_line: dict[int, QuarantineRecord] = {}
    for record in quarantine:
        assert record.file == str(path)
        assert record.line not in by_line, f"two records for line {record.line}"
        by_line[record.line] = record
        assert_readable(record)
        raw = text[record.line - 1]
        if record.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        assert record.raw == raw.decode("utf-8", "replace").rstrip("\r\n"), record
    for offset, (expect, kind) in enumerate(zip(batch.expect, batch.kinds, strict=True)):
        lineno = first_line + offset
        record = by_line.get(lineno)
        conflict = record is not None and record.reason.startswith("conflict:")
        where = f"line {lineno} ({kind}) {text[lineno - 1][:160]!r}"
        if expect == BLANK:
            assert record is None, f"{where}: a blank line was counted: {record}"
        elif expect == BAD:
            assert record is not None and not conflict, f"{where}: accepted"
        elif expect == GOOD and kind == "conflict":
            assert conflict, f"{where}: an altered copy is not a conflict: {record}"
        elif expect == GOOD:
            assert record is None, f"{where}: refused: {record}"


def nonblank_jsonl(batch: Batch) -> int:
    count = 0
    for i, line in enumerate(batch.lines):
        if i == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        count += bool(line.strip())
    return count


plans = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 2**32 - 1)),
    min_size=MIN_LINES,
    max_size=MAX_LINES,
)


def _count(name: str, n: int) -> None:
    LINES_FED[name] = LINES_FED.get(name, 0) + n


def _good_new(batch: Batch) -> int:
    """Good lines that are neither copies nor altered copies: each is a new valid event."""
    return sum(
        1
        for expect, kind in zip(batch.expect, batch.kinds, strict=True)
        if expect == GOOD and kind not in ("dup", "conflict")
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(None, REFERENCE)


@_fuzz_settings("jsonl")
@given(plan=plans)
def test_fuzzed_jsonl_lines_are_all_accounted_for(
    folder: Path, plan: list[tuple[int, int]]
) -> None:
    batch = jsonl_batch(plan)
    path = write(folder, "events.jsonl", batch.lines)
    ingestor = Ingestor("Asia/Shanghai")
    events = list(ingestor.read_files([path]))
    _count("jsonl", len(batch.lines))
    stats = ingestor.stats
    stats.check()
    assert stats.read == nonblank_jsonl(batch)
    assert stats.valid == len(events)
    assert len(ingestor.quarantine) == stats.quarantined + stats.conflict
    check_file(path, batch, 1, ingestor.quarantine)
    assert stats.duplicate >= batch.kinds.count("dup")
    assert len([e for e in events if e["id"].startswith("good-")]) == _good_new(batch)


@_fuzz_settings("csv")
@given(plan=plans)
def test_fuzzed_csv_rows_are_all_accounted_for(folder: Path, plan: list[tuple[int, int]]) -> None:
    batch = csv_batch(plan)
    bom = "\ufeff" if plan[0][1] % 2 else ""
    path = write(folder, "events.csv", batch.lines, (bom + ",".join(HEADER)).encode())
    ingestor = Ingestor("Asia/Shanghai")
    events = list(ingestor.read_files([path]))
    _count("csv", len(batch.lines))
    stats = ingestor.stats
    stats.check()
    assert stats.read == sum(e != BLANK for e in batch.expect)
    assert stats.valid == len(events)
    assert len(ingestor.quarantine) == stats.quarantined + stats.conflict
    check_file(path, batch, 2, ingestor.quarantine)
    assert stats.duplicate >= batch.kinds.count("dup")
    assert len([e for e in events if e["id"].startswith("good-")]) == _good_new(batch)


@_fuzz_settings("run_files")
@given(jsonl_plan=plans, csv_plan=plans)
def test_run_files_survives_fuzzed_files_and_counts_every_row(
    engine: Engine,
    folder: Path,
    jsonl_plan: list[tuple[int, int]],
    csv_plan: list[tuple[int, int]],
) -> None:
    jsonl, rows = jsonl_batch(jsonl_plan), csv_batch(csv_plan)
    a = write(folder, "a.jsonl", jsonl.lines)
    b = write(folder, "b.csv", rows.lines, ",".join(HEADER).encode())
    _count("run_files", len(jsonl.lines) + len(rows.lines))
    try:
        result = engine.run_files([a, b])
    except FourinError as exc:
        # A byte changed in a valid line's year can make a valid event of a year without
        # holiday data, which stops a run by design (docs/reliability.md): only then.
        assert exc.code == "calendar-missing-year", exc.render()
        years = {e["time"].year for e in Ingestor("Asia/Shanghai").read_files([a, b])}
        assert any(not engine.calendar.has_year(y) for y in years), exc.render()
        return
    stats = result.stats
    stats.check()
    assert stats.read == nonblank_jsonl(jsonl) + sum(e != BLANK for e in rows.expect)
    assert len(result.quarantine) == stats.quarantined + stats.conflict
    assert result.late == [] and stats.late == 0  # a batch run has no late events
    assert result.errors == []  # contract-valid events never make a bundled rule raise
    for record in result.quarantine:
        assert record.file in (str(a), str(b))
        assert_readable(record)


# ------------------------------------------------------------------------- exact accounting

mixed = st.lists(
    st.tuples(st.sampled_from(["valid", "dup", "conflict", "junk"]), st.integers(0, 2**32 - 1)),
    min_size=1,
    max_size=60,
)
JUNK_KINDS = [
    k for k in JSONL_KINDS if k not in ("valid", "dup", "conflict", "nested_ok", "mutate")
]
JUNK_KINDS.remove("blank")
JUNK_KINDS.remove("bom")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=mixed)
def test_copies_are_duplicates_and_altered_copies_conflicts_exactly(
    folder: Path, plan: list[tuple[str, int]]
) -> None:
    batch = Batch()
    for kind, seed in plan:
        rng = random.Random(seed)
        _jsonl_line(batch, rng.choice(JUNK_KINDS) if kind == "junk" else kind, rng)
    path = write(folder, "x.jsonl", batch.lines)
    ingestor = Ingestor("Asia/Shanghai")
    list(ingestor.read_files([path]))
    s = ingestor.stats
    expected = (_good_new(batch), batch.kinds.count("dup"), batch.kinds.count("conflict"))
    assert (s.valid, s.duplicate, s.conflict) == expected
    assert s.quarantined == batch.expect.count(BAD)
    for record in ingestor.quarantine:
        if record.reason.startswith("conflict:"):  # it names where the first one is
            assert f" seen at {path}:" in record.reason


def test_a_ci_run_fuzzes_at_least_ten_thousand_lines() -> None:
    """The lower bound by construction: every example has at least MIN_LINES lines per file."""
    runs = EXAMPLES["jsonl"] + EXAMPLES["csv"] + 2 * EXAMPLES["run_files"]
    assert MIN_LINES * runs >= 10_000


# ------------------------------------------------------ every kind, and each defect found here


def test_every_kind_of_line_is_met_on_every_run(folder: Path) -> None:
    """Hypothesis draws kinds at random; this batch holds each kind at least once, always."""
    for kinds, make, first, name in (
        (JSONL_KINDS, _jsonl_line, 1, "all.jsonl"),
        (CSV_KINDS, _csv_line, 2, "all.csv"),
    ):
        batch = Batch()
        for seed in range(3):
            for kind in kinds:
                make(batch, kind, random.Random(seed * 1000 + len(batch.lines)))
        header = ",".join(HEADER).encode() if first == 2 else None
        path = write(folder, name, batch.lines, header)
        ingestor = Ingestor("Asia/Shanghai")
        list(ingestor.read_files([path]))
        ingestor.stats.check()
        check_file(path, batch, first, ingestor.quarantine)
        assert ingestor.stats.duplicate >= 3 and ingestor.stats.conflict >= 3


def test_a_bad_byte_in_a_csv_row_costs_that_row_only(tmp_path: Path) -> None:
    # Found by the fuzz: the strict decoder reads ahead in blocks, so one bad byte anywhere in the
    # first 8 KB refused the whole file as unreadable ("cannot read the CSV header"), and further
    # down it stopped reading, leaving the rows below it uncounted.
    rows = [f"checkin,k{i},2026-03-10T08:0{i},K01" for i in range(6)]
    body = ("type,id,time,cadre_id\n" + "\n".join(rows) + "\n").encode()
    body = body.replace(b"k2,", b"k2\xff,")
    path = tmp_path / "events.csv"
    path.write_bytes(body)
    ingestor = Ingestor("Asia/Shanghai")
    ids = [e["id"] for e in ingestor.read_files([path])]
    assert ids == ["k0", "k1", "k3", "k4", "k5"]
    (record,) = ingestor.quarantine
    assert (record.line, record.field) == (4, None)
    assert record.reason == "not UTF-8 text: byte 0xff at character 11 of the row"
    assert record.raw == "checkin,k2\ufffd,2026-03-10T08:02,K01"
    assert ingestor.stats.read == 6


def test_a_csv_header_that_is_not_utf8_makes_the_file_unreadable(tmp_path: Path) -> None:
    from fourin_rules.errors import FourinError

    path = tmp_path / "events.csv"
    path.write_bytes(b"type,\xffid,time\ncheckin,k1,2026-03-10T08:00\n")
    with pytest.raises(FourinError) as info:
        list(Ingestor("Asia/Shanghai").read_files([path]))
    assert info.value.code == "input-file"
    assert "not UTF-8 text: byte 0xff" in info.value.message


def test_nesting_deeper_than_the_engine_can_hash_is_quarantined_not_raised(tmp_path: Path) -> None:
    # Found by the fuzz: JSON nested 255..1024 levels deep was read, validated, then raised
    # TypeError("Recursion limit reached") out of read_files when the ledger hashed it.
    deep = "[" * 300 + "]" * 300
    path = tmp_path / "deep.jsonl"
    path.write_text(
        '{"type":"checkin","id":"a","time":"2026-03-10T08:00","cadre_id":"K01"}\n'
        f'{{"type":"checkin","id":"b","time":"2026-03-10T08:00","cadre_id":"K01","x":{deep}}}\n',
        encoding="utf-8",
    )
    ingestor = Ingestor("Asia/Shanghai")
    assert [e["id"] for e in ingestor.read_files([path])] == ["a"]
    (record,) = ingestor.quarantine
    assert (record.line, record.field) == (2, "x")
    assert record.reason == "field 'x' nests lists or objects deeper than 32 levels"
    # The same through the streaming API, with a dict nested past Python's own repr limit.
    nested: list[Any] = []
    for _ in range(5000):
        nested = [nested]
    session = Engine(None, REFERENCE).session()
    session.push(
        {"type": "checkin", "id": "c", "time": "2026-03-10T08:00", "cadre_id": "K01", "x": nested}
    )
    pushed = session.result().quarantine[-1]
    assert pushed.field == "x" and pushed.raw == "<a dict nested too deeply to show>"
    session.stats.check()


def test_a_conflict_reason_shows_an_unprintable_id_escaped(tmp_path: Path) -> None:
    first = {"type": "checkin", "id": "K\u202e01\n", "time": "2026-03-10T08:00", "cadre_id": "K01"}
    path = tmp_path / "ids.jsonl"
    lines = [first, {**first, "cadre_id": "K02"}]
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    ingestor = Ingestor("Asia/Shanghai")
    list(ingestor.read_files([path]))
    (record,) = ingestor.quarantine
    assert record.reason == (
        f"conflict: (checkin, 'K\\u202e01\\n') seen at {path}:1 with different content"
    )
    assert_readable(record)


def test_a_nul_inside_a_timestamp_is_refused() -> None:
    # Python's datetime.fromisoformat accepts a trailing NUL ("2026-03-10T08:00\x00").
    ingestor = Ingestor("Asia/Shanghai")
    event = {"type": "checkin", "id": "a", "time": "2026-03-10T08:00\x00", "cadre_id": "K01"}
    assert ingestor.accept(event) is None
    (record,) = ingestor.quarantine
    assert record.field == "time"
    assert record.reason == "not an ISO-8601 timestamp: '2026-03-10T08:00\\x00'"
