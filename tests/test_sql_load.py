"""The DuckDB loader against its oracle, the Python ingest (``Ingestor.read_files``).

Same counts, same quarantine records in the same order, the same events admitted: for every row
of the ``ev_<type>`` tables, re-validating ``_raw`` gives the event the Python ingest yields, and
the typed columns hold its values; rows come in the order the ingest yields events.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fourin_rules.backends.sql import load as load_module
from fourin_rules.backends.sql.load import load_files
from fourin_rules.backends.sql.schema import table_name
from fourin_rules.backends.sql.tables import create_tables
from fourin_rules.errors import FourinError
from fourin_rules.ingest import EventValidator, Ingestor
from fourin_rules.model.events import EVENT_MODELS, model_field_types
from test_fault_ingest import jsonl_batch, plans, write

ROOT = Path(__file__).parents[1]
COUNTY = ROOT / "examples" / "county" / "events.jsonl"
TZ = "Asia/Shanghai"
EVENT_TYPES = {name: model_field_types(model) for name, model in EVENT_MODELS.items()}


def load(
    paths: list[Path], tz: str = TZ, workers: int = 1
) -> tuple[duckdb.DuckDBPyConnection, Any]:
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{tz}'")
    create_tables(con, EVENT_TYPES)
    result = load_files(
        con, paths, models=EVENT_MODELS, event_types=EVENT_TYPES, tz=tz, workers=workers
    )
    return con, result


def rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every loaded row, all tables, in ``_seq`` order, with its ``type``."""
    out = []
    for etype in EVENT_TYPES:
        cur = con.execute(f"SELECT * FROM {table_name(etype)}")
        names = [d[0] for d in cur.description]
        out += [{"type": etype, **dict(zip(names, r, strict=True))} for r in cur.fetchall()]
    return sorted(out, key=lambda r: r["_seq"])


def same_value(column: Any, value: Any) -> bool:
    if isinstance(value, list):
        return (
            isinstance(column, list)
            and len(column) == len(value)
            and all(same_value(c, v) for c, v in zip(column, value, strict=True))
        )
    if isinstance(value, dict):
        return all(same_value(column.get(k), v) for k, v in value.items())
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, datetime):  # a TIMESTAMPTZ holds an instant
        return isinstance(column, datetime) and column.timestamp() == value.timestamp()
    return column == value


def assert_parity(paths: list[Path], tz: str = TZ, workers: int = 1) -> Any:
    """Load ``paths`` both ways and compare everything; returns the loader's result.
    ``workers``: how many types the loader checks and inserts at once."""
    ingestor = Ingestor(tz, EVENT_MODELS)
    events = list(ingestor.read_files(paths))
    con, result = load(paths, tz, workers)
    assert result.stats == ingestor.stats
    assert result.quarantine == ingestor.quarantine
    loaded = rows(con)
    assert [(r["type"], r["id"]) for r in loaded] == [(e["type"], e["id"]) for e in events]
    validator = EventValidator(tz, EVENT_MODELS)
    for row, event in zip(loaded, events, strict=True):
        assert validator.validate(orjson.loads(row["_raw"])) == event, row["_raw"]
        for name in EVENT_TYPES[event["type"]]:
            if name != "type":
                assert same_value(row[name], event[name]), (name, row[name], event[name])
        assert row["_file"] in {str(p) for p in paths}
        assert row["_line"] >= 1
    return result


@pytest.mark.parametrize("workers", [1, 2])
def test_the_county_file_loads_exactly_as_the_python_ingest_reads_it(workers: int) -> None:
    result = assert_parity([COUNTY], workers=workers)
    assert result.stats.read == result.stats.valid == 11398
    con, _ = load([COUNTY])
    counts = {
        t: con.execute(f"SELECT count(*) FROM {table_name(t)}").fetchone()[0] for t in EVENT_TYPES
    }
    by_type: dict[str, int] = {}
    for line in COUNTY.read_bytes().splitlines():
        if line.strip():
            etype = orjson.loads(line)["type"]
            by_type[etype] = by_type.get(etype, 0) + 1
    assert {t: n for t, n in counts.items() if n} == by_type


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False)


