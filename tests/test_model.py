from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

import fourin_rules.model as model_pkg
from fourin_rules.errors import FourinError
from fourin_rules.model import (
    CLAUSES,
    EVENT_MODELS,
    CardTxnEvent,
    CheckinEvent,
    CommitmentEvent,
    Finding,
    LeaveEvent,
    ReceptionEvent,
    event_field_types,
    json_schemas,
    make_custom_event_model,
)

SH = ZoneInfo("Asia/Shanghai")
CTX = {"tz": SH}


def test_every_contract_type_has_a_model() -> None:
    assert sorted(EVENT_MODELS) == sorted(
        [
            "checkin",
            "leave",
            "trip_approval",
            "vehicle_trip",
            "card_txn",
            "reimbursement",
            "reception",
            "canteen_meal",
            "visit",
            "publicity",
            "data_request",
            "meeting",
            "township_task",
            "commitment",
            "complaint",
            "rating",
            "gift",
        ]
    )


def test_checkin_defaults_and_extras_are_kept() -> None:
    ev = CheckinEvent.model_validate(
        {"type": "checkin", "id": "k1", "time": "2026-03-10T08:12", "cadre_id": "C1", "app": "x"},
        context=CTX,
    )
    assert ev.kind == "in"
    assert ev.mock_location is False
    assert ev.lat is None
    assert ev.model_dump()["app"] == "x"
    assert ev.time == datetime(2026, 3, 10, 8, 12, tzinfo=SH)


def test_timestamp_with_offset_is_that_instant_in_the_dataset_zone() -> None:
    ev = CheckinEvent.model_validate(
        {"id": "k1", "time": "2026-03-09T17:00:00Z", "cadre_id": "C1"}, context=CTX
    )
    assert ev.time.isoformat() == "2026-03-10T01:00:00+08:00"


def test_timestamp_without_context_defaults_to_shanghai() -> None:
    ev = CheckinEvent.model_validate({"id": "k1", "time": "2026-03-10T08:00", "cadre_id": "C1"})
    assert ev.time.utcoffset() == timedelta(hours=8)


def test_timestamp_zone_from_context() -> None:
    ev = CheckinEvent.model_validate(
        {"id": "k1", "time": "2026-03-10T08:00", "cadre_id": "C1"}, context={"tz": "UTC"}
    )
    assert ev.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", ["2026-13-10T08:00", "yesterday", 1773100000, True])
def test_bad_timestamps_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        CheckinEvent.model_validate({"id": "k", "time": bad, "cadre_id": "C1"}, context=CTX)
    assert info.value.errors()[0]["loc"] == ("time",)


def test_end_before_time_is_refused_on_end() -> None:
    with pytest.raises(ValidationError) as info:
        LeaveEvent.model_validate(
            {"id": "l", "time": "2026-03-10T10:00", "end": "2026-03-10T09:00", "cadre_id": "C"},
            context=CTX,
        )
    err = info.value.errors()[0]
    assert err["loc"] == ("end",)
    assert "before time" in err["msg"]


def test_leave_end_equal_to_time_is_fine() -> None:
    ev = LeaveEvent.model_validate(
        {"id": "l", "time": "2026-03-10T10:00", "end": "2026-03-10T10:00", "cadre_id": "C"},
        context=CTX,
    )
    assert ev.end == ev.time
    assert ev.status is None


def test_subject_field_is_required() -> None:
    with pytest.raises(ValidationError) as info:
        CardTxnEvent.model_validate({"id": "t", "time": "2026-03-10", "amount_cny": 5})
    assert info.value.errors()[0]["loc"] == ("cadre_id",)


def test_empty_id_is_refused() -> None:
    with pytest.raises(ValidationError):
        CheckinEvent.model_validate({"id": "", "time": "2026-03-10", "cadre_id": "C1"})


def test_nan_amount_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        CardTxnEvent.model_validate(
            {"id": "t", "time": "2026-03-10", "cadre_id": "C", "amount_cny": float("nan")}
        )
    assert info.value.errors()[0]["loc"] == ("amount_cny",)


def test_amounts_are_floats_counts_ints_and_mcc_a_string() -> None:
    ev = ReceptionEvent.model_validate(
        {
            "id": "r",
            "time": "2026-03-10T12:00",
            "host_unit_id": "T1",
            "amount_cny": 300,
            "guests_n": 4,
            "mcc": 5812,
            "items": [{"name": "午餐", "amount_cny": 300}],
        }
    )
    assert isinstance(ev.amount_cny, float)
    assert ev.guests_n == 4
    assert ev.mcc == "5812"
    assert ev.model_dump()["items"] == [{"name": "午餐", "amount_cny": 300.0}]


def test_commitment_due_date_means_end_of_that_day() -> None:
    ev = CommitmentEvent.model_validate(
        {"id": "c", "time": "2026-03-01T09:00", "cadre_id": "C", "due": "2026-03-10"}, context=CTX
    )
    assert ev.due == datetime(2026, 3, 11, 0, 0, tzinfo=SH)
    ev2 = CommitmentEvent.model_validate(
        {"id": "c", "time": "2026-03-01T09:00", "cadre_id": "C", "due": date(2026, 3, 10)}
    )
    assert ev2.due == ev.due


def test_commitment_due_timestamp_is_kept() -> None:
    ev = CommitmentEvent.model_validate(
        {"id": "c", "time": "2026-03-01T09:00", "cadre_id": "C", "due": "2026-03-10T18:00"},
        context=CTX,
    )
    assert ev.due == datetime(2026, 3, 10, 18, 0, tzinfo=SH)


