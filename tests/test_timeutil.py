from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourin_rules.timeutil import (
    DEFAULT_TZ,
    get_tz,
    parse_date,
    parse_duration,
    parse_timestamp,
    to_iso,
)

SH = get_tz(DEFAULT_TZ)


# --------------------------------------------------------------------------------------- get_tz


def test_get_tz_returns_zone_and_caches() -> None:
    tz = get_tz("Asia/Shanghai")
    assert tz.key == "Asia/Shanghai"
    assert get_tz("Asia/Shanghai") is tz


@pytest.mark.parametrize("name", ["Asia/Shangai", "Mars/Olympus", "", "../etc/passwd"])
def test_get_tz_rejects_unknown_name_and_names_it(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as info:
        get_tz(name)
    assert repr(name) in str(info.value)


# ------------------------------------------------------------------------------ parse_timestamp


def test_timestamp_with_offset_is_that_instant_in_tz() -> None:
    dt = parse_timestamp("2026-03-10T08:12:00+08:00", SH)
    assert dt == datetime(2026, 3, 10, 0, 12, tzinfo=UTC)
    assert dt.tzinfo is SH
    assert (dt.hour, dt.minute) == (8, 12)


def test_timestamp_with_z_converts_to_local_next_day() -> None:
    dt = parse_timestamp("2026-03-09T17:00:00Z", SH)
    assert dt.tzinfo is SH
    assert (dt.date(), dt.time()) == (date(2026, 3, 10), time(1, 0))


def test_timestamp_with_other_offset_converts() -> None:
    dt = parse_timestamp("2026-03-10T00:00:00-05:00", SH)
    assert dt.replace(tzinfo=None) == datetime(2026, 3, 10, 13, 0)


def test_timestamp_without_offset_is_local_time() -> None:
    dt = parse_timestamp("2026-03-10T08:12:00", SH)
    assert dt.tzinfo is SH
    assert dt.utcoffset() == timedelta(hours=8)
    assert dt.astimezone(UTC) == datetime(2026, 3, 10, 0, 12, tzinfo=UTC)


def test_timestamp_honours_other_zone() -> None:
    ny = get_tz("America/New_York")
    dt = parse_timestamp("2026-07-01T12:00:00", ny)
    assert dt.utcoffset() == timedelta(hours=-4)


def test_timestamp_bare_date_is_local_midnight() -> None:
    dt = parse_timestamp("2026-02-14", SH)
    assert dt == datetime(2026, 2, 14, tzinfo=SH)
    assert dt.astimezone(UTC) == datetime(2026, 2, 13, 16, 0, tzinfo=UTC)


def test_timestamp_accepts_space_separator_and_fraction() -> None:
    dt = parse_timestamp(" 2026-03-10 08:12:30.250 ", SH)
    assert dt == datetime(2026, 3, 10, 8, 12, 30, 250000, tzinfo=SH)


def test_timestamp_accepts_datetime_and_date_objects() -> None:
    naive = datetime(2026, 3, 10, 8, 0)
    assert parse_timestamp(naive, SH) == datetime(2026, 3, 10, 8, 0, tzinfo=SH)
    aware = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    out = parse_timestamp(aware, SH)
    assert out.tzinfo is SH and out.hour == 8
    assert parse_timestamp(date(2026, 3, 10), SH) == datetime(2026, 3, 10, tzinfo=SH)


@pytest.mark.parametrize(
    "bad",
    ["2026-13-01T00:00", "2026-02-30", "yesterday", "", "2026-03-10T25:00", "10/03/2026"],
)
def test_timestamp_rejects_bad_text_with_readable_message(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(bad, SH)
    assert str(info.value) == f"not an ISO-8601 timestamp: {bad!r}"


@pytest.mark.parametrize("bad", [None, 1741564800, 3.5, True, ["2026-03-10"]])
def test_timestamp_rejects_non_strings(bad: object) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 timestamp"):
        parse_timestamp(bad, SH)  # type: ignore[arg-type]


@given(
    st.datetimes(
        min_value=datetime(1992, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_timestamp_round_trips_through_to_iso(dt: datetime) -> None:
    dt = dt.replace(microsecond=0)
    text = to_iso(dt)
    assert parse_timestamp(text, SH) == dt
    assert to_iso(parse_timestamp(text, SH)).endswith("+08:00")


def test_timestamp_uses_historic_offsets_of_the_zone() -> None:
    # China kept summer time from 1986 to 1991: the zone database, not a fixed +08:00, decides.
    dt = parse_timestamp("1991-05-01T00:00:00Z", SH)
    assert to_iso(dt) == "1991-05-01T09:00:00+09:00"


# ----------------------------------------------------------------------------------- parse_date


def test_parse_date_accepts_text_and_date() -> None:
    assert parse_date("2026-02-14") == date(2026, 2, 14)
    assert parse_date(" 2026-02-14 ") == date(2026, 2, 14)
    assert parse_date(date(2026, 2, 14)) == date(2026, 2, 14)


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "2026-2-14x", "", "2026-02-14T08:00", None, 20260214]
)
def test_parse_date_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 date"):
        parse_date(bad)  # type: ignore[arg-type]


def test_parse_date_refuses_datetime_because_day_depends_on_zone() -> None:
    with pytest.raises(ValueError, match="expected a date, got a timestamp"):
        parse_date(datetime(2026, 2, 14, 23, 0, tzinfo=UTC))


# ------------------------------------------------------------------------------- parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2D", timedelta(days=2)),
        ("PT36H", timedelta(hours=36)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT90M", timedelta(minutes=90)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5H", timedelta(minutes=30)),
        ("P0D", timedelta(0)),
        ("90m", timedelta(minutes=90)),
        ("36h", timedelta(hours=36)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("30s", timedelta(seconds=30)),
        ("1h30m", timedelta(minutes=90)),
        (" 1h 30m ", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("3600", timedelta(hours=1)),
        ("2.5", timedelta(seconds=2.5)),
        (90, timedelta(seconds=90)),
        (0.5, timedelta(milliseconds=500)),
    ],
)
def test_parse_duration_accepts_iso_short_and_seconds(
    text: str | int | float, expected: timedelta
) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "P", "PT", "P1DT", "p1d", "P1D2H", "-P1D", "2x", "90 minutes", "h", "1h-30m", "abc"],
)
def test_parse_duration_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["P1M", "P1Y", "P1Y2M3D"])
def test_parse_duration_rejects_months_and_years(bad: str) -> None:
    with pytest.raises(ValueError, match="no fixed length"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [-1, -0.5, "-5", float("nan"), float("inf"), True, None, [1]])
def test_parse_duration_rejects_negative_nonfinite_and_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]


def test_parse_duration_rejects_overflow() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999d")


@given(st.integers(min_value=0, max_value=10**6))
def test_short_and_iso_forms_agree(minutes: int) -> None:
    assert parse_duration(f"{minutes}m") == parse_duration(f"PT{minutes}M")
    assert parse_duration(minutes * 60) == timedelta(minutes=minutes)


# --------------------------------------------------------------------------------------- to_iso


def test_to_iso_writes_offset_and_seconds() -> None:
    dt = datetime(2026, 3, 10, 8, 12, 30, 999999, tzinfo=SH)
    assert to_iso(dt) == "2026-03-10T08:12:30+08:00"
    assert to_iso(datetime(2026, 3, 10, tzinfo=UTC)) == "2026-03-10T00:00:00+00:00"


def test_to_iso_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_iso(datetime(2026, 3, 10, 8, 0))
