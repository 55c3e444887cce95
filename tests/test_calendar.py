from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest

from fourin_rules.calendar import (
    DEFAULT_WORK_HOURS,
    PERIOD_UNITS,
    DutyCalendar,
    NationalYear,
)
from fourin_rules.errors import FourinError, FourinErrors, Span
from fourin_rules.timeutil import get_tz, parse_timestamp

SH = get_tz("Asia/Shanghai")
PACKAGE_LAST_YEAR = max(chinese_calendar.holidays).year
PACKAGE_FIRST_YEAR = min(chinese_calendar.holidays).year

# A made-up but plausible 2027 arrangement, as a reference file would supply it.
NATIONAL_2027 = {
    2027: {
        "holidays": [
            {"start": "2027-01-01", "end": "2027-01-03", "name": "元旦"},
            {"start": "2027-02-06", "end": "2027-02-14", "name": "Spring Festival"},
            "2027-10-01..2027-10-07",
        ],
        "working_days": ["2027-02-20", "2027-10-09"],
    }
}


@pytest.fixture
def cal() -> DutyCalendar:
    return DutyCalendar()


def local(text: str) -> datetime:
    return parse_timestamp(text, SH)


# ----------------------------------------------------------------------- national calendar 2026


@pytest.mark.parametrize("day", [date(2026, 2, 14), date(2026, 2, 28), date(2026, 1, 4)])
def test_working_saturdays_and_sundays_are_duty_days(cal: DutyCalendar, day: date) -> None:
    assert day.weekday() >= 5
    assert cal.is_duty_day(day) is True


@pytest.mark.parametrize(
    "day",
    [date(2026, 4, 6), date(2026, 2, 17), date(2026, 10, 1), date(2026, 1, 1), date(2026, 5, 1)],
)
def test_statutory_holidays_on_weekdays_are_not_duty_days(cal: DutyCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert cal.is_duty_day(day) is False


def test_plain_tuesday_is_duty_day_and_plain_saturday_is_not(cal: DutyCalendar) -> None:
    assert cal.is_duty_day(date(2026, 3, 10)) is True
    assert cal.is_duty_day(date(2026, 3, 14)) is False


def test_weekend_duty_makes_plain_weekend_a_duty_day() -> None:
    cal = DutyCalendar(weekend_duty=True)
    assert cal.is_duty_day(date(2026, 3, 14)) is True
    assert cal.is_duty_day(date(2026, 3, 15)) is True


@pytest.mark.parametrize("day", [date(2026, 2, 15), date(2026, 2, 21), date(2026, 10, 3)])
def test_weekend_duty_does_not_cover_weekends_inside_statutory_holidays(day: date) -> None:
    assert day.weekday() >= 5
    assert DutyCalendar(weekend_duty=True).is_duty_day(day) is False


def test_weekend_duty_leaves_weekday_holidays_off() -> None:
    assert DutyCalendar(weekend_duty=True).is_duty_day(date(2026, 4, 6)) is False


def test_spring_festival_2026_duty_days(cal: DutyCalendar) -> None:
    got = cal.duty_days_between(date(2026, 2, 9), date(2026, 3, 1))
    expected = [date(2026, 2, d) for d in (9, 10, 11, 12, 13, 14, 24, 25, 26, 27, 28)]
    assert got == expected


def test_duty_days_between_is_inclusive_and_empty_when_reversed(cal: DutyCalendar) -> None:
    assert cal.duty_days_between(date(2026, 3, 10), date(2026, 3, 10)) == [date(2026, 3, 10)]
    assert cal.duty_days_between(date(2026, 3, 14), date(2026, 3, 15)) == []
    assert cal.duty_days_between(date(2026, 3, 11), date(2026, 3, 10)) == []


# ----------------------------------------------------------------------------- holiday names


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 2, 17), "春节"),
        (date(2026, 2, 15), "春节"),
        (date(2026, 4, 6), "清明节"),
        (date(2026, 10, 3), "国庆节"),
        (date(2026, 1, 1), "元旦"),
        (date(2026, 5, 1), "劳动节"),
        (date(2026, 6, 19), "端午节"),
        (date(2026, 9, 25), "中秋节"),
        (date(2015, 9, 3), "抗战胜利纪念日"),
    ],
)
def test_holiday_name_in_chinese(cal: DutyCalendar, day: date, name: str) -> None:
    assert cal.holiday_name(day) == name