def _ev(etype: str, eid: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"type": etype, "id": eid, "time": "2026-03-10T08:12:00+08:00"}
    if etype in ("checkin", "card_txn", "leave", "canteen_meal", "visit", "commitment", "gift"):
        base["cadre_id"] = "K01"
    if etype == "card_txn":
        base["amount_cny"] = 12.5
    return {**base, **fields}


HAND_MADE = [
    _line(_ev("checkin", "a1")),
    "",
    "   ",
    _line(_ev("checkin", "a1")),  # duplicate
    _line(_ev("checkin", "a1", time="2026-03-10T00:12:00Z")),  # duplicate: the same instant
    _line(_ev("checkin", "a1", source="other")),  # conflict
    _line(_ev("checkin", "a2", time="2026-03-10 08:12")),  # naive: local time
    _line(_ev("checkin", "a3", time="2026-03-10T08:12:00.5-05:30", end="2026-03-11")),
    _line(_ev("checkin", "a4", time="2026-03-10T08:12:00+08:00", end="2026-03-10T08:00:00")),
    '{"type": "checkin", "id": "a5", "time": "2026-03-10T08:12", "cadre_id": "K01", "lat": NaN}',
    '{"type": "checkin", "id": "a6", "time": "2026-03-10T08:12", "cadre_id": "K01", "x": Infinity}',
    '{"type": "checkin", "id": "a7", "time": "2026-03-10T08:12", "cadre_id": "K01",}',
    '{"type": "checkin", "id": "a8", "time": "2026-03-10T08:12", "cadre_id": "K01", "x": 1e400}',
    _line(_ev("checkin", "a9", lat=95)),
    _line(_ev("checkin", "a10", kind="sideways")),
    _line(_ev("checkin", "a11", mock_location="yes", time="2026-03-10T08:12:00.25")),  # lax
    _line(_ev("checkin", "a12", kind=None)),  # kind is not optional
    _line(_ev("checkin", "a13", method=None, township_id=None)),
    _line(_ev("card_txn", "c1", amount_cny="12.5", mcc=5812)),  # lax: Python converts both
    _line(_ev("card_txn", "c2", amount_cny=[1])),
    _line(_ev("card_txn", "c3", amount_cny=123456789012345678901234567890)),
    _line(_ev("checkn", "u1")),
    _line({"type": 5, "id": "u2", "time": "2026-03-10T08:12"}),
    _line({"id": "u3", "time": "2026-03-10T08:12"}),
    "[1, 2]",
    '"just text"',
    "{not json",
    _line(_ev("checkin", "", lat=1)),
    _line(_ev("checkin", "d1", time="2026-02-30T08:00")),
    _line(_ev("checkin", "d2", time="2026-03-10T24:00:00")),
    _line(_ev("checkin", "d3", time=" 2026-03-10T08:00")),  # Python strips the blanks
    _line(_ev("checkin", "d4", time=1773100000)),
    '{"type": "checkin", "id": "k1", "time": "2026-03-10T08:12", "cadre_id": "K01", '
    '"cadre_id": ""}',  # duplicate key: Python keeps the last
    '{"type": "checkin", "id": "k2", "time": "2026-03-10T08:12", "cadre_id": "K01", '
    '"\\u0065nd": "2026-03-01T00:00"}',  # an escaped key is still "end"
    '{"type": "checkin", "id": "k3", "time": "2026-03-10T08:12", "cadre_id": "K\\u0000"}',
    _line(
        _ev(
            "checkin",
            "n1",
            extra=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
        )
    ),
    _line(_ev("checkin", "n2", extra={"k": [1, {"k": None}], "n": "interference"})),
    _line(_ev("checkin", "n3", source="[{" * 20)),  # brackets in a string are not nesting
    _line(_ev("rating", "n4", cadre_id="K01", score=5, tags=json.loads("[" * 34 + "1" + "]" * 34))),
    _line(_ev("vehicle_trip", "v1", plate="P1", passenger_ids=["K01", "K02"], km=3)),
    _line(_ev("vehicle_trip", "v2", plate="P1", passenger_ids=["K01", ""])),
    _line(_ev("vehicle_trip", "v3", plate="P1", passenger_ids=[1])),
    _line(_ev("vehicle_trip", "v4", plate="P1")),
    _line(
        _ev(
            "reception",
            "r1",
            host_unit_id="U1",
            amount_cny=300,
            items=[{"name": "茶", "amount_cny": 20}, {"name": "饭", "amount_cny": 280.5}],
            guests_n=3,
            alcohol=True,
        )
    ),
    _line(_ev("reception", "r2", host_unit_id="U1", amount_cny=1, items=[{"name": "x"}])),
    _line(
        _ev(
            "reception",
            "r3",
            host_unit_id="U1",
            amount_cny=1,
            items=[{"name": "x", "amount_cny": 1, "extra": 2}],
        )
    ),
    _line(_ev("reception", "r4", host_unit_id="U1", amount_cny=1, guests_n=2.0)),
    _line(_ev("reception", "r5", host_unit_id="U1", amount_cny=1, guests_n=-1)),
    _line(
        _ev(
            "township_task",
            "t1",
            township_id="T1",
            role_holders=[{"cadre_id": "K01", "role": "lead"}, {"cadre_id": "K02", "role": "sign"}],
        )
    ),
    _line(
        _ev(
            "township_task", "t2", township_id="T1", role_holders=[{"cadre_id": "K01", "role": "x"}]
        )
    ),
    _line(_ev("commitment", "m1", due="2026-03-20")),  # a date: the end of that day
    _line(_ev("commitment", "m2", due="2026-03-20T17:00", status="open")),
    _line(_ev("rating", "s1", cadre_id="K01", score=5, tags=["a", "b"])),
    _line(_ev("rating", "s2", cadre_id="K01", score=6)),
    _line(_ev("rating", "s3", cadre_id="K01", score=True)),
    _line(_ev("complaint", "p1", subject_cadre_ids=[])),
    _line(_ev("complaint", "p2", subject_cadre_ids=["K01"], category="interference")),
    "\ufeff" + _line(_ev("checkin", "b1")),  # a BOM here (not line 1) is not JSON
    _line(_ev("checkin", "z1")) + "\r",
]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hand_made_file_of_odd_lines_gives_the_same_stats_and_quarantine(
    tmp_path: Path, workers: int
) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text("\ufeff" + "\n".join(HAND_MADE) + "\n", encoding="utf-8")
    result = assert_parity([path], workers=workers)
    assert result.stats.duplicate == 2 and result.stats.conflict == 1
    assert result.stats.quarantined > 30
    # Rows the SQL check refuses but Python accepts are admitted with Python's values.
    con, _ = load([path])
    assert con.execute("SELECT mcc, amount_cny FROM ev_card_txn WHERE id = 'c1'").fetchall() == [
        ("5812", 12.5)
    ]
    assert con.execute("SELECT mock_location FROM ev_checkin WHERE id = 'a11'").fetchall() == [
        (True,)
    ]


