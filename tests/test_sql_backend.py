"""The columnar (DuckDB) backend against durable_rules: the same findings, field for field.

A disagreement is a bug in one of them. Three sources of cases: every test embedded in the
bundled packs, the bundled county (a year's worth of planted violations and near-misses), and
hypothesis-generated streams of random cadres, days and events.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fourin_rules.engine import Engine
from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import iter_cases, run_case
from test_engine import CADRES, REFERENCE, _ts, streams

ROOT = Path(__file__).parents[1]
COUNTY = ROOT / "examples" / "county"
CASES = list(iter_cases(load_packs(None)))


def _dump(findings: list) -> list[str]:
    """The findings as their JSON text: byte for byte, so a count written ``0.0`` on one side
    and ``0`` on the other differs (dicts would compare them equal)."""
    return [f.model_dump_json() for f in findings]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.pack.id}:{c.test.name}")
def test_every_embedded_pack_test_passes_on_duckdb(case) -> None:
    outcome = run_case(case, "duckdb")
    assert outcome.passed, outcome.render()
    # And gives the durable backend's findings byte for byte (facts and messages included,
    # which the expectations do not spell out).
    assert _dump(outcome.findings) == _dump(run_case(case, "durable").findings)


def test_the_county_gives_identical_findings_on_duckdb_and_durable() -> None:
    kwargs = {"reference": COUNTY / "reference.yaml"}
    durable = Engine(None, backend="durable", **kwargs).run_files([COUNTY / "events.jsonl"])
    duck = Engine(None, backend="duckdb", **kwargs).run_files([COUNTY / "events.jsonl"])
    assert len(duck.findings) == 111
    assert _dump(duck.findings) == _dump(durable.findings)
    assert duck.stats.to_dict() == durable.stats.to_dict()
    assert [q.to_dict() for q in duck.quarantine] == [q.to_dict() for q in durable.quarantine]


@pytest.fixture(scope="module")
def pair() -> dict[str, Engine]:
    return {b: Engine(None, REFERENCE, backend=b) for b in ("durable", "duckdb")}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=streams())
def test_random_streams_give_identical_findings(
    pair: dict[str, Engine], events: list[dict]
) -> None:
    until = "2026-03-15"
    expected = pair["durable"].run(events, until=until)
    shuffled = list(events)
    random.Random(len(events)).shuffle(shuffled)
    got = pair["duckdb"].run(shuffled, until=until)
    assert _dump(got.findings) == _dump(expected.findings)
    assert got.stats.to_dict() == expected.stats.to_dict()


def test_a_session_on_the_duckdb_engine_streams_on_durable_rules(pair: dict[str, Engine]) -> None:
    session = pair["duckdb"].session()
    assert session.processor.matcher.name == "durable"


PLACES = {  # (lat, lon): in a township, at a village, at home, far away
    "T01": (33.2, 115.7),
    "T02": (33.3, 115.9),
    "V01": (33.22, 115.72),
    "home": (33.1, 115.6),
    "far": (33.8, 116.4),
}


@st.composite
def located_streams(draw: st.DrawFn) -> list[dict]:
    """Two weeks of located sightings, visits, ratings, complaints and trips for a few cadres:
    the kinds the first strategy misses (run spans, consecutive sightings, sliding windows,
    roster windows of groups)."""
    n = draw(st.integers(min_value=1, max_value=60))
    events: list[dict] = []
    for i in range(n):
        kind = draw(
            st.sampled_from(["checkin", "card_txn", "visit", "rating", "complaint", "trip"])
        )
        cadre = draw(st.sampled_from(CADRES))
        day = draw(st.integers(min_value=2, max_value=15))
        minute = draw(st.integers(min_value=7 * 60, max_value=19 * 60))
        t = _ts(day, minute)
        eid = f"x{i}"
        lat, lon = PLACES[draw(st.sampled_from(sorted(PLACES)))]
        if kind == "checkin":
            events.append(
                {"type": "checkin", "id": eid, "time": t, "cadre_id": cadre, "lat": lat, "lon": lon}
            )
        elif kind == "card_txn":
            events.append(
                {
                    "type": "card_txn",
                    "id": eid,
                    "time": t,
                    "cadre_id": cadre,
                    "amount_cny": 20,
                    "merchant_name": "早餐",
                    "mcc": "5812",
                    "lat": lat,
                    "lon": lon,
                }
            )
        elif kind == "visit":
            events.append(
                {
                    "type": "visit",
                    "id": eid,
                    "time": t,
                    "end": _ts(day, minute + draw(st.sampled_from([5, 15, 60]))),
                    "cadre_id": cadre,
                    "group_id": draw(st.sampled_from(["G1", "G2"])),
                    "target_id": draw(st.sampled_from(["V01", "V02", "E01"])),
                    "target_kind": draw(st.sampled_from(["village", "enterprise"])),
                    "photos_n": draw(st.sampled_from([0, 3, 15])),
                    "accompanying_staff_n": draw(st.sampled_from([0, 2, 4])),
                }
            )
        elif kind == "rating":
            events.append(
                {
                    "type": "rating",
                    "id": eid,
                    "time": t,
                    "cadre_id": cadre,
                    "score": draw(st.sampled_from([1, 2, 5])),
                    "dimension": draw(st.sampled_from(["conduct", "integration", "obedience"])),
                }
            )
        elif kind == "complaint":
            events.append(
                {
                    "type": "complaint",
                    "id": eid,
                    "time": t,
                    "subject_cadre_ids": [cadre],
                    "complainant_id": draw(st.sampled_from(["P1", "P2", "P3"])),
                    "category": draw(
                        st.sampled_from(["arrogance", "interference", "harm_to_public", "other"])
                    ),
                    "verified": draw(st.sampled_from(["substantiated", "unverified", "unfounded"])),
                }
            )
        else:
            events.append(
                {
                    "type": "vehicle_trip",
                    "id": eid,
                    "time": t,
                    "plate": draw(st.sampled_from(["皖K-T0101", "皖K-D0001"])),
                    "passenger_ids": [cadre],
                    "km": 12,
                }
            )
    return events


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=located_streams())
def test_random_located_streams_give_identical_findings(
    pair: dict[str, Engine], events: list[dict]
) -> None:
    until = "2026-03-15"
    expected = pair["durable"].run(events, until=until)
    got = pair["duckdb"].run(events, until=until)
    assert _dump(got.findings) == _dump(expected.findings)


@pytest.mark.parametrize(
    ("source", "ints", "whole"),
    [
        ("1 if b1 else 0", frozenset(), True),
        ("n1", frozenset({"n1"}), True),  # a count field
        ("n1", frozenset(), False),  # a number field: a float in Python
        ("n1 * 2 + 1", frozenset({"n1"}), True),
        ("n1 / 2", frozenset({"n1"}), False),
        ("1 if b1 else 0.5", frozenset(), False),
        ("-n1", frozenset({"n1"}), True),
        ("len(l1)", frozenset(), False),  # not proven: left as SQL gives it
    ],
)
def test_int_valued_tells_the_inputs_python_makes_ints(
    source: str, ints: frozenset[str], whole: bool
) -> None:
    from fourin_rules.backends.sql.kinds import int_valued
    from fourin_rules.expr.compiler import Scope, compile_expr

    node = compile_expr(source, Scope(fields={"b1": "bool", "n1": "number", "l1": "list[str]"}))
    assert int_valued(node, ints) is whole


SPANS_PACK = """
pack: {id: spans, version: 1.0.0, title: {zh: 连续, en: runs}}
rules:
  - id: S1
    clause: 不准借下基层办私事
    kind: threshold
    title: {zh: 连续停留, en: runs}
    message:
      zh: "{subject} {north:.0f} {south:.0f} {n} {places}"
      en: "{subject} {north:.0f} {south:.0f} {n} {places}"
    on: [checkin, card_txn]
    when: lat != null
    window: day
    values:
      north: run_span(lat > 33.15)
      south: run_span(lat < 33.25)
      n: count()
      places: distinct(lat)
    having: north >= 40 or (south >= 60 and n < 9)
  - id: S2
    clause: 不准借下基层办私事
    kind: threshold
    title: {zh: 未曾连续, en: no run}
    message: {zh: "{subject} {north}", en: "{subject} {north}"}
    on: [checkin]
    when: lat != null
    window: day
    values:
      north: run_span(lat > 33.15)
    having: north == 0