@pytest.mark.parametrize("day", [date(2026, 2, 14), date(2026, 3, 10), date(2026, 3, 14)])
def test_holiday_name_none_for_working_and_plain_days(cal: DutyCalendar, day: date) -> None:
    # 2026-02-14 is an adjusted working day *for* Spring Festival, but not in the holiday.
    assert cal.holiday_name(day) is None


def test_holiday_name_ignores_campaign_overrides() -> None:
    cal = DutyCalendar(duty_days=[date(2026, 2, 17)])
    assert cal.is_duty_day(date(2026, 2, 17)) is True
    assert cal.holiday_name(date(2026, 2, 17)) == "春节"


# --------------------------------------------------------------------------------- precedence


def test_rest_days_override_a_working_day() -> None:
    cal = DutyCalendar(rest_days=[date(2026, 3, 10), date(2026, 2, 14)])
    assert cal.is_duty_day(date(2026, 3, 10)) is False
    assert cal.is_duty_day(date(2026, 2, 14)) is False
    assert cal.is_duty_day(date(2026, 3, 11)) is True


def test_duty_days_override_a_holiday_and_a_weekend() -> None:
    cal = DutyCalendar(duty_days=[date(2026, 4, 6), date(2026, 3, 14)])
    assert cal.is_duty_day(date(2026, 4, 6)) is True
    assert cal.is_duty_day(date(2026, 3, 14)) is True


def test_rest_days_win_over_duty_days() -> None:
    day = date(2026, 3, 10)
    cal = DutyCalendar(duty_days=[day], rest_days=[day])
    assert cal.is_duty_day(day) is False


def test_rest_days_win_over_weekend_duty() -> None:
    cal = DutyCalendar(weekend_duty=True, rest_days=[date(2026, 3, 14)])
    assert cal.is_duty_day(date(2026, 3, 14)) is False


# ------------------------------------------------------------------------------ missing years


def test_missing_year_error_says_how_to_supply_it(cal: DutyCalendar) -> None:
    year = PACKAGE_LAST_YEAR + 1  # 2027 with chinesecalendar 1.11; whatever the package knows next
    with pytest.raises(FourinError) as info:
        cal.is_duty_day(date(year, 3, 10))
    err = info.value
    assert err.code == "calendar-missing-year"
    assert err.message.startswith(f"no holiday data for {year}: ")
    assert err.suggestion == (
        f"add calendar.national[{year}] with holidays and working_days to the reference data, "
        "or list the days in calendar.duty_days / rest_days"
    )


@pytest.mark.parametrize("year", [PACKAGE_LAST_YEAR + 1, PACKAGE_FIRST_YEAR - 1])
def test_years_outside_package_raise_and_never_guess_weekdays(year: int) -> None:
    cal = DutyCalendar()
    assert cal.has_year(year) is False
    monday = date(year, 3, 1) + timedelta(days=(7 - date(year, 3, 1).weekday()) % 7)
    for call in (cal.is_duty_day, cal.holiday_name):
        with pytest.raises(FourinError) as info:
            call(monday)
        assert info.value.code == "calendar-missing-year"
        assert f"no holiday data for {year}" in info.value.message
    with pytest.raises(FourinError, match="no holiday data"):
        cal.duty_days_between(date(year, 1, 1), date(year, 1, 7))


def test_overrides_answer_a_missing_year_without_national_data() -> None:
    cal = DutyCalendar(duty_days=[date(2027, 3, 1)], rest_days=[date(2027, 3, 2)])
    assert cal.is_duty_day(date(2027, 3, 1)) is True
    assert cal.is_duty_day(date(2027, 3, 2)) is False
    with pytest.raises(FourinError):
        cal.is_duty_day(date(2027, 3, 3))


