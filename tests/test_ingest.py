from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourin_rules.errors import FourinError
from fourin_rules.ingest import (
    EventValidator,
    Ingestor,
    IngestStats,
    Rejection,
    iter_raw,
    read_events,
    write_quarantine,
)
from fourin_rules.model.events import EVENT_MODELS, make_custom_event_model

SH = ZoneInfo("Asia/Shanghai")

# One realistic event per contract type, as a feeding system would send it (JSON-encoded below).
REALISTIC: dict[str, dict[str, Any]] = {
    "checkin": {
        "type": "checkin",
        "id": "ck-1",
        "time": "2026-03-10T08:12:00+08:00",
        "source": "dingtalk",
        "cadre_id": "C001",
        "lat": 30.2741,
        "lon": 120.1551,
        "kind": "in",
        "method": "gps",
        "mock_location": False,
    },
    "leave": {
        "type": "leave",
        "id": "lv-1",
        "time": "2026-03-11T08:30",
        "end": "2026-03-12T17:30",
        "cadre_id": "C001",
        "leave_type": "personal",
        "status": "approved",
        "approver_unit_id": "T01",
    },
    "trip_approval": {
        "type": "trip_approval",
        "id": "ta-1",
        "time": "2026-03-12T08:00",
        "end": "2026-03-13T18:00",
        "cadre_ids": ["C001", "C002"],
        "destination": "杭州",
        "purpose": "培训",
        "approved_by": "D01",
    },
    "vehicle_trip": {
        "type": "vehicle_trip",
        "id": "vt-1",
        "time": "2026-03-10T09:00",
        "end": "2026-03-10T11:30",
        "plate": "浙A12345",
        "owner_unit_id": "T01",
        "passenger_ids": ["C001"],
        "driver_id": "S9",
        "km": 42.5,
        "purpose": "调研",
        "origin": "镇政府",
        "destination": "县城",
        "end_lat": 30.3,
        "end_lon": 120.2,
        "requesting_unit_id": "D01",
    },
    "card_txn": {
        "type": "card_txn",
        "id": "tx-1",
        "time": "2026-03-10T20:15",
        "cadre_id": "C001",
        "amount_cny": 1280.0,
        "merchant_name": "某KTV",
        "mcc": "7922",
        "lat": 30.28,
        "lon": 120.16,
    },
    "reimbursement": {
        "type": "reimbursement",
        "id": "rb-1",
        "time": "2026-03-15T10:00",
        "cadre_id": "C001",
        "paying_unit_id": "T01",
        "category": "lodging",
        "amount_cny": 600,
        "beneficiary_ids": ["C001"],
        "items": [{"name": "住宿", "amount_cny": 600}],
        "merchant_name": "某宾馆",
        "mcc": 7011,
        "nights": 2,
        "destination": "杭州",
    },
    "reception": {
        "type": "reception",
        "id": "rc-1",
        "time": "2026-03-10T12:00",
        "host_unit_id": "T01",
        "guest_ids": ["C001", "C002"],
        "guests_n": 2,
        "companion_n": 3,
        "letter_id": "L-7",
        "venue": "镇食堂",
        "mcc": "5812",
        "amount_cny": 450,
        "items": [{"name": "午餐", "amount_cny": 400}, {"name": "饮料", "amount_cny": 50}],
        "alcohol": False,
    },
    "canteen_meal": {
        "type": "canteen_meal",
        "id": "cm-1",
        "time": "2026-03-10T12:05",
        "cadre_id": "C001",
        "meal": "lunch",
        "paid_cny": 5,
    },
    "visit": {
        "type": "visit",
        "id": "vs-1",
        "time": "2026-03-10T14:00",
        "end": "2026-03-10T16:00",
        "cadre_id": "C001",
        "group_id": "G1",
        "target_id": "E01",
        "target_kind": "enterprise",
        "issues_found": 2,
        "photos_n": 5,
        "accompanying_staff_n": 1,
    },
    "publicity": {
        "type": "publicity",
        "id": "pb-1",
        "time": "2026-03-10T09:00",
        "group_id": "G1",
        "cadre_id": "C001",
        "kind": "banner",
        "cost_cny": 300,
    },
    "data_request": {
        "type": "data_request",
        "id": "dr-1",
        "time": "2026-03-10T09:00",
        "issuer_id": "G1",
        "recipient_unit_ids": ["T01", "V01"],
        "due": "2026-03-11T12:00",
        "topic": "企业名单",
        "fields": ["name", "tax_id"],
    },
    "meeting": {
        "type": "meeting",
        "id": "mt-1",
        "time": "2026-03-10T15:00",
        "end": "2026-03-10T16:00",
        "organizer_id": "G1",
        "chaired_by": "C001",
        "attendee_ids": ["C001", "S1"],
        "township_id": "T01",
        "decision": True,
        "topic": "项目推进",
    },
    "township_task": {
        "type": "township_task",
        "id": "tt-1",
        "time": "2026-03-10T10:00",
        "township_id": "T01",
        "topic": "土地流转",
        "topic_kind": "land",
        "role_holders": [{"cadre_id": "C001", "role": "lead"}],
    },
    "commitment": {
        "type": "commitment",
        "id": "cmt-1",
        "time": "2026-03-01T10:00",
        "cadre_id": "C001",
        "target_id": "E01",
        "text": "协调用地",
        "due": "2026-03-20",
        "status": "open",
        "dept_confirmed": False,
    },
    "complaint": {
        "type": "complaint",
        "id": "cp-1",
        "time": "2026-03-10T10:00",
        "subject_cadre_ids": ["C001"],
        "complainant_id": "E01",
        "channel": "12345",
        "category": "interference",
        "verified": "unverified",
    },
    "rating": {
        "type": "rating",
        "id": "rt-1",
        "time": "2026-03-31T10:00",
        "rater_unit_id": "T01",
        "cadre_id": "C001",
        "dimension": "conduct",
        "score": 4,
        "tags": ["务实"],
    },
    "gift": {
        "type": "gift",
        "id": "gf-1",
        "time": "2026-03-10T18:00",
        "cadre_id": "C001",
        "giver_unit_id": "E01",
        "value_cny": 200,
        "item": "茶叶",
        "returned": True,
    },
}