@pytest.mark.parametrize("tail", [b"\n\x0c\n \r", b"\n", b"", b"\n  "])
def test_a_broken_last_row_before_blank_lines_keeps_its_line_break(
    tmp_path: Path, tail: bytes
) -> None:
    """The error position counts the row's line break unless the row ends the file."""
    path = tmp_path / "tail.jsonl"
    path.write_bytes(b'{"type": "checkin", "id": "x1", "cadre_id": "K01"' + tail)
    result = assert_parity([path])
    (record,) = result.quarantine
    assert record.line == 1 and "invalid JSON" in record.reason


def test_bad_utf8_and_several_files_keep_the_read_order(tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    first.write_bytes(
        b"\n".join(
            [
                _line(_ev("checkin", "x1")).encode(),
                b'{"type": "checkin", "id": "x\xff2", "time": "2026-03-10T08:12"}',
                _line(_ev("checkin", "x3")).encode(),
            ]
        )
    )
    second = tmp_path / "b.ndjson"
    second.write_text(
        "\n".join([_line(_ev("checkin", "x1", source="b")), _line(_ev("checkin", "x3"))]),
        encoding="utf-8",
    )
    result = assert_parity([first, second])
    assert result.stats.conflict == 1 and result.stats.duplicate == 1
    assert result.quarantine[-1].reason.endswith(f"seen at {first}:1 with different content")


@pytest.mark.parametrize("workers", [1, 2])
def test_naive_times_follow_the_dataset_zone(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "ny.jsonl"
    times = ["2026-03-08T02:30", "2026-11-01T01:30", "2026-07-01T12:00", "1950-01-01T00:00"]
    path.write_text(
        "\n".join(
            _line(_ev(etype, f"n{i}", time=t))
            for i, t in enumerate(times)
            for etype in ("checkin", "visit")  # two types: checked at once with two workers
        ),
        encoding="utf-8",
    )
    assert_parity([path], tz="America/New_York", workers=workers)


def test_a_csv_file_takes_the_python_readers(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "type,id,time,cadre_id,lat,mock_location,plate,passenger_ids\n"
        "checkin,c1,2026-03-10T08:12,K01,33.1,yes,,\n"
        "checkin,c1,2026-03-10T08:12,K01,33.1,true,,\n"
        "checkin,c1,2026-03-10T08:12,K01,33.2,true,,\n"
        "checkin,c2,2026-03-10T08:12,K01,,maybe,,\n"
        '"checkin","c3","2026-03-10T08:12","K\n02",,,,\n'
        "vehicle_trip,v1,2026-03-10T09:00,,,,P1,K01;K02\n"
        "bogus,b1,2026-03-10T09:00,,,,,\n",
        encoding="utf-8",
    )
    result = assert_parity([path])
    assert result.stats.valid == 3 and result.stats.duplicate == 1 and result.stats.conflict == 1
    con, _ = load([path])
    raw = con.execute("SELECT _raw, _line FROM ev_checkin WHERE id = 'c3'").fetchone()
    assert orjson.loads(raw[0])["cadre_id"] == "K\n02" and raw[1] == 6


def test_a_gzipped_jsonl_file(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(HAND_MADE[:12]).encode()))
    assert_parity([path])


def test_a_parquet_file_is_checked_like_json(tmp_path: Path) -> None:
    source = tmp_path / "src.jsonl"
    events = [
        _ev("checkin", "q1", lat=33.5, mock_location=True),
        _ev("checkin", "q2", lat=100.0),  # out of range
        _ev("checkin", "q1", lat=33.5, mock_location=True),  # duplicate
        _ev("vehicle_trip", "q3", plate="P1", passenger_ids=["K01"], km=3.5),
        _ev("checkin", "q4", time="2026-03-10 08:12:00", kind="out"),
    ]
    source.write_text("\n".join(_line(e) for e in events), encoding="utf-8")
    path = tmp_path / "events.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = {"
        "'type': 'VARCHAR', 'id': 'VARCHAR', 'time': 'VARCHAR', 'cadre_id': 'VARCHAR', "
        "'lat': 'DOUBLE', 'mock_location': 'BOOLEAN', 'kind': 'VARCHAR', 'plate': 'VARCHAR', "
        "'passenger_ids': 'VARCHAR[]', 'km': 'DOUBLE'})) TO '" + str(path) + "' (FORMAT parquet)",
        [str(source)],
    )
    ingestor = Ingestor(TZ, EVENT_MODELS)
    expected = list(ingestor.read_files([source]))
    loaded_con, result = load([path])
    assert result.stats == ingestor.stats
    assert [(q.line, q.field) for q in result.quarantine] == [(2, "lat")]
    loaded = rows(loaded_con)
    validator = EventValidator(TZ, EVENT_MODELS)
    assert [validator.validate(orjson.loads(r["_raw"])) for r in loaded] == expected
    assert [r["_line"] for r in loaded] == [1, 4, 5]