"""


@st.composite
def dense_sightings(draw: st.DrawFn) -> list[dict]:
    """Located check-ins of two cadres over two mornings, often at equal minutes: long runs
    of one place and the other."""
    events = []
    for i in range(draw(st.integers(min_value=1, max_value=40))):
        lat, lon = PLACES[draw(st.sampled_from(sorted(PLACES)))]
        day = draw(st.integers(min_value=9, max_value=10))
        minute = draw(st.sampled_from(range(8 * 60, 12 * 60, 20)))
        cadre = draw(st.sampled_from(CADRES[:2]))
        events.append(
            {"type": "checkin", "id": f"c{i}", "time": _ts(day, minute), "cadre_id": cadre}
            | {"lat": lat, "lon": lon}
        )
    return events


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=dense_sightings())
def test_run_spans_beside_other_values_give_identical_findings(
    spans_pair: dict[str, Engine], events: list[dict]
) -> None:
    """Two run spans (islands of their own) and two plain aggregates in one rule: the SQL
    groups each apart and joins them by window. S2 passes the windows whose span is 0, among
    them those where the input never holds (which SQL does not sort into islands)."""
    until = "2026-03-15"
    expected = spans_pair["durable"].run(events, until=until)
    got = spans_pair["duckdb"].run(events, until=until)
    assert _dump(got.findings) == _dump(expected.findings)


def test_a_window_where_a_run_span_input_never_holds_has_span_zero(
    spans_pair: dict[str, Engine],
) -> None:
    """K01 is only ever at home (south) on the 9th: no entry of its window is sorted into
    islands, and its span is 0 as the durable backend says; K02's has a run of 40 minutes."""
    south, north = PLACES["home"], PLACES["T02"]
    events = [
        {"type": "checkin", "id": f"s{i}", "time": _ts(9, 480 + 20 * i), "cadre_id": "K01"}
        | {"lat": south[0], "lon": south[1]}
        for i in range(3)
    ] + [
        {"type": "checkin", "id": f"n{i}", "time": _ts(9, 480 + 20 * i), "cadre_id": "K02"}
        | {"lat": north[0], "lon": north[1]}
        for i in range(3)
    ]
    until = "2026-03-15"
    expected = spans_pair["durable"].run(events, until=until).findings
    got = spans_pair["duckdb"].run(events, until=until).findings
    assert _dump(got) == _dump(expected)
    assert {(f.rule_id, f.subject.id) for f in expected} >= {("S2", "K01")}
    assert ("S2", "K02") not in {(f.rule_id, f.subject.id) for f in expected}