def _line(type_name: str) -> str:
    return json.dumps(REALISTIC[type_name], ensure_ascii=False)


def _jsonl(tmp_path: Path, lines: list[str], name: str = "events.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_realistic_lines_cover_every_type() -> None:
    assert set(REALISTIC) == set(EVENT_MODELS)


@pytest.mark.parametrize("type_name", sorted(REALISTIC))
def test_every_event_type_validates_from_a_realistic_line(type_name: str) -> None:
    validator = EventValidator(SH)
    data = orjson.loads(_line(type_name))
    event = validator.validate(data)
    assert isinstance(event, dict), event
    assert event["type"] == type_name
    assert event["id"] == data["id"]
    assert event["time"].utcoffset() == timedelta(hours=8)
    for name, value in data.items():
        if name in ("time", "end", "due"):
            continue
        assert event[name] == value or str(event[name]) == str(value), name


def test_validated_event_is_a_plain_dict_with_defaults() -> None:
    event = EventValidator("Asia/Shanghai").validate(
        {"type": "checkin", "id": "k", "time": "2026-03-10T08:00", "cadre_id": "C1", "app": 2}
    )
    assert type(event) is dict
    assert event["kind"] == "in"
    assert event["mock_location"] is False
    assert event["end"] is None
    assert event["app"] == 2


def test_naive_timestamps_are_local_and_offsets_are_converted() -> None:
    v = EventValidator(SH)
    naive = v.validate({"type": "leave", "id": "l", "time": "2026-03-10T08:00", "cadre_id": "C"})
    assert isinstance(naive, dict)
    assert naive["time"].isoformat() == "2026-03-10T08:00:00+08:00"
    zulu = v.validate(
        {
            "type": "leave",
            "id": "l",
            "time": "2026-03-10T00:00:00Z",
            "returned_at": "2026-03-10T09:00",
            "cadre_id": "C",
        }
    )
    assert isinstance(zulu, dict)
    assert zulu["time"] == datetime(2026, 3, 10, 8, 0, tzinfo=SH)
    assert zulu["time"].tzinfo == SH
    assert zulu["returned_at"].isoformat() == "2026-03-10T09:00:00+08:00"


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"id": "x", "time": "2026-03-10"}, "type", "missing required field 'type'"),
        ({"type": 3, "id": "x", "time": "2026-03-10"}, "type", "type must be a string"),
        (
            {"type": "chekin", "id": "x", "time": "2026-03-10"},
            "type",
            "unknown event type 'chekin'; did you mean 'checkin'?",
        ),
        ({"type": "checkin", "time": "2026-03-10", "cadre_id": "C"}, "id", "missing required"),
        ({"type": "checkin", "id": "x", "cadre_id": "C"}, "time", "missing required field 'time'"),
        ({"type": "checkin", "id": "x", "time": "2026-03-10"}, "cadre_id", "missing required"),
        (
            {
                "type": "card_txn",
                "id": "x",
                "time": "2026-03-10",
                "cadre_id": "C",
                "amount_cny": "abc",
            },
            "amount_cny",
            "Input should be a valid number",
        ),
        (
            {"type": "checkin", "id": "x", "time": "2026-03-32T08:00", "cadre_id": "C"},
            "time",
            "not an ISO-8601 timestamp",
        ),
        (
            {"type": "checkin", "id": "x", "time": "2026-03-10", "cadre_id": "C", "kind": "inn"},
            "kind",
            "Input should be 'in', 'out' or 'field'",
        ),
        (
            {
                "type": "leave",
                "id": "x",
                "time": "2026-03-10T10:00",
                "end": "2026-03-10T09:00",
                "cadre_id": "C",
            },
            "end",
            "is before time",
        ),
        (
            {
                "type": "reception",
                "id": "x",
                "time": "2026-03-10",
                "host_unit_id": "T",
                "amount_cny": 1,
                "items": [{"name": "a", "amount_cny": "x"}],
            },
            "items.0.amount_cny",
            "Input should be a valid number",
        ),
    ],
)
def test_validator_rejections_name_field_and_reason(
    data: dict[str, Any], field: str, reason: str
) -> None:
    result = EventValidator(SH).validate(data)
    assert isinstance(result, Rejection)
    assert result.field == field
    assert reason in result.reason