def test_national_section_supplies_2027() -> None:
    cal = DutyCalendar.from_section({"national": NATIONAL_2027})
    assert cal.has_year(2027)
    assert cal.is_duty_day(date(2027, 3, 10)) is True  # plain Wednesday
    assert cal.is_duty_day(date(2027, 3, 13)) is False  # plain Saturday
    assert cal.is_duty_day(date(2027, 2, 8)) is False  # Monday inside Spring Festival
    assert cal.is_duty_day(date(2027, 2, 20)) is True  # working Saturday
    assert cal.is_duty_day(date(2027, 10, 4)) is False
    assert cal.holiday_name(date(2027, 2, 8)) == "春节"  # English name translated
    assert cal.holiday_name(date(2027, 1, 2)) == "元旦"
    assert cal.holiday_name(date(2027, 10, 4)) is None  # unnamed holiday range
    assert cal.holiday_name(date(2027, 3, 10)) is None


def test_national_section_with_weekend_duty() -> None:
    cal = DutyCalendar.from_section({"national": NATIONAL_2027, "weekend_duty": True})
    assert cal.is_duty_day(date(2027, 3, 13)) is True  # plain Saturday
    assert cal.is_duty_day(date(2027, 2, 13)) is False  # Saturday inside Spring Festival


def test_national_data_takes_precedence_over_the_package() -> None:
    # Pretend 2026-03-10 were a holiday: the reference data wins over chinesecalendar.
    year = NationalYear(holidays={date(2026, 3, 10)}, names={date(2026, 3, 10): "测试节"})
    cal = DutyCalendar(national={2026: year})
    assert cal.is_duty_day(date(2026, 3, 10)) is False
    assert cal.holiday_name(date(2026, 3, 10)) == "测试节"
    assert cal.is_duty_day(date(2026, 2, 14)) is False  # no working Saturday in this data


def test_national_year_keys_may_be_strings() -> None:
    cal = DutyCalendar.from_section({"national": {"2027": NATIONAL_2027[2027]}})
    assert cal.is_duty_day(date(2027, 2, 20)) is True


# ---------------------------------------------------------------------------- per-date cache