@pytest.fixture(scope="module")
def spans_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Engine]:
    pack = tmp_path_factory.mktemp("spans") / "spans.yaml"
    pack.write_text(SPANS_PACK, encoding="utf-8")
    engines = {b: Engine([pack], REFERENCE, backend=b) for b in ("durable", "duckdb")}
    assert engines["duckdb"].plan.rules[0].rule_id == "S1"
    return engines


def test_absence_slots_read_the_wall_clock_on_a_day_the_clocks_change() -> None:
    """Cairo moves its clocks forward at midnight on Friday 2026-04-24 (a duty day): 14:30 on
    the wall is 13.5 hours after midnight. The afternoon slot (from 14:00) must count it, as
    the durable backend does; time elapsed since midnight would not."""
    import yaml

    reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8")) | {"timezone": "Africa/Cairo"}
    events = [
        {"type": "checkin", "id": f"c{i}", "time": t, "cadre_id": "K01", "township_id": "T01"}
        for i, t in enumerate(["2026-04-24T09:00:00+03:00", "2026-04-24T14:30:00+03:00"])
    ]
    day = {"since": "2026-04-24", "until": "2026-04-24"}
    expected = Engine(None, reference, backend="durable").run(events, **day).findings
    got = Engine(None, reference, backend="duckdb").run(events, **day).findings
    assert _dump(got) == _dump(expected)
    d1 = {f.subject.id for f in expected if f.rule_id == "D1"}
    assert "K02" in d1 and "K01" not in d1