def test_bad_rows_are_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    good = _line("checkin")
    lines = [
        good,  # 1 valid
        "",  # 2 blank: skipped, not counted
        '{"type":"checkin","id":"ck-2",',  # 3 malformed JSON
        '{"type":"card_txn","id":"t1","time":"2026-03-10T20:00","cadre_id":"C1","amount_cny":"abc"}',
        '{"type":"card_txn","id":"t2","time":"2026-03-10T20:00","cadre_id":"C1","amount_cny":NaN}',
        '{"type":"card_txn","id":"t3","time":"2026-03-10T20:00","cadre_id":"C1","amount_cny":-Infinity}',
        '{"type":"chekin","id":"x","time":"2026-03-10T08:00","cadre_id":"C1"}',  # 7
        '{"id":"x","time":"2026-03-10T08:00","cadre_id":"C1"}',  # 8 no type
        '{"type":"checkin","time":"2026-03-10T08:00","cadre_id":"C1"}',  # 9 no id
        '{"type":"checkin","id":"x9","cadre_id":"C1"}',  # 10 no time
        '{"type":"gift","id":"g","time":"2026-03-10T08:00"}',  # 11 no cadre_id
        '{"type":"leave","id":"l","time":"2026-03-10T10:00","end":"2026-03-10T09:00","cadre_id":"C"}',
        '{"type":"visit","id":"v","time":"10/03/2026","cadre_id":"C1"}',  # 13 bad timestamp
        "[1, 2]",  # 14 not an object
        _line("gift"),  # 15 valid
    ]
    path = _jsonl(tmp_path, lines)
    result = read_events([path])
    assert [e["id"] for e in result.events] == ["ck-1", "gf-1"]
    got = [(q.file, q.line, q.field, q.reason) for q in result.quarantine]
    f = str(path)
    assert got[0][:3] == (f, 3, None) and got[0][3].startswith("invalid JSON")
    assert got[1][:3] == (f, 4, "amount_cny") and "Input should be a valid number" in got[1][3]
    assert got[2] == (f, 5, None, "invalid JSON: NaN/Infinity are not numbers")
    assert got[3] == (f, 6, None, "invalid JSON: NaN/Infinity are not numbers")
    assert got[4] == (f, 7, "type", "unknown event type 'chekin'; did you mean 'checkin'?")
    assert got[5] == (f, 8, "type", "missing required field 'type'")
    assert got[6] == (f, 9, "id", "missing required field 'id'")
    assert got[7] == (f, 10, "time", "missing required field 'time'")
    assert got[8] == (f, 11, "cadre_id", "missing required field 'cadre_id'")
    assert got[9][:3] == (f, 12, "end") and "before time" in got[9][3]
    assert got[10][:3] == (f, 13, "time") and "not an ISO-8601 timestamp" in got[10][3]
    assert got[11] == (f, 14, None, "not a JSON object: got an array")
    assert result.quarantine[1].raw == lines[3]
    stats = result.stats
    assert stats.to_dict() == {
        "read": 14,
        "valid": 2,
        "duplicate": 0,
        "conflict": 0,
        "late": 0,
        "quarantined": 12,
    }
    stats.check()