def test_answers_are_cached_per_date(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[date] = []
    real = chinese_calendar.get_holiday_detail

    def counting(d: date) -> tuple[bool, str | None]:
        calls.append(d)
        return real(d)

    monkeypatch.setattr(chinese_calendar, "get_holiday_detail", counting)
    cal = DutyCalendar()
    for _ in range(5):
        assert cal.is_duty_day(date(2026, 2, 14)) is True
        assert cal.holiday_name(date(2026, 2, 14)) is None
    assert calls == [date(2026, 2, 14)]


# ------------------------------------------------------------------------------- work hours


@pytest.mark.parametrize(
    ("clock", "inside"),
    [
        ("08:29", False),
        ("08:30", True),
        ("11:59:59", True),
        ("12:00", False),
        ("13:59", False),
        ("14:00", True),
        ("17:29", True),
        ("17:30", False),
        ("00:00", False),
        ("23:59", False),
    ],
)
def test_work_hours_boundaries(cal: DutyCalendar, clock: str, inside: bool) -> None:
    assert cal.in_work_hours(local(f"2026-03-10T{clock}")) is inside


def test_work_hours_use_local_wall_clock_of_an_utc_instant(cal: DutyCalendar) -> None:
    # 00:30Z is 08:30 in Shanghai.
    assert cal.in_work_hours(datetime(2026, 3, 10, 0, 30, tzinfo=UTC)) is True
    assert cal.in_work_hours(datetime(2026, 3, 10, 4, 30, tzinfo=UTC)) is False  # 12:30 local
    assert cal.in_work_hours(datetime(2026, 3, 10, 8, 30, tzinfo=UTC)) is True  # 16:30 local
    assert cal.in_work_hours(datetime(2026, 3, 10, 9, 30, tzinfo=UTC)) is False  # 17:30 local


def test_naive_datetime_is_local_time(cal: DutyCalendar) -> None:
    assert cal.in_work_hours(datetime(2026, 3, 10, 8, 30)) is True
    assert cal.local_date(datetime(2026, 3, 10, 23, 59)) == date(2026, 3, 10)


def test_default_work_hours() -> None:
    assert DutyCalendar().work_hours == DEFAULT_WORK_HOURS


def test_is_duty_time_needs_duty_day_and_work_hours(cal: DutyCalendar) -> None:
    assert cal.is_duty_time(local("2026-03-10T09:00")) is True
    assert cal.is_duty_time(local("2026-03-10T12:30")) is False  # lunch
    assert cal.is_duty_time(local("2026-03-14T09:00")) is False  # Saturday
    assert cal.is_duty_time(local("2026-02-14T09:00")) is True  # working Saturday
    # 01:00Z on 2026-03-14 is 09:00 Saturday in Shanghai, not Friday.
    assert cal.is_duty_time(local("2026-03-14T01:00:00Z")) is False


# --------------------------------------------------------------------------- local days, periods


def test_utc_instant_falls_on_next_local_day(cal: DutyCalendar) -> None:
    dt = parse_timestamp("2026-03-09T17:00:00Z", SH)
    assert cal.local_date(dt) == date(2026, 3, 10)
    assert cal.local_date(datetime(2026, 3, 9, 17, 0, tzinfo=UTC)) == date(2026, 3, 10)
    assert cal.local_date(datetime(2026, 3, 9, 15, 59, tzinfo=UTC)) == date(2026, 3, 9)


def test_is_duty_day_accepts_a_datetime_as_its_local_day(cal: DutyCalendar) -> None:
    # Friday 17:00Z is Saturday 01:00 in Shanghai.
    assert cal.is_duty_day(datetime(2026, 3, 13, 17, 0, tzinfo=UTC)) is False
    assert cal.is_duty_day(datetime(2026, 3, 13, 15, 0, tzinfo=UTC)) is True


def test_day_bounds_are_local_midnights(cal: DutyCalendar) -> None:
    start, end = cal.day_bounds(date(2026, 3, 10))
    assert start == datetime(2026, 3, 10, tzinfo=SH)
    assert end == datetime(2026, 3, 11, tzinfo=SH)
    assert start.astimezone(UTC) == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_week_bounds_run_monday_to_monday(cal: DutyCalendar) -> None:
    start, end = cal.period_bounds(date(2026, 3, 11), "week")
    assert start == datetime(2026, 3, 9, tzinfo=SH)
    assert end == datetime(2026, 3, 16, tzinfo=SH)
    assert cal.period_bounds(date(2026, 3, 15), "week") == (start, end)  # Sunday
    assert cal.period_bounds(date(2026, 3, 9), "week") == (start, end)  # Monday


def test_period_bounds_of_an_instant_use_its_local_day(cal: DutyCalendar) -> None:
    # Sunday 2026-03-15 16:30Z is Monday 00:30 local: the next week.
    start, _ = cal.period_bounds(datetime(2026, 3, 15, 16, 30, tzinfo=UTC), "week")
    assert start == datetime(2026, 3, 16, tzinfo=SH)
    assert cal.period_bounds(local("2026-03-10T09:00"), "day") == cal.day_bounds(date(2026, 3, 10))


@pytest.mark.parametrize(
    ("day", "unit", "start", "end"),
    [
        (date(2026, 3, 10), "day", date(2026, 3, 10), date(2026, 3, 11)),
        (date(2026, 12, 31), "day", date(2026, 12, 31), date(2027, 1, 1)),
        (date(2026, 2, 17), "calendar_month", date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 12, 5), "calendar_month", date(2026, 12, 1), date(2027, 1, 1)),
        (date(2026, 6, 30), "year", date(2026, 1, 1), date(2027, 1, 1)),
        (date(2026, 12, 31), "week", date(2026, 12, 28), date(2027, 1, 4)),
    ],
)
def test_period_bounds(cal: DutyCalendar, day: date, unit: str, start: date, end: date) -> None:
    assert cal.period_bounds(day, unit) == (
        datetime(start.year, start.month, start.day, tzinfo=SH),
        datetime(end.year, end.month, end.day, tzinfo=SH),
    )


def test_period_units_are_listed() -> None:
    assert PERIOD_UNITS == ("day", "week", "calendar_month", "year")


def test_unknown_period_unit_suggests(cal: DutyCalendar) -> None:
    with pytest.raises(ValueError, match="did you mean 'week'") as info:
        cal.period_bounds(date(2026, 3, 10), "weak")
    assert "unknown period unit 'weak'" in str(info.value)


def test_other_time_zone() -> None:
    cal = DutyCalendar("Europe/Berlin")
    assert cal.local_date(datetime(2026, 3, 9, 23, 30, tzinfo=UTC)) == date(2026, 3, 10)
    start, end = cal.day_bounds(date(2026, 3, 29))  # DST starts: a 23-hour day
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