WALL_CLOCK_PACK = (
    """
pack: {id: wall, version: 1.0.0, title: {zh: 钟点, en: wall clock}}
rules:
  - id: W1
    clause: 保证每天在乡镇(街道)工作,决不能出现空岗
    kind: match
    title: {zh: 钟点, en: wall clock}
    on: checkin
    subject: {id: cadre_id}
    when: >
      hour(time) < 2 or minute_of_day(time) >= 23 * 60 or weekday(time) == 5
      or (duty_day(time) and work_hours(time))
      or assignment(cadre_id, time).township_id != township_id
    let:
      h: hour(time)
      m: minute_of_day(time)
      d: weekday(time)
      day: local_date(time)
      mins: minutes_between(time, end)
    facts: {h: h, m: m, d: d, day: day}
    message:
      zh: "{cadre_id} {time:%Y-%m-%d %H:%M} {h} {m} {d} {day} {mins:.0f}"
      en: "{cadre_id} {time:%Y-%m-%d %H:%M} {h} {m} {d} {day} {mins:.0f}"
"""
    + "".join(
        f"""  - id: {rule_id}
    clause: 保证每天在乡镇(街道)工作,决不能出现空岗
    kind: threshold
    title: {{zh: {window}, en: {window}}}
    message: {{zh: "{{subject}} {{n}}", en: "{{subject}} {{n}}"}}
    on: checkin
    window: {window}
    values:
      n: count()
    having: n >= {least}
"""
        for rule_id, window, least in [
            ("W2", "day", 1),
            ("W3", "hopping:2d:1d", 1),
            ("W4", "sliding:1d", 2),
        ]
    )
    + """  - id: W5
    clause: 保证每天在乡镇(街道)工作,决不能出现空岗
    kind: sequence
    title: {zh: 相继, en: in a row}
    consecutive: true
    key: [cadre_id]
    subject: {id: a.cadre_id}
    steps:
      - {as: a, on: checkin}
      - {as: b, on: checkin, where: 'minutes_between(a.time, time) < 100'}
    within: 1h
    message:
      zh: "{subject} {a.time:%H:%M} {b.time:%H:%M}"
      en: "{subject} {a.time:%H:%M} {b.time:%H:%M}"
"""
)


@pytest.mark.parametrize(
    "tz, times",
    [
        # Cairo: clocks forward at midnight on Friday 2026-04-24 (00:00 is skipped) ...
        (
            "Africa/Cairo",
            [
                "2026-04-23T00:30:00+02:00",
                "2026-04-23T21:10:00+02:00",
                "2026-04-23T23:40:00+02:00",
                "2026-04-24T01:15:00+03:00",
                "2026-04-24T01:20:00+03:00",
                "2026-04-24T09:30:00+03:00",
                "2026-04-24T14:30:00+03:00",
            ],
        ),
        # ... and back at midnight on Thursday 2026-10-29: 23:00-24:00 happens twice.
        (
            "Africa/Cairo",
            [
                "2026-10-28T23:30:00+03:00",
                "2026-10-29T09:00:00+03:00",
                "2026-10-29T23:20:00+03:00",
                "2026-10-29T23:10:00+02:00",
                "2026-10-29T23:45:00+02:00",
                "2026-10-29T23:50:00+03:00",
                "2026-10-30T00:20:00+02:00",
            ],
        ),
        # New York: forward at 02:00 on Sunday 2026-03-08, in the middle of the night.
        (
            "America/New_York",
            [
                "2026-03-07T21:10:00-05:00",
                "2026-03-08T01:30:00-05:00",
                "2026-03-08T03:10:00-04:00",
                "2026-03-08T09:00:00-04:00",
                "2026-03-09T02:20:00-04:00",
            ],
        ),
        # Summer time in Cairo, far from a change: hopping windows still start at midnight.
        (
            "Africa/Cairo",
            [
                "2026-07-01T22:00:00+03:00",
                "2026-07-01T23:30:00+03:00",
                "2026-07-02T00:30:00+03:00",
                "2026-07-02T09:00:00+03:00",
            ],
        ),
    ],
)
def test_local_day_and_clock_read_from_the_wall_clock_columns_around_a_change(
    tz: str, times: list[str], tmp_path: Path
) -> None:
    """Day, hour, minute, weekday, duty day, work hours, an as-of lookup, elapsed minutes,
    day, hopping and sliding windows and a timed sequence around changes of the clocks and in
    summer time: the columnar backend reads the local day and clock from the stored wall-clock
    columns, counts windows on the wall clock and orders events as the operator does, and must
    agree with durable_rules to the finding."""
    from datetime import datetime, timedelta

    import yaml

    from fourin_rules.backends.sql.predicates import compile_predicates

    reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8")) | {"timezone": tz}
    events = []
    for i, t in enumerate(times):
        end = datetime.fromisoformat(t) + timedelta(hours=3)  # 3 hours on, in UTC terms
        events.append(
            {
                "type": "checkin",
                "id": f"c{i}",
                "time": t,
                "end": end.isoformat(),
                "cadre_id": CADRES[0] if i % 3 else CADRES[1],
                "township_id": "T01",
            }
        )
    pack = tmp_path / "wall.yaml"
    pack.write_text(WALL_CLOCK_PACK, encoding="utf-8")
    durable = Engine([pack], reference, backend="durable")
    duck = Engine([pack], reference, backend="duckdb")
    expected = durable.run(events).findings
    got = duck.run(events).findings  # stored from Python
    assert _dump(got) == _dump(expected)
    assert {"W1", "W2", "W3", "W4"} <= {f.rule_id for f in expected}
    assert all("180" in f.message.en for f in expected if f.rule_id == "W1")
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert _dump(duck.run_files([path]).findings) == _dump(expected)  # stored by the loader
    queries = compile_predicates(duck.plan, duck.env).queries
    assert any('"_local_time"' in q.sql(dialect="duckdb") for q in queries.values())