def test_a_parquet_column_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT 'checkin' AS type, 'x' AS id, 42 AS time) TO '{path}' (FORMAT parquet)"
    )
    with pytest.raises(FourinError) as info:
        load([path])
    assert info.value.code == "input-file" and "'time'" in str(info.value)


def test_unknown_and_missing_files_raise_input_file(tmp_path: Path) -> None:
    for path in (tmp_path / "events.txt", tmp_path / "missing.jsonl"):
        if path.suffix == ".txt":
            path.write_text("{}")
        with pytest.raises(FourinError) as info:
            load([path])
        assert info.value.code == "input-file"


@settings(
    max_examples=40,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(plan=plans)
def test_fuzzed_jsonl_files_load_as_the_python_ingest_reads_them(
    tmp_path: Path, plan: list[tuple[int, int]]
) -> None:
    batch = jsonl_batch(plan)
    path = write(tmp_path, f"fuzz-{datetime.now().timestamp()}.jsonl", batch.lines)
    assert_parity([path], workers=2)  # as a run loads: two types checked at once


#: Values of every JSON kind, in forms pydantic takes (lax) or refuses, for any field.
TRICKY: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2.0,
    2.5,
    -0.0,
    1e308,
    2**53 + 1,
    2**63 - 1,
    "",
    "K01",
    "in",
    "out",
    "lead",
    "approved",
    "enterprise",
    "true",
    "yes",
    "1",
    "12.5",
    "2026-03-10",
    "2026-03-10T08:12",
    "2026-03-10 08:12:00",
    "2026-03-10T08:12:00Z",
    "2026-03-10T08:12:00.123+08:00",
    "2026-03-10T08:12:00+08",
    "2026-03-10T08:12:00+0800",
    "2026-03-10T08",
    "20260310T081200",
    "2026-03-11T00:00:00+14:00",
    "1900-01-01T00:00",
    "1899-12-31T23:59",
    [],
    ["K01"],
    [""],
    ["K01", 2],
    [{"name": "x", "amount_cny": 1}],
    [{"name": "x", "amount_cny": "1"}],
    [{"cadre_id": "K01", "role": "lead"}],
    [{"cadre_id": "", "role": "lead"}],
    {"a": 1},
]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(sorted(EVENT_TYPES)),
            st.integers(0, 30),
            st.dictionaries(
                st.sampled_from(sorted({f for fs in EVENT_TYPES.values() for f in fs} - {"type"})),
                st.sampled_from(TRICKY),
                max_size=8,
            ),
        ),
        min_size=50,
        max_size=120,
    )
)
def test_random_values_in_every_field_are_never_admitted_more_laxly(
    tmp_path: Path, events: list[tuple[str, int, dict[str, Any]]]
) -> None:
    lines = []
    for etype, n, fields in events:
        event = {**_ev(etype, f"e{n}"), **fields}
        event["type"] = etype
        lines.append(json.dumps(event, ensure_ascii=n % 2 == 0))
    path = tmp_path / f"tricky-{datetime.now().timestamp()}.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert_parity([path])


