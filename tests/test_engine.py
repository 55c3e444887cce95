"""The engine facade: batch and streaming agree, whatever the order and batching of events."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "rules" / "fixtures" / "small-county.yaml"
CADRES = ["K01", "K02", "K03", "K04"]


@pytest.fixture(scope="module")
def engines() -> dict[str, Engine]:
    return {b: Engine(None, REFERENCE, backend=b) for b in ("durable", "python")}


def _ts(day: int, minute: int) -> str:
    hh, mm = divmod(minute, 60)
    return f"2026-03-{day:02d}T{hh:02d}:{mm:02d}:00+08:00"


@st.composite
def streams(draw: st.DrawFn) -> list[dict]:
    """A week of mixed events for a few cadres: check-ins, trips, card payments, meals, leave,
    promises; near-misses and violations alike."""
    n = draw(st.integers(min_value=1, max_value=40))
    events: list[dict] = []
    for i in range(n):
        kind = draw(
            st.sampled_from(
                ["checkin", "vehicle_trip", "card_txn", "canteen_meal", "leave", "commitment"]
            )
        )
        cadre = draw(st.sampled_from(CADRES))
        day = draw(st.integers(min_value=9, max_value=15))
        minute = draw(st.integers(min_value=6 * 60, max_value=22 * 60))
        t = _ts(day, minute)
        eid = f"e{i}"
        if kind == "checkin":
            town = draw(st.sampled_from(["T01", "T02"]))
            events.append(
                {"type": "checkin", "id": eid, "time": t, "cadre_id": cadre, "township_id": town}
            )
        elif kind == "vehicle_trip":
            plate = draw(st.sampled_from(["皖K-T0101", "皖K-E0001", "皖K-D0001"]))
            extra = draw(st.sampled_from([[], ["S02"]]))
            events.append(
                {
                    "type": "vehicle_trip",
                    "id": eid,
                    "time": t,
                    "plate": plate,
                    "passenger_ids": [cadre, *extra],
                    "km": 10,
                    "requesting_unit_id": draw(st.sampled_from([None, "T01"])),
                }
            )
        elif kind == "card_txn":
            mcc = draw(st.sampled_from(["7911", "5411", "5812"]))
            events.append(
                {
                    "type": "card_txn",
                    "id": eid,
                    "time": t,
                    "cadre_id": cadre,
                    "amount_cny": 300,
                    "merchant_name": draw(st.sampled_from(["KTV", "超市", "酒店"])),
                    "mcc": mcc,
                    "reimbursed_claim_id": draw(st.sampled_from([None, "R1"])),
                }
            )
        elif kind == "canteen_meal":
            events.append(
                {
                    "type": "canteen_meal",
                    "id": eid,
                    "time": t,
                    "cadre_id": cadre,
                    "meal": "lunch",
                    "paid_cny": draw(st.sampled_from([0, 0, 10])),
                }
            )
        elif kind == "leave":
            events.append(
                {
                    "type": "leave",
                    "id": eid,
                    "time": t,
                    "end": _ts(day, min(minute + 240, 23 * 60)),
                    "cadre_id": cadre,
                    "leave_type": "personal",
                    "status": draw(st.sampled_from(["approved", "pending"])),
                }
            )
        else:
            events.append(
                {
                    "type": "commitment",
                    "id": eid,
                    "time": t,
                    "cadre_id": cadre,
                    "target_id": "V01",
                    "text": "修路",
                    "due": _ts(min(day + 2, 15), 0),
                    "status": draw(st.sampled_from(["open", "done"])),
                    "dept_confirmed": False,
                }
            )
    return events


def _ids(findings: list) -> list[tuple[str, str, str, str]]:
    return [(f.id, f.rule_id, f.severity, f.status) for f in findings]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=streams(), seed=st.integers(0, 10_000))
def test_shuffled_batched_streams_give_identical_findings(
    engines: dict[str, Engine], events: list[dict], seed: int
) -> None:
    engine = engines["durable"]
    until = "2026-03-15"
    expected = engine.run(events, until=until)
    rng = random.Random(seed)
    shuffled = list(events)
    rng.shuffle(shuffled)
    # 1. run() on the shuffled events
    assert _ids(engine.run(shuffled, until=until).findings) == _ids(expected.findings)
    # 2. a session fed shuffled events in random batches, the watermark moved by hand at the end
    session = engine.session(watermark="manual")
    emitted = []
    i = 0
    while i < len(shuffled):
        size = rng.randint(1, 7)
        emitted += session.push_many(shuffled[i : i + size])
        i += size
    emitted += session.close(until=until)
    assert sorted(_ids(emitted)) == sorted(_ids(expected.findings))
    assert _ids(session.result().findings) == _ids(expected.findings)
    # 3. a session in time order with an automatic watermark emits as it goes, the same findings
    ordered = sorted(events, key=lambda e: e["time"])
    live = engine.session(lateness=timedelta(hours=1))
    streamed = live.push_many(ordered) + live.close(until=until)
    assert sorted(_ids(streamed)) == sorted(_ids(expected.findings))
    assert live.stats.late == 0
    # 4. the reference backend agrees with durable_rules
    assert _ids(engines["python"].run(shuffled, until=until).findings) == _ids(expected.findings)


def test_findings_are_decided_as_soon_as_the_watermark_passes(engines: dict[str, Engine]) -> None:
    session = engines["durable"].session(lateness=timedelta(hours=2))
    first = session.push(
        {
            "type": "checkin",
            "id": "a",
            "time": "2026-03-10T08:40:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    assert first == []
    # The next morning, minus two hours of lateness, is past 2026-03-10 24:00: day 10 is decided.
    decided = session.push(
        {
            "type": "checkin",
            "id": "b",
            "time": "2026-03-11T02:30:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    d1 = sorted((f.subject.id, f.status) for f in decided if f.rule_id == "D1")
    assert d1 == [("K01", "final"), ("K02", "final"), ("K03", "final")]


def test_late_events_are_counted_and_reported_not_dropped(engines: dict[str, Engine]) -> None:
    session = engines["durable"].session(lateness=timedelta(hours=1))
    session.push(
        {
            "type": "checkin",
            "id": "a",
            "time": "2026-03-10T15:00:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    session.push(
        {
            "type": "card_txn",
            "id": "late",
            "time": "2026-03-10T09:00:00+08:00",
            "cadre_id": "K01",
            "amount_cny": 800,
            "merchant_name": "KTV",
            "mcc": "7911",
        }
    )
    session.close()
    result = session.result()
    assert [(x.type, x.id) for x in result.late] == [("card_txn", "late")]
    assert result.stats.late == 1 and result.stats.valid == 1
    result.stats.check()
    assert not [f for f in result.findings if f.rule_id == "P8"]


def test_every_row_is_accounted_for(engines: dict[str, Engine]) -> None:
    rows = [
        {"type": "checkin", "id": "a", "time": "2026-03-10T08:40:00+08:00", "cadre_id": "K01"},
        {
            "type": "checkin",
            "id": "a",
            "time": "2026-03-10T08:40:00+08:00",
            "cadre_id": "K01",
        },  # duplicate
        {
            "type": "checkin",
            "id": "a",
            "time": "2026-03-10T09:40:00+08:00",
            "cadre_id": "K01",
        },  # conflict
        {"type": "checkin", "id": "b", "time": "not a time", "cadre_id": "K01"},  # quarantined
        {
            "type": "card_txn",
            "id": "c",
            "time": "2026-03-10T08:40:00+08:00",
            "cadre_id": "K01",
            "amount_cny": float("nan"),
            "merchant_name": "x",
            "mcc": "1",
        },  # quarantined
        {"type": "nope", "id": "d", "time": "2026-03-10T08:40:00+08:00"},  # quarantined
    ]
    result = engines["durable"].run(rows)
    s = result.stats
    assert (s.read, s.valid, s.duplicate, s.conflict, s.quarantined) == (6, 1, 1, 1, 3)
    s.check()
    assert {q.field for q in result.quarantine} >= {"time", "amount_cny", "type", "id"}


def test_ids_are_deterministic_across_runs_and_engines() -> None:
    events = [
        {
            "type": "card_txn",
            "id": "x",
            "time": "2026-03-10T21:00:00+08:00",
            "cadre_id": "K01",
            "amount_cny": 800,
            "merchant_name": "KTV",
            "mcc": "7911",
        }
    ]
    one = Engine(None, REFERENCE).run(events).findings
    two = Engine(None, REFERENCE).run(events).findings
    assert [f.id for f in one] == [f.id for f in two]
    assert len(one[0].id) == 20


def test_a_year_without_holiday_data_is_a_clear_error(engines: dict[str, Engine]) -> None:
    with pytest.raises(FourinError) as info:
        engines["durable"].run(
            [{"type": "checkin", "id": "a", "time": "2031-03-10T08:40:00+08:00", "cadre_id": "K01"}]
        )
    assert info.value.code == "calendar-missing-year"
    assert "calendar" in (info.value.suggestion or "")


def test_the_calendar_section_can_supply_a_year(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8").replace("end: 2026-12-31", "end: 2031-12-31")
    text += 'calendar:\n  national:\n    2031:\n      holidays: ["2031-01-01"]\n'
    ref = tmp_path / "ref.yaml"
    ref.write_text(text, encoding="utf-8")
    engine = Engine(None, ref)
    result = engine.run([], since="2031-03-10", until="2031-03-10")  # a Monday
    assert sorted(f.subject.id for f in result.findings if f.rule_id == "D1") == [
        "K01",
        "K02",
        "K03",
    ]


def test_campaign_overrides_make_a_sunday_a_duty_day(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8") + 'calendar:\n  duty_days: ["2026-03-15"]\n'
    ref = tmp_path / "ref.yaml"
    ref.write_text(text, encoding="utf-8")
    result = Engine(None, ref).run([], since="2026-03-15", until="2026-03-15")
    assert len([f for f in result.findings if f.rule_id == "D1"]) == 3
    assert Engine(None, REFERENCE).run([], since="2026-03-15", until="2026-03-15").findings == []


def test_a_late_event_names_the_finding_it_would_have_touched() -> None:
    engine = Engine(None, ROOT / "rules" / "fixtures" / "one-cadre.yaml")
    session = engine.session(lateness=timedelta(hours=1))
    session.push(
        {
            "type": "checkin",
            "id": "a",
            "time": "2026-03-10T08:40:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    decided = session.push(
        {
            "type": "checkin",
            "id": "b",
            "time": "2026-03-11T09:40:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    (d1,) = [f for f in decided if f.rule_id == "D1"]
    # The afternoon check-in of the 10th arrives after the day was judged empty.
    session.push(
        {
            "type": "checkin",
            "id": "late",
            "time": "2026-03-10T15:00:00+08:00",
            "cadre_id": "K01",
            "township_id": "T01",
        }
    )
    (late,) = session.result().late
    assert late.id == "late" and late.rules == ("D1",)
    assert late.touched == (d1.id,)
    assert late.to_dict()["touched_findings"] == [d1.id]