# ------------------------------------------------------------------------------ constructor


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        DutyCalendar("Asia/Shangai")
    with pytest.raises(ValueError, match="end after they start"):
        DutyCalendar(work_hours=[(time(12, 0), time(8, 30))])
    with pytest.raises(ValueError, match="another year"):
        DutyCalendar(national={2027: NationalYear(holidays={date(2026, 1, 1)})})


# ------------------------------------------------------------------------------ from_section


def test_from_section_none_and_empty_give_defaults() -> None:
    for section in (None, {}):
        cal = DutyCalendar.from_section(section)
        assert cal.work_hours == DEFAULT_WORK_HOURS
        assert cal.weekend_duty is False
        assert cal.duty_days == frozenset() and cal.rest_days == frozenset()


def test_from_section_parses_all_item_forms() -> None:
    cal = DutyCalendar.from_section(
        {
            "duty_days": [
                "2026-04-06",
                "2026-10-01..2026-10-03",
                {"start": "2026-05-01", "end": "2026-05-02"},
            ],
            "rest_days": [date(2026, 3, 10), {"start": "2026-03-11"}],
            "weekend_duty": True,
            "work_hours": ["9:00-12:00", " 13:30 - 18:00 ", {"start": "19:00", "end": "24:00"}],
        },
        tz="Asia/Shanghai",
    )
    assert cal.duty_days == {
        date(2026, 4, 6),
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 3),
        date(2026, 5, 1),
        date(2026, 5, 2),
    }
    assert cal.rest_days == {date(2026, 3, 10), date(2026, 3, 11)}
    assert cal.weekend_duty is True
    assert cal.work_hours == (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(18, 0)),
        (time(19, 0), time.max),
    )
    assert cal.is_duty_day(date(2026, 10, 2)) is True
    assert cal.is_duty_day(date(2026, 3, 10)) is False
    assert cal.in_work_hours(local("2026-03-12T08:59")) is False
    assert cal.in_work_hours(local("2026-03-12T12:59")) is False
    assert cal.in_work_hours(local("2026-03-12T13:30")) is True
    assert cal.in_work_hours(local("2026-03-12T23:59:59.999999")) is True  # "24:00" is midnight


def test_from_section_empty_work_hours_means_never_in_hours() -> None:
    cal = DutyCalendar.from_section({"work_hours": []})
    assert cal.work_hours == ()
    assert cal.in_work_hours(local("2026-03-10T10:00")) is False


