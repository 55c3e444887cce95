"""Time zones, timestamps, dates and durations as the data contract defines them.

A timestamp with an offset (``+08:00``, ``Z``) is that instant; without one it is wall-clock time
in the dataset's time zone. Every parsed timestamp comes back as an aware datetime in that zone.
Timestamps go through :meth:`datetime.fromisoformat` (fast: this runs once per event); pendulum
only parses ISO-8601 durations, which the standard library cannot.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum

__all__ = [
    "DEFAULT_TZ",
    "get_tz",
    "parse_date",
    "parse_duration",
    "parse_timestamp",
    "to_iso",
]

#: The time zone of a dataset that names none.
DEFAULT_TZ = "Asia/Shanghai"

_NUM = r"\d+(?:[.,]\d+)?"
# pendulum accepts some strings that ISO-8601 does not ("PT", "P1DT"), so the shape is checked
# here first. Weeks stand alone (``P2W``), as in ISO-8601 and pendulum.
_ISO_DURATION = re.compile(
    rf"""^P(?:
        (?P<weeks>{_NUM})W
      | (?=\d|T\d)
        (?:(?P<years>{_NUM})Y)?
        (?:(?P<months>{_NUM})M)?
        (?:(?P<days>{_NUM})D)?
        (?:T(?=\d)(?:(?P<hours>{_NUM})H)?(?:(?P<minutes>{_NUM})M)?(?:(?P<seconds>{_NUM})S)?)?
    )$""",
    re.VERBOSE,
)
_SHORT_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([wdhms])")
_SHORT_FULL = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[wdhms])+\s*$")
_SHORT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


@functools.lru_cache(maxsize=64)
def get_tz(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` (cached).

    Raises:
        ValueError: the name is not a known time zone.

    >>> get_tz("Asia/Shanghai").key
    'Asia/Shanghai'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"unknown time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # ZoneInfo raises ValueError for malformed keys and OSError for some unreadable paths.
        raise ValueError(f"unknown time zone: {name!r}") from exc


def parse_timestamp(value: str | datetime | date, tz: ZoneInfo) -> datetime:
    """Parse an ISO-8601 timestamp into an aware datetime in ``tz``.

    With an offset or ``Z`` the value is that instant, converted to ``tz``; without one it is
    local wall-clock time in ``tz``. A bare date ``YYYY-MM-DD`` is local midnight.

    Raises:
        ValueError: the value is not an ISO-8601 timestamp.

    >>> parse_timestamp("2026-03-09T17:00:00Z", get_tz("Asia/Shanghai")).isoformat()
    '2026-03-10T01:00:00+08:00'
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    elif isinstance(value, str):
        try:
            # Python 3.11 accepts "Z", offsets, a space separator and a bare date here; it also
            # accepts a trailing NUL (C string handling), which is not a timestamp.
            if "\x00" in value:
                raise ValueError
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
    else:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=tz)
    return dt.astimezone(tz)


def parse_date(value: str | date) -> date:
    """Parse a calendar date ``YYYY-MM-DD`` (a :class:`date` passes through).

    Raises:
        ValueError: the value is not a date (a datetime is refused: which day it is depends on
            the time zone, so convert it with the calendar first).

    >>> parse_date("2026-02-14")
    datetime.date(2026, 2, 14)
    """
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a timestamp: {value.isoformat()!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not an ISO-8601 date (YYYY-MM-DD): {value!r}")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a duration: ISO-8601 (``P2D``, ``PT36H``, ``P1DT2H``), short (``90m``, ``36h``,
    ``2d``, ``1w``, ``30s``, combined as ``1h30m``) or a plain number of seconds.

    Years and months are refused: they have no fixed length. Negative durations are refused.

    Raises:
        ValueError: the text is not a duration this function understands.

    >>> parse_duration("PT36H") == parse_duration("36h") == parse_duration(129600)
    True
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        return _seconds(float(text), text)
    if not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r}")
    s = text.strip()
    if not s:
        raise ValueError("not a duration: ''")
    if s.startswith("P"):
        return _parse_iso_duration(s, text)
    if _SHORT_FULL.match(s):
        total = sum(float(n) * _SHORT_SECONDS[u] for n, u in _SHORT_PART.findall(s))
        return _seconds(total, text)
    try:
        number = float(s)
    except ValueError:
        raise ValueError(
            f"not a duration: {text!r} (use e.g. 'PT36H', '36h', '90m', '2d', '1w' or seconds)"
        ) from None
    return _seconds(number, text)


def _parse_iso_duration(s: str, original: str) -> timedelta:
    m = _ISO_DURATION.match(s)
    if m is None:
        raise ValueError(f"not an ISO-8601 duration: {original!r}")
    if m.group("years") or m.group("months"):
        raise ValueError(
            f"duration {original!r} uses years or months, which have no fixed length; use days"
        )
    try:
        parsed = pendulum.parse(s)
    except (ValueError, OverflowError):
        raise ValueError(f"not an ISO-8601 duration: {original!r}") from None
    if not isinstance(parsed, pendulum.Duration):
        raise ValueError(f"not an ISO-8601 duration: {original!r}")
    return _seconds(parsed.total_seconds(), original)


def _seconds(seconds: float, original: object) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a non-negative finite duration: {original!r}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration too long: {original!r}") from None


def to_iso(dt: datetime) -> str:
    """Format an aware datetime as ISO-8601 with its offset, to the second.

    Raises:
        ValueError: the datetime is naive (it has no offset to write).

    >>> to_iso(parse_timestamp("2026-03-10T08:12:30.5", get_tz("Asia/Shanghai")))
    '2026-03-10T08:12:30+08:00'
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime has no offset: {dt.isoformat()!r}")
    return dt.isoformat(timespec="seconds")
