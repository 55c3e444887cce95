"""The duty calendar: which local days are duty days, and which local times are work hours.

A day's answer follows a fixed precedence: campaign ``rest_days``, then campaign ``duty_days``,
then China's national calendar for that year (statutory holidays and adjusted working days 调休),
taken from the reference data's ``calendar.national`` first and the ``chinesecalendar`` package
second. With ``weekend_duty`` a plain weekend (not a statutory holiday) is a duty day. A year with
no national data anywhere is an error, never a Monday-to-Friday guess.

Days are local days in the calendar's time zone (default Asia/Shanghai), never UTC days.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from fourin_rules.errors import ErrorCollector, FourinError, Span, suggest
from fourin_rules.timeutil import DEFAULT_TZ, get_tz, parse_date

__all__ = [
    "DEFAULT_WORK_HOURS",
    "HOLIDAY_NAMES_ZH",
    "MAX_RANGE_DAYS",
    "PERIOD_UNITS",
    "DutyCalendar",
    "Locate",
    "NationalYear",
]

#: Period units that :meth:`DutyCalendar.period_bounds` understands.
PERIOD_UNITS: tuple[str, ...] = ("day", "week", "calendar_month", "year")

#: Office hours of a township government when the reference data names none.
DEFAULT_WORK_HOURS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)

#: The Chinese names of the statutory holidays, keyed by chinesecalendar's English names.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}

#: The longest day range one item may span; longer is almost surely a typo in a year.
MAX_RANGE_DAYS = 3660

#: Maps a location inside the ``calendar`` section (e.g. ``("duty_days", 2)``) to a source span.
Locate = Callable[[tuple[str | int, ...]], Span | None]

_SECTION_KEYS = ("duty_days", "rest_days", "weekend_duty", "work_hours", "national")
_NATIONAL_KEYS = ("holidays", "working_days")
_RANGE_KEYS = ("start", "end")
_HOURS_RE = re.compile(r"^\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*-\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*$")
_MISSING_YEAR_HINT = (
    "add calendar.national[{y}] with holidays and working_days to the reference data, "
    "or list the days in calendar.duty_days / rest_days"
)


@dataclass(frozen=True)
class NationalYear:
    """One year of national calendar data: statutory holiday dates and adjusted working days.

    ``names`` optionally maps a holiday date to its name (Chinese, or chinesecalendar's English
    name, which is translated). Days in neither set follow the week: Monday-Friday work.
    """

    holidays: frozenset[date]
    working_days: frozenset[date] = frozenset()
    names: Mapping[date, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Accept any iterable of dates; store frozen sets so lookups are O(1) and the value is safe
        # to share between calendars.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        names = {d: HOLIDAY_NAMES_ZH.get(n, n) for d, n in dict(self.names).items()}
        object.__setattr__(self, "names", names)


class DutyCalendar:
    """Duty days, work hours and local-day arithmetic for one dataset.

    Args:
        tz: IANA time zone of the dataset (a name or a ZoneInfo).
        duty_days: days that are duty days whatever the national calendar says.
        rest_days: days that are not duty days whatever else applies (they win over duty_days).
        weekend_duty: plain weekends (not statutory holidays) are duty days.
        work_hours: local ``[start, end)`` intervals; ``time.max`` as an end means midnight.
        national: national calendar data per year; used before the chinesecalendar package.

    Raises:
        ValueError: unknown time zone, a work-hours interval that ends before it starts, or a
            national year holding dates of another year.

    >>> cal = DutyCalendar()
    >>> cal.is_duty_day(date(2026, 2, 14)), cal.holiday_name(date(2026, 2, 17))
    (True, '春节')
    """

    def __init__(
        self,
        tz: str | ZoneInfo = DEFAULT_TZ,
        *,
        duty_days: Iterable[date] = (),
        rest_days: Iterable[date] = (),
        weekend_duty: bool = False,
        work_hours: Sequence[tuple[time, time]] = DEFAULT_WORK_HOURS,
        national: Mapping[int, NationalYear] | None = None,
    ) -> None:
        self.tz: ZoneInfo = tz if isinstance(tz, ZoneInfo) else get_tz(tz)
        self.duty_days: frozenset[date] = frozenset(duty_days)
        self.rest_days: frozenset[date] = frozenset(rest_days)
        self.weekend_duty: bool = bool(weekend_duty)
        hours = tuple((start, end) for start, end in work_hours)
        for start, end in hours:
            if not start < end:
                raise ValueError(f"work hours must end after they start: {start}-{end}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("work hours are local wall-clock times: give naive times")
        self.work_hours: tuple[tuple[time, time], ...] = tuple(sorted(hours))
        self.national: dict[int, NationalYear] = dict(national or {})
        for year, data in self.national.items():
            stray = sorted(d for d in data.holidays | data.working_days if d.year != year)
            if stray:
                raise ValueError(
                    f"national data for {year} holds a date of another year: {stray[0]}"
                )
        # Per-date answers: is_duty_day runs once per event and per roster day on hot paths.
        self._duty_cache: dict[date, bool] = {}
        self._national_cache: dict[date, tuple[bool, bool, str | None]] = {}

    @classmethod
    def from_section(
        cls,
        section: Mapping[str, Any] | None,
        tz: str = DEFAULT_TZ,
        path: str | None = None,
        *,
        locate: Locate | None = None,
    ) -> DutyCalendar:
        """Build a calendar from the reference data's ``calendar`` section (None: defaults).

        Items of ``duty_days`` / ``rest_days`` are dates, ``"start..end"`` ranges or
        ``{start, end}`` mappings; ``work_hours`` items are ``"HH:MM-HH:MM"``; ``national`` maps a
        year to ``{holidays: [...], working_days: [...]}`` (holiday items may carry a ``name``).

        Args:
            section: the parsed section.
            tz: the dataset's time zone.
            path: the reference file, for error spans.
            locate: optional map from a location inside the section (``("duty_days", 2)``) to a
                span with line and column (a loader keeps these from the YAML marks); without it
                errors point at the file.

        Raises:
            FourinError: ``reference-schema`` for one bad item; FourinErrors for several.
        """
        parser = _SectionParser(path, locate)
        kwargs = parser.parse(section)
        parser.errors.raise_if_any()
        return cls(tz, **kwargs)

    def is_duty_day(self, d: date) -> bool:
        """True when the local day ``d`` is a duty day (a datetime is first turned into its
        local day).

        Raises:
            FourinError: ``calendar-missing-year`` when the answer needs national data for a year
                that neither ``national`` nor chinesecalendar knows.
        """
        if isinstance(d, datetime):
            d = self.local_date(d)
        cached = self._duty_cache.get(d)
        if cached is not None:
            return cached
        if d in self.rest_days:
            answer = False
        elif d in self.duty_days:
            answer = True
        else:
            workday, statutory, _ = self._national_info(d)
            answer = workday or (self.weekend_duty and d.weekday() >= 5 and not statutory)
        self._duty_cache[d] = answer
        return answer

    def in_work_hours(self, dt: datetime) -> bool:
        """True when the local wall-clock time of ``dt`` is inside a work-hours ``[start, end)``.

        A naive ``dt`` is already local time.
        """
        t = self._local(dt).time()
        return any(start <= t and (t < end or end == time.max) for start, end in self.work_hours)

    def is_duty_time(self, dt: datetime) -> bool:
        """True when ``dt`` falls on a duty day and inside work hours."""
        local = self._local(dt)
        return self.is_duty_day(local.date()) and self.in_work_hours(local)

    def local_date(self, dt: datetime) -> date:
        """The local calendar day of ``dt`` (a naive ``dt`` is already local time)."""
        return self._local(dt).date()

    def day_bounds(self, d: date) -> tuple[datetime, datetime]:
        """Local midnight of ``d`` and the next local midnight, as aware datetimes."""
        return self._midnight(d), self._midnight(d + timedelta(days=1))

    def period_bounds(self, dt_or_date: datetime | date, unit: str) -> tuple[datetime, datetime]:
        """The local period holding ``dt_or_date``: ``[start, end)`` as aware datetimes.

        ``unit`` is one of :data:`PERIOD_UNITS`: ``day``, ``week`` (Monday to Sunday),
        ``calendar_month`` or ``year``.

        Raises:
            ValueError: an unknown unit.
        """
        d = self.local_date(dt_or_date) if isinstance(dt_or_date, datetime) else dt_or_date
        if unit == "day":
            start, end = d, d + timedelta(days=1)
        elif unit == "week":
            start = d - timedelta(days=d.weekday())
            end = start + timedelta(days=7)
        elif unit == "calendar_month":
            start = d.replace(day=1)
            end = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
        elif unit == "year":
            start, end = date(d.year, 1, 1), date(d.year + 1, 1, 1)
        else:
            hint = suggest(unit, PERIOD_UNITS)
            raise ValueError(
                f"unknown period unit {unit!r} (one of {', '.join(PERIOD_UNITS)})"
                + (f"; {hint}" if hint else "")
            )
        return self._midnight(start), self._midnight(end)

    def duty_days_between(self, start: date, end: date) -> list[date]:
        """The duty days from ``start`` to ``end``, both included, ascending."""
        days = (start + timedelta(days=k) for k in range((end - start).days + 1))
        return [d for d in days if self.is_duty_day(d)]

    def holiday_name(self, d: date) -> str | None:
        """The Chinese name of the statutory holiday period ``d`` falls in (春节, 国庆节, ...).

        None for any other day, including adjusted working days next to a holiday and campaign
        overrides (they change duty, not the holiday).

        Raises:
            FourinError: ``calendar-missing-year`` when no national data covers ``d``'s year.
        """
        if isinstance(d, datetime):
            d = self.local_date(d)
        _, statutory, name = self._national_info(d)
        return name if statutory else None

    def has_year(self, year: int) -> bool:
        """True when national calendar data for ``year`` is known (reference data or package)."""
        if year in self.national:
            return True
        low, high = _package_years()
        return low <= year <= high

    def _local(self, dt: datetime) -> datetime:
        if dt.tzinfo is None or dt.utcoffset() is None:
            return dt
        return dt.astimezone(self.tz)

    def _midnight(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=self.tz)

    def _national_info(self, d: date) -> tuple[bool, bool, str | None]:
        """(national working day, statutory holiday, Chinese holiday name) for ``d``."""
        cached = self._national_cache.get(d)
        if cached is not None:
            return cached
        data = self.national.get(d.year)
        if data is not None:
            statutory = d in data.holidays
            workday = d in data.working_days or (d.weekday() < 5 and not statutory)
            info = (workday, statutory, data.names.get(d) if statutory else None)
        else:
            try:
                is_holiday, name = chinese_calendar.get_holiday_detail(d)
            except NotImplementedError:
                raise _missing_year(d) from None
            # chinesecalendar names plain weekends None and names adjusted working days too;
            # only a rest day with a name is a statutory holiday.
            statutory = bool(is_holiday and name)
            zh = HOLIDAY_NAMES_ZH.get(name, name) if statutory and name else None
            info = (not is_holiday, statutory, zh)
        self._national_cache[d] = info
        return info


@functools.cache
def _package_years() -> tuple[int, int]:
    """The first and last year chinesecalendar has data for."""
    days = chinese_calendar.holidays
    return min(days).year, max(days).year


def _missing_year(d: date) -> FourinError:
    low, high = _package_years()
    return FourinError(
        "calendar-missing-year",
        f"no holiday data for {d.year}: {d.isoformat()} needs China's statutory holidays and "
        f"adjusted working days for {d.year}, the installed chinesecalendar knows "
        f"{low}-{high} and calendar.national has no {d.year}",
        suggestion=_MISSING_YEAR_HINT.format(y=d.year),
    )


class _SectionParser:
    """Parses a ``calendar`` section, collecting every bad item before failing."""

    def __init__(self, path: str | None, locate: Locate | None) -> None:
        self.path = path
        self.locate = locate
        self.errors = ErrorCollector()

    def error(
        self, loc: tuple[str | int, ...], message: str, suggestion: str | None = None
    ) -> None:
        span = self.locate(loc) if self.locate else None
        if span is None and self.path:
            span = Span(self.path, 1)
        where = "calendar" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        self.errors.add(FourinError("reference-schema", f"{where}: {message}", span, suggestion))

    def parse(self, section: Mapping[str, Any] | None) -> dict[str, Any]:
        if section is None:
            return {}
        if not isinstance(section, Mapping):
            self.error((), f"must be a mapping, got {_kind(section)}")
            return {}
        out: dict[str, Any] = {}
        for key in section:
            if key not in _SECTION_KEYS:
                self.error((str(key),), f"unknown key {key!r}", suggest(str(key), _SECTION_KEYS))
        for key in ("duty_days", "rest_days"):
            days = self.days((key,), section.get(key), allow_name=False)
            out[key] = frozenset(d for d, _ in days)
        weekend = section.get("weekend_duty")
        if weekend is not None and not isinstance(weekend, bool):
            self.error(("weekend_duty",), f"must be true or false, got {weekend!r}")
        out["weekend_duty"] = bool(weekend) if isinstance(weekend, bool) else False
        if section.get("work_hours") is not None:
            out["work_hours"] = self.work_hours(section["work_hours"])
        if section.get("national") is not None:
            out["national"] = self.national(section["national"])
        return out

    def days(
        self, loc: tuple[str | int, ...], value: Any, *, allow_name: bool
    ) -> list[tuple[date, str | None]]:
        """Dates of a list of items (date, ``"a..b"``, ``{start, end}``), with optional names."""
        if value is None:
            return []
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            self.error(loc, f"must be a list of dates or ranges, got {_kind(value)}")
            return []
        out: list[tuple[date, str | None]] = []
        for i, item in enumerate(value):
            out.extend(self.item((*loc, i), item, allow_name=allow_name))
        return out

    def item(
        self, loc: tuple[str | int, ...], item: Any, *, allow_name: bool
    ) -> list[tuple[date, str | None]]:
        name: str | None = None
        if isinstance(item, Mapping):
            keys = (*_RANGE_KEYS, "name") if allow_name else _RANGE_KEYS
            bad = [k for k in item if k not in keys]
            for k in bad:
                self.error((*loc, str(k)), f"unknown key {k!r}", suggest(str(k), keys))
            if "start" not in item:
                self.error(loc, "a range needs a 'start' date")
                return []
            if allow_name and item.get("name") is not None:
                if not isinstance(item["name"], str) or not item["name"].strip():
                    self.error((*loc, "name"), f"must be a holiday name, got {item['name']!r}")
                else:
                    name = item["name"].strip()
            start = self.date((*loc, "start"), item["start"])
            end = self.date((*loc, "end"), item.get("end", item["start"]))
            if bad:
                return []
        elif isinstance(item, str) and ".." in item:
            left, _, right = item.partition("..")
            start, end = self.date(loc, left), self.date(loc, right)
        else:
            start = end = self.date(loc, item)
        if start is None or end is None:
            return []
        if end < start:
            self.error(loc, f"range ends before it starts: {start}..{end}")
            return []
        span = (end - start).days + 1
        if span > MAX_RANGE_DAYS:
            self.error(loc, f"range {start}..{end} spans {span} days (at most {MAX_RANGE_DAYS})")
            return []
        return [(start + timedelta(days=k), name) for k in range(span)]

    def date(self, loc: tuple[str | int, ...], value: Any) -> date | None:
        try:
            return parse_date(value)
        except ValueError as exc:
            self.error(loc, str(exc), "write dates as YYYY-MM-DD, ranges as YYYY-MM-DD..YYYY-MM-DD")
            return None

    def work_hours(self, value: Any) -> tuple[tuple[time, time], ...]:
        loc: tuple[str | int, ...] = ("work_hours",)
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            self.error(
                loc, f"must be a list like ['08:30-12:00', '14:00-17:30'], got {_kind(value)}"
            )
            return DEFAULT_WORK_HOURS
        out: list[tuple[time, time]] = []
        for i, item in enumerate(value):
            at = (*loc, i)
            if isinstance(item, str):
                m = _HOURS_RE.match(item)
                if m is None:
                    self.error(at, f"not a 'HH:MM-HH:MM' interval: {item!r}")
                    continue
                raw_start, raw_end = m.group(1), m.group(2)
            elif isinstance(item, Mapping) and set(item) == {"start", "end"}:
                raw_start, raw_end = item["start"], item["end"]
            else:
                self.error(at, f"not a 'HH:MM-HH:MM' interval or {{start, end}}: {item!r}")
                continue
            start = self.clock(at, raw_start, end=False)
            end = self.clock(at, raw_end, end=True)
            if start is None or end is None:
                continue
            if not start < end:
                self.error(
                    at,
                    f"work hours must end after they start: {item!r}",
                    "split an overnight shift at midnight: '22:00-24:00', '00:00-06:00'",
                )
                continue
            out.append((start, end))
        return tuple(out)

    def clock(self, loc: tuple[str | int, ...], value: Any, *, end: bool) -> time | None:
        if isinstance(value, time):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 08:30 as the base-60 integer 510.
            self.error(loc, f"not a time of day: {value!r}", "quote times: '08:30'")
            return None
        text = value.strip() if isinstance(value, str) else ""
        if end and text in ("24:00", "24:00:00"):
            return time.max
        try:
            hh, rest = text.split(":", 1)
            return time.fromisoformat(f"{int(hh):02d}:{rest}")
        except ValueError:
            self.error(loc, f"not a time of day (HH:MM): {value!r}")
            return None

    def national(self, value: Any) -> dict[int, NationalYear]:
        if not isinstance(value, Mapping):
            self.error(
                ("national",), f"must map a year to holidays and working_days, got {_kind(value)}"
            )
            return {}
        out: dict[int, NationalYear] = {}
        for key, body in value.items():
            year = _year(key)
            # Keep the key as written (int or str) so a loader's locator finds its mark.
            loc: tuple[str | int, ...] = ("national", key)
            if year is None:
                self.error(loc, f"not a year: {key!r}")
                continue
            if not isinstance(body, Mapping):
                self.error(
                    loc, f"must be a mapping with holidays and working_days, got {_kind(body)}"
                )
                continue
            for k in body:
                if k not in _NATIONAL_KEYS:
                    self.error(
                        (*loc, str(k)), f"unknown key {k!r}", suggest(str(k), _NATIONAL_KEYS)
                    )
            if not body.get("holidays"):
                # An empty year would silently mean "Monday to Friday": exactly the guess the
                # contract forbids.
                self.error(loc, f"national data for {year} lists no holidays")
                continue
            holidays = self.days((*loc, "holidays"), body.get("holidays"), allow_name=True)
            working = self.days((*loc, "working_days"), body.get("working_days"), allow_name=False)
            ok = True
            for sub, days in (("holidays", holidays), ("working_days", working)):
                stray = sorted({d for d, _ in days if d.year != year})
                if stray:
                    self.error(
                        (*loc, sub), f"{stray[0]} is not in {year}; list it under its own year"
                    )
                    ok = False
            both = sorted({d for d, _ in holidays} & {d for d, _ in working})
            if both:
                self.error(loc, f"{both[0]} is listed both as a holiday and as a working day")
                ok = False
            if ok:
                out[year] = NationalYear(
                    holidays=frozenset(d for d, _ in holidays),
                    working_days=frozenset(d for d, _ in working),
                    names={d: n for d, n in holidays if n},
                )
        return out


def _year(key: Any) -> int | None:
    text = str(key).strip() if isinstance(key, int | str) and not isinstance(key, bool) else ""
    year = int(text) if text.isdigit() else 0
    return year if 1 <= year <= 9998 else None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
