"""The environment expressions see: reference lookups and the duty calendar, behind one object."""

from __future__ import annotations

from datetime import date, datetime

from fourin_rules.calendar import DutyCalendar
from fourin_rules.reference import ReferenceIndex


class RuleEnv:
    """Implements the expression language's ``Env`` protocol over reference data and a calendar."""

    def __init__(self, reference: ReferenceIndex, calendar: DutyCalendar) -> None:
        self.reference = reference
        self.calendar = calendar
        self.tz = calendar.tz
        # Bound methods looked up once: these run per event per rule.
        self.unit = reference.unit
        self.cadre = reference.cadre
        self.vehicle = reference.vehicle
        self.group = reference.group
        self.staff = reference.staff
        self.assignment_at = reference.assignment_at
        self.staff_ids = reference.staff_ids
        self.township_leaders = reference.township_leaders
        self.township_at = reference.township_at
        self.is_duty_day = calendar.is_duty_day
        self.in_work_hours = calendar.in_work_hours
        self.local_date = calendar.local_date
        self.holiday_name = calendar.holiday_name

    def roster(self, d: date) -> list[dict]:
        return self.reference.roster(d)

    def local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.tz)