def test_event_field_types_uses_value_type_strings() -> None:
    types = event_field_types("reimbursement")
    assert types["type"] == "str"
    assert types["id"] == "str"
    assert types["time"] == "time"
    assert types["end"] == "time"
    assert types["source"] == "str"
    assert types["amount_cny"] == "number"
    assert types["nights"] == "number"
    assert types["category"] == "str"
    assert types["items"] == "list[record:item]"
    assert types["beneficiary_ids"] == "list[str]"
    assert event_field_types("checkin")["mock_location"] == "bool"
    assert event_field_types("commitment")["due"] == "time"


def test_event_field_types_unknown_type_suggests() -> None:
    with pytest.raises(FourinError) as info:
        event_field_types("chekin")
    assert info.value.code == "unknown-event-type"
    assert info.value.suggestion == "did you mean 'checkin'?"


def test_custom_event_model_validates_declared_fields() -> None:
    model = make_custom_event_model(
        "road_block",
        {"reason": "str", "n": "number", "at": "time", "on": "date", "tags": "list[str]"},
    )
    ev = model.model_validate(
        {"id": "1", "time": "2026-03-10T08:00", "n": "3", "at": "2026-03-10T09:00", "x": 1},
        context=CTX,
    ).model_dump()
    assert ev["type"] == "road_block"
    assert ev["n"] == 3
    assert ev["at"] == datetime(2026, 3, 10, 9, 0, tzinfo=SH)
    assert ev["reason"] is None
    assert ev["tags"] == []
    assert ev["x"] == 1
    types = event_field_types("road_block", {"road_block": model})
    assert types["on"] == "date"
    assert types["tags"] == "list[str]"
    with pytest.raises(ValidationError):
        model.model_validate({"id": "1", "time": "2026-03-10", "n": "many"})


def test_custom_event_model_refuses_unknown_field_type() -> None:
    with pytest.raises(FourinError) as info:
        make_custom_event_model("road_block", {"n": "numbr"})
    assert info.value.code == "pack-schema"
    assert info.value.suggestion == "did you mean 'number'?"


@pytest.mark.parametrize(
    ("name", "fields"),
    [("checkin", {}), ("Road Block", {}), ("road_block", {"model_config": "str"})],
)
def test_custom_event_model_refuses_bad_names(name: str, fields: dict[str, str]) -> None:
    with pytest.raises(FourinError) as info:
        make_custom_event_model(name, fields)
    assert info.value.code == "pack-schema"


def _finding(**over: object) -> Finding:
    data: dict[str, object] = {
        "id": "f-1",
        "rule_id": "P2",
        "pack": {"id": "ten-prohibitions", "version": "1.0.0"},
        "clause": "不准占用基层车辆",
        "title": {"zh": "占用基层车辆", "en": "Uses a grassroots vehicle"},
        "severity": "high",
        "subject": {"kind": "cadre", "id": "C1"},
        "window": {
            "start": datetime(2026, 3, 10, tzinfo=SH),
            "end": datetime(2026, 3, 11, tzinfo=SH),
        },
        "evidence": [{"type": "vehicle_trip", "id": "vt1"}],
        "message": {"zh": "甲", "en": "a"},
        "status": "final",
        "facts": {"plate": "粤B12345"},
    }
    data.update(over)
    return Finding.model_validate(data)


def test_finding_json_dict_order_and_iso_offsets() -> None:
    out = _finding().to_json_dict()
    assert list(out)[:14] == [
        "id",
        "rule_id",
        "pack",
        "clause",
        "title",
        "severity",
        "subject",
        "cadre_id",
        "window",
        "evidence",
        "negative_evidence",
        "message",
        "needs_review",
        "status",
    ]
    assert out["window"] == {
        "start": "2026-03-10T00:00:00+08:00",
        "end": "2026-03-11T00:00:00+08:00",
    }
    assert out["cadre_id"] == "C1"  # filled in from a cadre subject
    assert out["evidence"] == [{"type": "vehicle_trip", "id": "vt1"}]
    assert json.loads(json.dumps(out)) == out


def test_finding_utc_window_keeps_numeric_offset() -> None:
    w = {"start": datetime(2026, 3, 10, tzinfo=UTC), "end": datetime(2026, 3, 10, 1, tzinfo=UTC)}
    assert _finding(window=w).to_json_dict()["window"]["start"] == "2026-03-10T00:00:00+00:00"


@pytest.mark.parametrize(
    "over",
    [
        {"clause": "不准乱来"},
        {"severity": "critical"},
        {"status": "maybe"},
        {"subject": {"kind": "person", "id": "C1"}},
        {"window": {"start": datetime(2026, 3, 10), "end": datetime(2026, 3, 11)}},
        {
            "window": {
                "start": datetime(2026, 3, 11, tzinfo=UTC),
                "end": datetime(2026, 3, 10, tzinfo=UTC),
            }
        },
        {"colour": "red"},
    ],
)
def test_finding_refuses_bad_values(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _finding(**over)


def test_clauses_are_the_seed_texts() -> None:
    assert len(CLAUSES) == 16
    assert "坚持四进同步" in CLAUSES


def test_json_schemas_are_json_and_cover_the_contract() -> None:
    schemas = json_schemas()
    assert json.loads(json.dumps(schemas)) == schemas
    assert set(EVENT_MODELS) | {"reference", "finding"} == set(schemas)
    assert "amount_cny" in schemas["card_txn"]["properties"]
    assert "cadre_id" in schemas["card_txn"]["required"]
    assert "negative_evidence" in schemas["finding"]["properties"]
    assert "assignments" in schemas["reference"]["properties"]


def test_model_package_exports_resolve() -> None:
    for name in model_pkg.__all__:
        assert getattr(model_pkg, name) is not None
        assert not name.startswith("_")