def _schema_error(section: object, **kwargs: object) -> FourinError:
    with pytest.raises(FourinError) as info:
        DutyCalendar.from_section(section, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == "reference-schema"
    return info.value


@pytest.mark.parametrize(
    ("section", "where", "fragment"),
    [
        ({"duty_days": ["2026-02-30"]}, "calendar.duty_days[0]", "not an ISO-8601 date"),
        ({"rest_days": ["x", "2026-03-01"]}, "calendar.rest_days[0]", "not an ISO-8601 date"),
        (
            {"duty_days": ["2026-03-05..2026-03-01"]},
            "calendar.duty_days[0]",
            "ends before it starts",
        ),
        ({"duty_days": ["2026-03-05..2026-03"]}, "calendar.duty_days[0]", "not an ISO-8601 date"),
        ({"duty_days": ["2000-01-01..2026-01-01"]}, "calendar.duty_days[0]", "at most 3660"),
        ({"duty_days": [{"end": "2026-03-01"}]}, "calendar.duty_days[0]", "needs a 'start'"),
        ({"duty_days": "2026-03-01"}, "calendar.duty_days", "must be a list"),
        ({"duty_days": [20260301]}, "calendar.duty_days[0]", "not an ISO-8601 date"),
        ({"weekend_duty": "yes"}, "calendar.weekend_duty", "must be true or false"),
        ({"work_hours": ["08:30-12"]}, "calendar.work_hours[0]", "'HH:MM-HH:MM'"),
        ({"work_hours": ["12:00-08:30"]}, "calendar.work_hours[0]", "end after they start"),
        ({"work_hours": ["08:30-25:00"]}, "calendar.work_hours[0]", "not a time of day"),
        ({"work_hours": "08:30-12:00"}, "calendar.work_hours", "must be a list"),
        ({"work_hours": [{"start": 510, "end": "12:00"}]}, "calendar.work_hours[0]", "510"),
        ({"national": {2027: {"holidays": []}}}, "calendar.national[2027]", "lists no holidays"),
        ({"national": {2027: None}}, "calendar.national[2027]", "must be a mapping"),
        (
            {"national": {"next": {"holidays": ["2027-01-01"]}}},
            "calendar.national.next",
            "not a year",
        ),
        (
            {"national": {2027: {"holidays": ["2026-12-31..2027-01-01"]}}},
            "calendar.national[2027].holidays",
            "2026-12-31 is not in 2027",
        ),
        (
            {"national": {2027: {"holidays": ["2027-01-01"], "working_days": ["2027-01-01"]}}},
            "calendar.national[2027]",
            "both as a holiday and as a working day",
        ),
        (
            {"national": {2027: {"holidays": [{"start": "2027-01-01", "name": 5}]}}},
            "calendar.national[2027].holidays[0].name",
            "must be a holiday name",
        ),
        ([1, 2], "calendar", "must be a mapping"),
    ],
)
def test_from_section_rejects_bad_items(section: object, where: str, fragment: str) -> None:
    err = _schema_error(section)
    assert err.message.startswith(f"{where}: ")
    assert fragment in err.message


def test_unknown_keys_get_a_suggestion() -> None:
    err = _schema_error({"duty_day": ["2026-03-01"]})
    assert err.message == "calendar.duty_day: unknown key 'duty_day'"
    assert err.suggestion == "did you mean 'duty_days'?"
    err = _schema_error({"national": {2027: {"holidays": ["2027-01-01"], "workdays": []}}})
    assert err.suggestion == "did you mean 'working_days'?"
    err = _schema_error({"duty_days": [{"start": "2026-03-01", "ende": "2026-03-02"}]})
    assert err.message == "calendar.duty_days[0].ende: unknown key 'ende'"
    assert err.suggestion == "did you mean 'end'?"


def test_sexagesimal_yaml_time_gets_a_quoting_hint() -> None:
    err = _schema_error({"work_hours": [{"start": 510, "end": "12:00"}]})
    assert err.suggestion == "quote times: '08:30'"


def test_all_bad_items_are_reported_together() -> None:
    with pytest.raises(FourinErrors) as info:
        DutyCalendar.from_section(
            {"duty_days": ["2026-02-30", "2026-03-01"], "rest_days": ["nope"], "weekend_duty": 1}
        )
    errors = info.value.errors
    assert [e.code for e in errors] == ["reference-schema"] * 3
    assert [e.message.split(":")[0] for e in errors] == [
        "calendar.duty_days[0]",
        "calendar.rest_days[0]",
        "calendar.weekend_duty",
    ]


def test_error_span_points_at_file_without_locator() -> None:
    err = _schema_error({"rest_days": ["nope"]}, path="ref/reference.yaml")
    assert err.span == Span("ref/reference.yaml", 1)
    assert err.render().startswith("ref/reference.yaml:1:1: error[reference-schema]: ")


def test_error_span_comes_from_locator() -> None:
    marks = {("rest_days", 1): Span("ref.yaml", 14, 9, 10)}
    err = _schema_error(
        {"rest_days": ["2026-03-01", "2026-3-x"]}, path="ref.yaml", locate=marks.get
    )
    assert err.span == Span("ref.yaml", 14, 9, 10)
    assert str(err.span) == "ref.yaml:14:9"


def test_locator_miss_falls_back_to_file() -> None:
    err = _schema_error({"rest_days": ["nope"]}, path="ref.yaml", locate=lambda loc: None)
    assert err.span == Span("ref.yaml", 1)


def test_error_without_path_has_no_span() -> None:
    assert _schema_error({"rest_days": ["nope"]}).span is None


def test_national_errors_locate_by_the_year_key_as_written() -> None:
    marks = {("national", 2027, "holidays", 0): Span("ref.yaml", 30, 9, 10)}
    section = {"national": {2027: {"holidays": ["2027-02-30"]}}}
    err = _schema_error(section, path="ref.yaml", locate=marks.get)
    assert err.span == Span("ref.yaml", 30, 9, 10)
    assert err.message.startswith("calendar.national[2027].holidays[0]: ")