def test_rules_decided_on_two_threads_equal_one_after_another() -> None:
    """Each worker thread has a connection of its own (temp tables, compiler aliases) and the
    hit tables are shared: the findings are those of the serial run, in the same order."""
    from fourin_rules.backends.sql.run import ColumnarRun

    engine = Engine(None, COUNTY / "reference.yaml", backend="duckdb")
    found = {}
    for workers in (1, 2, 4):
        run = ColumnarRun(engine.plan, engine.env, engine.reference.timezone, workers=workers)
        run.con.execute("SET threads = 3")  # the workers share them, and give them back
        run.load_files([COUNTY / "events.jsonl"], engine.models)
        found[workers] = _dump(run.run().findings)
        assert run.con.execute("SELECT current_setting('threads')").fetchone() == (3,)
        hit_tables = run.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'hit_%' AND NOT temporary"
        ).fetchone()
        assert hit_tables is not None and hit_tables[0] > 10
    assert len(found[1]) == 111
    assert found[2] == found[1] and found[4] == found[1]


def test_rules_a_decider_takes_but_cannot_compile_are_replayed_with_the_early_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On two threads, the rules no decider takes are replayed while the SQL runs; a rule whose
    queries then fail to compile joins them, and all are replayed again together: the same
    findings and errors as the serial run."""
    from fourin_rules.backends.sql import kinds
    from fourin_rules.backends.sql.run import ColumnarRun

    engine = Engine(None, COUNTY / "reference.yaml", backend="duckdb")

    def run(workers: int) -> tuple[list[str], list[str], list[list[str]]]:
        replays: list[list[str]] = []
        real = ColumnarRun._replay

        def spy(self, rules, **kwargs):  # type: ignore[no-untyped-def]
            replays.append([r.rule_id for r in rules])
            return real(self, rules, **kwargs)

        monkeypatch.setattr(ColumnarRun, "_replay", spy)
        columnar = ColumnarRun(engine.plan, engine.env, engine.reference.timezone, workers=workers)
        columnar.load_files([COUNTY / "events.jsonl"], engine.models)
        result = columnar.run()
        return _dump(result.findings), [repr(e) for e in result.errors], replays

    expected, expected_errors, serial = run(1)
    assert any('"rule_id":"P3"' in f for f in expected) and "P3" not in serial[0]
    real_supported = kinds.ThresholdKind.supported
    monkeypatch.setattr(
        kinds.ThresholdKind,
        "supported",
        lambda self: self.rule.rule_id != "P3" and real_supported(self),
    )
    found, errors, replays = run(2)
    assert found == expected and errors == expected_errors
    early, again = replays
    assert "P3" not in early and set(again) == {*early, "P3"}


def test_reference_tables_are_built_once_per_engine() -> None:
    """The reference rows are an engine's, built with its packs: every run loads the same."""
    from fourin_rules.backends.sql.refdata import reference_tables

    small = Engine(None, REFERENCE, backend="duckdb")
    county = Engine(None, COUNTY / "reference.yaml", backend="duckdb")
    tables = reference_tables(small.env)
    assert reference_tables(small.env) is tables
    cadres = {t.name: t.jsonl for t in tables}["ref_cadre"]
    assert cadres.count(b"\n") == len(small.env.reference.data.cadres)
    assert {t.name: t.jsonl for t in reference_tables(county.env)}["ref_cadre"] != cadres