def test_a_count_beyond_64_bits_is_a_backend_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(_line(_ev("visit", "v1", photos_n=2**63)), encoding="utf-8")
    assert Ingestor(TZ).read_files([path]).__next__()["photos_n"] == 2**63  # Python takes it
    with pytest.raises(FourinError) as info:
        load([path])
    assert info.value.code == "backend-limit"


def test_the_loader_drops_what_it_creates(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from fourin_rules.backends.sql import load as loader
    from fourin_rules.backends.sql.check import macros

    assert set(loader._MACRO_NAMES) == set(macros(ZoneInfo("UTC")))
    path = tmp_path / "one.jsonl"
    path.write_text(_line(_ev("checkin", "x")) + "\n" + _line(_ev("visit", "v")), encoding="utf-8")
    con, _ = load([path], workers=2)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {table_name(t) for t in EVENT_TYPES}
    names = {r[0] for r in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()}
    assert not {n for n in names if n.startswith("_ld_")}


def test_the_workers_share_duckdbs_threads_and_give_them_back() -> None:
    from zoneinfo import ZoneInfo

    con = duckdb.connect()
    con.execute("SET threads = 4")
    loader = load_module._Loader(con, EVENT_MODELS, EVENT_TYPES, ZoneInfo(TZ), 0, workers=2)
    try:
        loader._execute_all(
            [f"CREATE TABLE t{i} AS SELECT current_setting('threads') AS n" for i in range(3)]
        )
    finally:
        loader.drop()
    shares = [con.execute(f"SELECT n FROM t{i}").fetchone() for i in range(3)]
    assert shares == [(2,)] * 3  # 4 threads shared by 2 workers
    assert con.execute("SELECT current_setting('threads')").fetchone() == (4,)