def test_duplicate_versus_conflict(tmp_path: Path) -> None:
    a = {"type": "checkin", "id": "k1", "time": "2026-03-10T08:00", "cadre_id": "C1"}
    same_instant = dict(a, time="2026-03-10T00:00:00Z")  # identical once validated
    reordered = {k: a[k] for k in reversed(list(a))}
    changed = dict(a, lat=30.1)
    path = _jsonl(tmp_path, [json.dumps(x) for x in (a, same_instant, reordered, changed)])
    ing = Ingestor(SH)
    events = list(ing.read_files(path))
    assert len(events) == 1
    assert ing.stats.to_dict() == {
        "read": 4,
        "valid": 1,
        "duplicate": 2,
        "conflict": 1,
        "late": 0,
        "quarantined": 0,
    }
    ing.stats.check()
    (q,) = ing.quarantine
    assert (q.line, q.field) == (4, "id")
    assert q.reason == f"conflict: (checkin, k1) seen at {path}:1 with different content"


def test_same_id_in_another_type_is_another_event() -> None:
    ing = Ingestor("Asia/Shanghai")
    assert ing.accept({"type": "checkin", "id": "1", "time": "2026-03-10", "cadre_id": "C"})
    assert ing.accept({"type": "gift", "id": "1", "time": "2026-03-10", "cadre_id": "C"})
    assert ing.stats.valid == 2


def test_accept_pushed_events_and_non_objects() -> None:
    ing = Ingestor(SH)
    assert ing.accept([1, 2]) is None
    assert ing.accept({"type": "checkin", "id": "k", "time": "2026-03-10"}, "api", 7) is None
    q = ing.quarantine[-1]
    assert (q.file, q.line, q.field) == ("api", 7, "cadre_id")
    assert json.loads(q.raw)["id"] == "k"
    assert ing.stats.quarantined == 2
    ing.stats.check()


def test_mark_late_moves_an_event_from_valid_to_late() -> None:
    ing = Ingestor(SH)
    ev = ing.accept({"type": "checkin", "id": "k", "time": "2026-03-10", "cadre_id": "C"})
    assert ev is not None
    ing.mark_late(ev)
    ing.mark_late(ev)  # counted once
    assert (ing.stats.valid, ing.stats.late, ing.stats.read) == (0, 1, 1)
    assert ing.late[0].line == 0 and ing.late[0].file == "<push>"
    ing.stats.check()


def test_stats_check_detects_a_mismatch() -> None:
    with pytest.raises(AssertionError):
        IngestStats(read=2, valid=1).check()


def test_csv_with_list_cells_and_booleans(tmp_path: Path) -> None:
    p = tmp_path / "events.csv"
    p.write_text(
        "type,id,time,cadre_ids,passenger_ids,plate,items,host_unit_id,amount_cny,alcohol,destination\n"
        'trip_approval,a1,2026-03-10T08:00,"[""C1"",""C2""]",,,,,,,杭州\n'
        "trip_approval,a2,2026-03-10T08:00,C1; C2,,,,,,,\n"
        "\n"
        'vehicle_trip,v1,2026-03-10T09:00,,C1;C3,浙A1,,,,,"县城\n东门"\n'
        'reception,r1,2026-03-10T12:00,,,,"[{""name"":""午餐"",""amount_cny"":80}]",T01,80,yes,\n'
        "reception,r2,2026-03-10T12:00,,,,,T01,80,maybe,\n"
        "reception,r3,2026-03-10T12:00,,,,[oops,T01,80,no,\n",
        encoding="utf-8",
    )
    result = read_events(p)
    by_id = {e["id"]: e for e in result.events}
    assert by_id["a1"]["cadre_ids"] == ["C1", "C2"]
    assert by_id["a1"]["destination"] == "杭州"
    assert by_id["a2"]["cadre_ids"] == ["C1", "C2"]
    assert by_id["v1"]["passenger_ids"] == ["C1", "C3"]
    assert by_id["v1"]["destination"] == "县城\n东门"
    assert by_id["r1"]["items"] == [{"name": "午餐", "amount_cny": 80.0}]
    assert by_id["r1"]["alcohol"] is True
    assert by_id["r1"]["amount_cny"] == 80.0
    assert by_id["a1"]["time"].isoformat() == "2026-03-10T08:00:00+08:00"
    got = [(q.line, q.field) for q in result.quarantine]
    # Line numbers are physical: the quoted newline makes v1 two lines long.
    assert got == [(8, "alcohol"), (9, "items")]
    assert "not a boolean" in result.quarantine[0].reason
    assert result.quarantine[0].raw == "reception,r2,2026-03-10T12:00,,,,,T01,80,maybe,"
    assert result.stats.read == 6
    result.stats.check()


