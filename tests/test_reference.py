from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from fourin_rules.errors import FourinError, FourinErrors
from fourin_rules.model.reference import ReferenceData, load_reference
from fourin_rules.reference import ReferenceIndex

REF_YAML = """\
timezone: Asia/Shanghai
cadres:
  - {cadre_id: C2, name: 李四, home_unit_id: D1}
  - {cadre_id: C1, name: 张三, home_unit_id: D1, home_lat: 30.5, home_lon: 120.5}
assignments:
  - {cadre_id: C2, group_id: G1, township_id: T1, start: 2026-03-01, end: 2026-03-31}
  - {cadre_id: C1, group_id: G1, township_id: T1, start: 2026-03-01, end: 2026-03-15}
  - {cadre_id: C1, group_id: G1, township_id: T2, start: 2026-03-16}
groups:
  - group_id: G1
    name: 第一组
    leader_id: C1
    targets:
      - {target_id: E1, kind: enterprise}
      - {target_id: V1, kind: village}
units:
  - {unit_id: D1, name: 县发改局, kind: county_dept}
  - {unit_id: T1, name: 城关镇, kind: township, grassroots: yes, lat: 30, lon: 120, radius_m: 3000}
  - {unit_id: V1, name: 东村, kind: village, grassroots: 1, township_id: T1, lat: 30.01, lon: 120}
  - {unit_id: T2, name: 西镇, kind: township, grassroots: true, lat: 30.0, lon: 120.3}
staff:
  - {staff_id: S1, name: 王书记, unit_id: T1, leader: true}
  - {staff_id: S2, name: 赵主任, unit_id: V1}
  - {staff_id: S3, name: 钱村长, unit_id: V1, leader: true}
vehicles:
  - {plate: 粤B12345, owner_unit_id: T1}
calendar:
  weekend_duty: false
  duty_days: ["2026-03-07", {start: 2026-03-20, end: 2026-03-22}]
  work_hours: ["08:30-12:00", "14:00-17:30"]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def ref(tmp_path: Path) -> ReferenceData:
    return load_reference(_write(tmp_path, "ref.yaml", REF_YAML))


@pytest.fixture
def index(ref: ReferenceData) -> ReferenceIndex:
    return ReferenceIndex(ref)


def test_load_yaml_reads_every_section(ref: ReferenceData) -> None:
    assert [c.cadre_id for c in ref.cadres] == ["C2", "C1"]
    assert ref.assignments[2].end is None
    assert ref.assignments[0].start == date(2026, 3, 1)
    assert ref.groups[0].targets[1].kind == "village"
    assert ref.units[0].radius_m == 500  # the default
    assert ref.units[0].grassroots is False
    assert ref.staff[1].leader is False
    assert ref.vehicles[0].plate == "粤B12345"
    assert ref.calendar is not None
    assert ref.calendar.work_hours == ["08:30-12:00", "14:00-17:30"]
    assert ref.timezone == "Asia/Shanghai"


def test_load_json_document(tmp_path: Path, ref: ReferenceData) -> None:
    doc = json.loads(ref.model_dump_json())
    p = _write(tmp_path, "ref.json", json.dumps(doc, ensure_ascii=False, indent="\t"))
    loaded = load_reference(p)
    # The loose calendar keeps what the file held: YAML dates are dates, JSON dates strings.
    assert loaded.model_dump_json() == ref.model_dump_json()
    assert loaded.units == ref.units and loaded.assignments == ref.assignments


def test_locate_maps_locations_to_lines(tmp_path: Path, ref: ReferenceData) -> None:
    span = ref.locate(("calendar", "duty_days", 1))
    assert span is not None and span.line == 29
    assert ref.locate(("units", 1, "radius_m")).line == 18  # type: ignore[union-attr]
    assert ReferenceData().locate(("units",)) is None


def test_json_error_carries_the_line(tmp_path: Path) -> None:
    p = _write(
        tmp_path, "ref.json", '{\n  "units": [\n    {"unit_id": "T1", "kind": "town"}\n  ]\n}'
    )
    with pytest.raises(FourinError) as info:
        load_reference(p)
    assert info.value.code == "reference-schema"
    assert info.value.span is not None
    assert (info.value.span.path, info.value.span.line) == (str(p), 3)
    assert info.value.suggestion == "did you mean 'township'?"


def test_unknown_field_names_file_line_and_suggests(tmp_path: Path) -> None:
    text = REF_YAML.replace("home_lat: 30.5", "home_lati: 30.5")
    p = _write(tmp_path, "ref.yaml", text)
    with pytest.raises(FourinError) as info:
        load_reference(p)
    err = info.value
    assert err.code == "reference-schema"
    assert "unknown field 'home_lati'" in err.message
    assert err.span is not None and err.span.line == 4
    assert err.suggestion == "did you mean 'home_lat'?"
    assert f"{p}:4:" in err.render()


def test_all_problems_are_collected(tmp_path: Path) -> None:
    text = (
        "cadres:\n"
        "  - cadre_id: C1\n"
        "  - cadre_id: C1\n"
        "units:\n"
        "  - unit_id: T1\n"
        "    kind: township\n"
        "    radius_m: far\n"
        "  - unit_id: V1\n"
        "unitz: []\n"
    )
    with pytest.raises(FourinErrors) as info:
        load_reference(_write(tmp_path, "ref.yaml", text))
    found = [(e.span.line if e.span else None, e.message, e.suggestion) for e in info.value.errors]
    assert found[0][0] == 3 and "duplicate cadre_id 'C1'" in found[0][1]
    assert found[1][0] == 7 and found[1][1].startswith("units[0].radius_m: Input should be")
    assert found[2][0] == 8 and "missing required field 'kind'" in found[2][1]
    assert found[3] == (9, "unknown section 'unitz'", "did you mean 'units'?")
    assert all(e.code == "reference-schema" for e in info.value.errors)


def test_overlapping_assignments_are_an_error(tmp_path: Path) -> None:
    text = (
        "assignments:\n"
        "  - {cadre_id: C1, township_id: T1, start: 2026-03-01, end: 2026-03-15}\n"
        "  - {cadre_id: C1, township_id: T2, start: 2026-03-15}\n"
    )
    with pytest.raises(FourinError) as info:
        load_reference(_write(tmp_path, "ref.yaml", text))
    assert info.value.span is not None and info.value.span.line == 3
    assert "overlap" in info.value.message


def test_assignment_end_before_start(tmp_path: Path) -> None:
    text = "assignments:\n  - {cadre_id: C1, township_id: T1, start: 2026-03-15, end: 2026-03-01}\n"
    with pytest.raises(FourinError, match="before start"):
        load_reference(_write(tmp_path, "ref.yaml", text))


def test_unknown_timezone(tmp_path: Path) -> None:
    with pytest.raises(FourinError, match="unknown time zone"):
        load_reference(_write(tmp_path, "ref.yaml", "timezone: Asia/Shanghia\n"))


def test_yaml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(FourinError) as info:
        load_reference(_write(tmp_path, "ref.yaml", "cadres:\n  - {cadre_id: C1\n"))
    assert info.value.code == "yaml-syntax"
    assert info.value.span is not None and info.value.span.line >= 2


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(FourinError, match="mapping of sections"):
        load_reference(_write(tmp_path, "ref.yaml", "- a\n- b\n"))


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(FourinError) as info:
        load_reference(_write(tmp_path, "ref.yaml", "\n".join(lines) + "\n"))
    assert info.value.code == "yaml-too-complex"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FourinError) as info:
        load_reference(tmp_path / "nope.yaml")
    assert info.value.code == "reference-missing"


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(FourinError) as info:
        load_reference(_write(tmp_path, "ref.txt", "cadres: []"))
    assert info.value.code == "reference-missing"


def _csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "refdir"
    folder.mkdir()
    _write(folder, "cadres.csv", "cadre_id,name,home_unit_id\nC1,张三,D1\nC2,李四,\n")
    _write(
        folder,
        "assignments.csv",
        "cadre_id,group_id,township_id,start,end\nC1,G1,T1,2026-03-01,2026-03-31\nC2,G1,T1,2026-03-01,\n",
    )
    _write(
        folder,
        "groups.csv",
        "group_id,name,leader_id,targets\n"
        'G1,一组,C1,"[{""target_id"": ""E1"", ""kind"": ""enterprise""}]"\n',
    )
    _write(
        folder,
        "units.csv",
        "unit_id,name,kind,grassroots,township_id,lat,lon,radius_m\n"
        "T1,城关镇,township,yes,,30.0,120.0,2000\n"
        "V1,东村,village,1,T1,30.01,120.0,\n",
    )
    _write(folder, "staff.csv", "staff_id,name,unit_id,leader\nS1,王书记,T1,true\n")
    _write(folder, "vehicles.csv", "plate,owner_unit_id\n粤B12345,T1\n")
    _write(folder, "calendar.yaml", "weekend_duty: true\nrest_days: ['2026-03-08']\n")
    return folder


def test_load_csv_folder(tmp_path: Path) -> None:
    ref = load_reference(_csv_folder(tmp_path))
    assert [c.cadre_id for c in ref.cadres] == ["C1", "C2"]
    assert ref.cadres[1].home_unit_id is None  # empty cell = absent
    assert ref.assignments[1].end is None
    assert ref.groups[0].targets[0].target_id == "E1"
    assert ref.units[0].grassroots is True and ref.units[1].grassroots is True
    assert ref.units[0].radius_m == 2000 and ref.units[1].radius_m == 500
    assert ref.staff[0].leader is True
    assert ref.calendar is not None and ref.calendar.weekend_duty is True


def test_csv_error_carries_file_and_line(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    _write(
        folder,
        "units.csv",
        "unit_id,name,kind,lat,lon\nT1,城关镇,township,30.0,120.0\nV1,东村,village,north,120.0\n",
    )
    with pytest.raises(FourinError) as info:
        load_reference(folder)
    err = info.value
    assert err.span is not None
    assert (err.span.path, err.span.line) == (str(folder / "units.csv"), 3)
    assert "units[1].lat" in err.message
    assert f"{folder / 'units.csv'}:3:" in err.render()


def test_csv_unknown_column_and_bad_list_cell(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    _write(folder, "staff.csv", "staff_id,name,unit,leader\nS1,王书记,T1,true\n")
    _write(folder, "groups.csv", "group_id,targets\nG1,E1\n")
    with pytest.raises(FourinErrors) as info:
        load_reference(folder)
    by_file = {Path(e.span.path).name: e for e in info.value.errors if e.span}
    assert by_file["staff.csv"].span.line == 1
    assert by_file["staff.csv"].span.column == 15
    assert by_file["staff.csv"].suggestion == "did you mean 'unit_id'?"
    assert by_file["groups.csv"].span.line == 2
    assert "not JSON" in by_file["groups.csv"].message


def test_csv_calendar_error_points_into_calendar_yaml(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    _write(folder, "calendar.yaml", "weekend_duty: true\nwork_hour: ['08:00-12:00']\n")
    with pytest.raises(FourinError) as info:
        load_reference(folder)
    assert info.value.span is not None
    assert (Path(info.value.span.path).name, info.value.span.line) == ("calendar.yaml", 2)
    assert info.value.suggestion == "did you mean 'work_hours'?"


def test_csv_unknown_section_file(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    _write(folder, "unit.csv", "unit_id\n")
    with pytest.raises(FourinError) as info:
        load_reference(folder)
    assert info.value.suggestion == "did you mean 'units.csv'?"


def test_empty_folder_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FourinError) as info:
        load_reference(tmp_path)
    assert info.value.code == "reference-missing"


# --- ReferenceIndex ---------------------------------------------------------------------------


def test_lookups_return_the_same_plain_dict(index: ReferenceIndex) -> None:
    unit = index.unit("T1")
    assert unit is not None and unit["name"] == "城关镇"
    assert index.unit("T1") is unit
    assert index.cadre("C1")["home_lat"] == 30.5  # type: ignore[index]
    assert index.vehicle("粤B12345")["owner_unit_id"] == "T1"  # type: ignore[index]
    assert index.group("G1")["targets"][0] == {"target_id": "E1", "kind": "enterprise"}  # type: ignore[index]
    assert index.staff("S2")["unit_id"] == "V1"  # type: ignore[index]
    assert index.unit("nope") is None
    assert index.cadre("nope") is None


def test_assignment_end_is_inclusive(index: ReferenceIndex) -> None:
    a = index.assignment_at("C1", date(2026, 3, 15))
    assert a is not None and a["township_id"] == "T1"
    b = index.assignment_at("C1", date(2026, 3, 16))
    assert b is not None and b["township_id"] == "T2"
    assert index.assignment_at("C1", date(2026, 2, 28)) is None
    assert index.assignment_at("C2", date(2026, 3, 31)) is not None
    assert index.assignment_at("C2", date(2026, 4, 1)) is None
    assert index.assignment_at("C1", date(2027, 1, 1)) is not None  # open-ended
    assert index.dispatched("C2", date(2026, 3, 31)) is True
    assert index.dispatched("C2", date(2026, 4, 1)) is False
    assert index.dispatched("C9", date(2026, 3, 5)) is False


def test_roster_on_a_date(index: ReferenceIndex) -> None:
    assert [(a["cadre_id"], a["township_id"]) for a in index.roster(date(2026, 3, 10))] == [
        ("C1", "T1"),
        ("C2", "T1"),
    ]
    assert [a["cadre_id"] for a in index.roster(date(2026, 4, 1))] == ["C1"]
    assert index.roster(date(2026, 2, 1)) == []
    assert index.roster(date(2026, 3, 10))[0] is index.assignment_at("C1", date(2026, 3, 10))


def test_roster_span(index: ReferenceIndex) -> None:
    assert index.roster_span() == (date(2026, 3, 1), date.max)
    assert ReferenceIndex(ReferenceData()).roster_span() is None
    closed = ReferenceData.model_validate(
        {
            "assignments": [
                {"cadre_id": "C", "township_id": "T", "start": "2026-03-02", "end": "2026-03-09"}
            ]
        }
    )
    assert ReferenceIndex(closed).roster_span() == (date(2026, 3, 2), date(2026, 3, 9))


def test_staff_and_leaders(index: ReferenceIndex) -> None:
    assert index.staff_ids("T1") == frozenset({"S1", "S2", "S3"})
    assert index.staff_ids("V1") == frozenset({"S2", "S3"})
    assert index.staff_ids("T2") == frozenset()
    assert index.township_leaders("T1") == frozenset({"S1", "S3"})
    assert index.township_leaders("V1") == frozenset()


def test_township_at_geofence(index: ReferenceIndex) -> None:
    # Inside the village circle (500 m) and the township circle (3 km): the village is nearer,
    # and it answers its township.
    assert index.township_at(30.0095, 120.0) == "T1"
    # Only inside T1's own circle.
    assert index.township_at(29.99, 120.0) == "T1"
    # Inside T2 (500 m default radius).
    assert index.township_at(30.002, 120.3) == "T2"
    # Between the two townships: outside every circle.
    assert index.township_at(30.0, 120.15) is None
    assert index.township_at(float("nan"), 120.0) is None


def test_township_at_nearest_wins() -> None:
    ref = ReferenceData.model_validate(
        {
            "units": [
                {"unit_id": "TA", "kind": "township", "lat": 30.0, "lon": 120.0, "radius_m": 5000},
                {"unit_id": "TB", "kind": "township", "lat": 30.0, "lon": 120.05, "radius_m": 5000},
            ]
        }
    )
    idx = ReferenceIndex(ref)
    assert idx.township_at(30.0, 120.02) == "TA"
    assert idx.township_at(30.0, 120.03) == "TB"


def test_cadre_ids_sorted(index: ReferenceIndex) -> None:
    assert index.cadre_ids() == ["C1", "C2"]


def test_a_valid_json_document_is_not_parsed_again_for_positions(
    tmp_path: Path, ref: ReferenceData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Positions serve only problems: a clean JSON document never builds the YAML node tree
    (for 12,000 cadres that took 24 s)."""
    import fourin_rules.model.reference as module

    p = _write(tmp_path, "ref.json", ref.model_dump_json())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the YAML loader ran for a clean JSON document")

    monkeypatch.setattr(module.yaml, "SafeLoader", refuse)
    assert load_reference(p).model_dump_json() == ref.model_dump_json()