def test_csv_row_with_too_many_cells(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("type,id,time,cadre_id\ncheckin,k,2026-03-10,C1,extra\n", encoding="utf-8")
    (row,) = list(iter_raw(p))
    assert row.data is None and row.line == 2
    assert row.error == "row has 5 cells but the header has 4"


def test_gzip_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "events.ndjson.gz"
    with gzip.open(p, "wb") as out:
        out.write(b"\xef\xbb\xbf" + _line("checkin").encode() + b"\n\n")
        out.write(_line("gift").encode() + b"\r\n")
    rows = list(iter_raw(p))
    assert [(r.line, r.data["id"] if r.data else None) for r in rows] == [(1, "ck-1"), (3, "gf-1")]
    assert len(read_events(p).events) == 2


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FourinError) as info:
        list(iter_raw(tmp_path / "events.txt"))
    assert info.value.code == "input-file"
    with pytest.raises(FourinError) as info:
        list(iter_raw(tmp_path / "nope.jsonl"))
    assert info.value.code == "input-file"


def test_custom_event_types_are_accepted(tmp_path: Path) -> None:
    models = dict(EVENT_MODELS)
    models["road_block"] = make_custom_event_model(
        "road_block", {"n": "number", "tags": "list[str]"}
    )
    p = tmp_path / "e.csv"
    p.write_text("type,id,time,n,tags\nroad_block,b1,2026-03-10T08:00,3,a;b\n", encoding="utf-8")
    result = read_events([p], models=models)
    assert result.events[0]["n"] == 3
    assert result.events[0]["tags"] == ["a", "b"]


def test_write_quarantine_is_jsonl(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, ['{"type":"chekin","id":"x","time":"2026-03-10"}', "{bad"])
    result = read_events(path)
    out = tmp_path / "quarantine.jsonl"
    write_quarantine(out, result.quarantine)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2]
    assert records[0] == {
        "file": str(path),
        "line": 1,
        "field": "type",
        "reason": "unknown event type 'chekin'; did you mean 'checkin'?",
        "raw": '{"type":"chekin","id":"x","time":"2026-03-10"}',
    }


def test_counts_add_up_over_many_files(tmp_path: Path) -> None:
    a = _jsonl(tmp_path, [_line("checkin"), _line("gift"), "nope"], "a.jsonl")
    b = _jsonl(tmp_path, [_line("checkin"), _line("visit")], "b.jsonl")
    ing = Ingestor(SH)
    assert len(list(ing.read_files([a, b]))) == 3
    assert ing.stats.to_dict() == {
        "read": 5,
        "valid": 3,
        "duplicate": 1,
        "conflict": 0,
        "late": 0,
        "quarantined": 1,
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["checkin", "gift", "chekin"]),
            st.sampled_from(["a", "b", "c", ""]),
            st.sampled_from(["C1", "C2", None]),
        ),
        max_size=30,
    )
)
def test_counts_always_add_up(rows: list[tuple[str, str, str | None]]) -> None:
    ing = Ingestor(SH)
    first: dict[tuple[str, str], str | None] = {}
    for type_name, event_id, cadre in rows:
        data = {"type": type_name, "id": event_id, "time": "2026-03-10T08:00"}
        if cadre is not None:
            data["cadre_id"] = cadre
        ing.accept(data)
        if type_name != "chekin" and event_id and cadre is not None:
            first.setdefault((type_name, event_id), cadre)
    ing.stats.check()
    assert ing.stats.read == len(rows)
    assert ing.stats.valid == len(first)
