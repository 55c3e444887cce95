"""The world of examples/county: its reference data (county.py), and the helpers that write
its events and its ground truth.

``World`` holds the reference data, the events written so far, the ground truth and the
near-misses, and the plans that planted scenarios leave for the ordinary days (a cadre's day
that is not ordinary, a week of short visits, a group that only visits villages ...).
Everything random comes from one seeded ``random.Random``; nothing iterates over a set, so the
output is the same in every process.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from county import Point, build_reference, offset

TZ = timezone(timedelta(hours=8))
FIRST, LAST = date(2026, 2, 1), date(2026, 3, 31)
CITY = (32.90, 115.81)  # 阜阳市区: 25-65 km from every township

Event = dict[str, Any]
Events = list[Event]
Pick = Callable[[Events], Events]


def at(d: date, hh: int, mm: int = 0) -> datetime:
    """Local time ``hh:mm`` on day ``d`` (minutes may run past 59)."""
    return datetime(d.year, d.month, d.day, tzinfo=TZ) + timedelta(hours=hh, minutes=mm)


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def days(first: date = FIRST, last: date = LAST) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def km_between(a: Point, b: Point) -> float:
    """Great-circle distance in km (as the engine's distance_km)."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2
    h += math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@dataclass
class DayPlan:
    """What an ordinary duty day of a cadre still holds when a scenario changes it."""

    am: bool = True  # the ordinary morning check-in
    pm: bool = True  # the ordinary afternoon check-in
    visits: str = "all"  # half-days that may hold the cadre's visits: all, am, pm, none
    cards: bool = True  # ordinary card payments (located in the township)
    canteen: bool = True


NONE_DAY = DayPlan(am=False, pm=False, visits="none", cards=False, canteen=False)


@dataclass
class Truth:
    """One expected finding; ``start`` and ``evidence`` may be computed from all the events."""

    rule_id: str
    subject_kind: str
    subject_id: str
    start: date | Callable[[Events], date]
    evidence: Events | Pick | None
    note: str


@dataclass
class NearMiss:
    """Events that look like a violation of ``rule_id`` but must not trigger it (for
    ``subject_id``, on ``day`` when given)."""

    rule_id: str
    subject_id: str | None
    day: date | None
    events: Events | Pick
    reason: str


@dataclass
class World:
    """The county's reference data, its events, and what the scenarios planted."""

    seed: int
    rng: random.Random = field(init=False)
    ref: dict[str, Any] = field(init=False)
    units: dict[str, dict[str, Any]] = field(init=False)
    events: Events = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)
    near: list[NearMiss] = field(default_factory=list)
    plans: dict[tuple[str, date], DayPlan] = field(default_factory=dict)
    busy_weeks: set[tuple[str, date]] = field(default_factory=set)
    visit_mods: dict[tuple[str, date], dict[str, Any]] = field(default_factory=dict)
    target_days: dict[tuple[str, date], int] = field(default_factory=dict)
    escort: dict[str, tuple[int, int]] = field(default_factory=dict)
    villages_only: set[tuple[str, date]] = field(default_factory=set)
    in_town: set[int] = field(default_factory=set)  # id() of check-ins inside the township
    pointer: dict[str, int] = field(default_factory=dict)  # round robin over a group's targets

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ref = build_reference(self.rng)
        self.units = {u["unit_id"]: u for u in self.ref["units"]}
        self.cadres = {c["cadre_id"]: c for c in self.ref["cadres"]}
        self.groups = {g["group_id"]: g for g in self.ref["groups"]}
        self.staff = self.ref["staff"]
        self.towns = [u for u, x in self.units.items() if x["kind"] == "township"]
        for gid, g in self.groups.items():
            self.pointer[gid] = self.rng.randrange(len(g["targets"]))

    # -- lookups ----------------------------------------------------------------------------
    def town_of(self, cid: str) -> str:
        return f"T{(int(cid[1:]) - 1) // 5 + 1:02d}"

    def group_of(self, cid: str) -> str:
        return "G" + self.town_of(cid)[1:]

    def members(self, gid: str) -> list[str]:
        return [f"K{(int(gid[1:]) - 1) * 5 + k + 1:02d}" for k in range(5)]

    def leaders(self, tid: str) -> list[str]:
        return [s["staff_id"] for s in self.staff if s["unit_id"] == tid and s["leader"]]

    def clerks(self, tid: str) -> list[str]:
        return [s["staff_id"] for s in self.staff if s["unit_id"] == tid and not s["leader"]]

    def of_kind(self, tid: str, kind: str) -> list[str]:
        return [u for u, x in self.units.items() if x["kind"] == kind and x["township_id"] == tid]

    def home(self, cid: str) -> Point:
        return self.cadres[cid]["home_lat"], self.cadres[cid]["home_lon"]

    def centre(self, uid: str) -> Point:
        return self.units[uid]["lat"], self.units[uid]["lon"]

    def dept(self, cid: str) -> str:
        return self.cadres[cid]["home_unit_id"]

    def around(self, p: Point, km: float) -> Point:
        """A random point within ``km`` of ``p``."""
        return offset(p, km * math.sqrt(self.rng.random()), self.rng.uniform(0, 2 * math.pi))

    def next_target(self, gid: str) -> str:
        targets = self.groups[gid]["targets"]
        self.pointer[gid] += 1
        return targets[(self.pointer[gid] - 1) % len(targets)]["target_id"]

    # -- planning ---------------------------------------------------------------------------
    def plan(self, cid: str, d: date, day_plan: DayPlan) -> None:
        """Reserve a cadre's day for a scenario (ordinary leave and trips keep off it)."""
        assert (cid, d) not in self.plans, f"{cid} {d} planned twice"
        self.plans[(cid, d)] = day_plan

    def free(self, cid: str, d: date) -> bool:
        return (cid, d) not in self.plans and (cid, monday(d)) not in self.busy_weeks

    # -- events -----------------------------------------------------------------------------
    def add(self, type_: str, time: datetime, end: datetime | None = None, **fields: Any) -> Event:
        """Write an event; its id is given once all events are sorted by time."""
        event: Event = {"type": type_, "id": None, "time": time}
        if end is not None:
            event["end"] = end
        event.update(fields)
        self.events.append(event)
        return event

    def checkin(
        self,
        cid: str,
        t: datetime,
        where: str = "town",
        *,
        kind: str = "in",
        point: Point | None = None,
        mock: bool = False,
    ) -> Event:
        """A check-in in the township (``town``, at a village ``unit``, or by ``face``), or at
        ``point``; with ``mock`` its location was faked (in the township)."""
        fields: dict[str, Any] = {"cadre_id": cid}
        tid = self.town_of(cid)
        if point is None and where == "face":
            fields.update(township_id=tid, method="face")
        else:
            if point is None and where == "unit":
                point = self.around(self.centre(self.rng.choice(self.of_kind(tid, "village"))), 0.3)
            elif point is None:
                point = self.around(self.centre(tid), 0.7)
            else:
                where = "away"
            fields.update(lat=point[0], lon=point[1], method="gps")
        event = self.add(
            "checkin", t, **fields, kind=kind, **({"mock_location": True} if mock else {})
        )
        if where != "away" and kind != "out" and not mock:
            self.in_town.add(id(event))
        return event

    def card(
        self,
        cid: str,
        t: datetime,
        amount: float,
        merchant: str,
        mcc: str,
        point: Point | None = None,
        **extra: Any,
    ) -> Event:
        loc = {"lat": point[0], "lon": point[1]} if point is not None else {}
        return self.add(
            "card_txn",
            t,
            cadre_id=cid,
            amount_cny=amount,
            merchant_name=merchant,
            mcc=mcc,
            **loc,
            **extra,
        )

    def visit(
        self,
        cid: str,
        target: str,
        start: datetime,
        minutes: int,
        *,
        photos: int,
        escort: int,
        issues: int = 0,
    ) -> Event:
        return self.add(
            "visit",
            start,
            start + timedelta(minutes=minutes),
            cadre_id=cid,
            group_id=self.group_of(cid),
            target_id=target,
            target_kind=self.units[target]["kind"],
            issues_found=issues,
            photos_n=photos,
            accompanying_staff_n=escort,
        )

    def leave(
        self, cid: str, start: datetime, end: datetime, status: str, kind: str = "personal"
    ) -> Event:
        return self.add(
            "leave",
            start,
            end,
            cadre_id=cid,
            leave_type=kind,
            status=status,
            approver_unit_id=self.town_of(cid),
        )

    def claim(
        self,
        cid: str,
        t: datetime,
        payer: str,
        category: str,
        amount: float,
        items: list[tuple[str, float]] | None = None,
        **extra: Any,
    ) -> Event:
        """A reimbursement claimed by ``cid`` (a cadre, or a staff member for the unit)."""
        lines = [{"name": n, "amount_cny": a} for n, a in items or []]
        return self.add(
            "reimbursement",
            t,
            cadre_id=cid,
            paying_unit_id=payer,
            category=category,
            amount_cny=amount,
            items=lines,
            **extra,
        )

    def reception(
        self,
        t: datetime,
        host: str,
        guests: list[str],
        companions: int,
        amount: float,
        items: list[tuple[str, float]],
        **extra: Any,
    ) -> Event:
        return self.add(
            "reception",
            t,
            host_unit_id=host,
            guest_ids=guests,
            guests_n=len(guests),
            companion_n=companions,
            venue=extra.pop("venue", "机关食堂"),
            mcc="5812",
            amount_cny=amount,
            items=[{"name": n, "amount_cny": a} for n, a in items],
            **extra,
        )

    def request(
        self,
        issuer: str,
        towns: list[str],
        t: datetime,
        topic: str,
        fields: list[str],
        due: datetime,
    ) -> Event:
        return self.add(
            "data_request",
            t,
            issuer_id=issuer,
            recipient_unit_ids=towns,
            due=due,
            topic=topic,
            fields=list(fields),
        )

    def meeting(
        self,
        org: str,
        start: datetime,
        minutes: int,
        chair: str,
        attendees: list[str],
        tid: str,
        topic: str,
        decision: bool = False,
    ) -> Event:
        return self.add(
            "meeting",
            start,
            start + timedelta(minutes=minutes),
            organizer_id=org,
            chaired_by=chair,
            attendee_ids=attendees,
            township_id=tid,
            decision=decision,
            topic=topic,
        )

    def complaint(
        self, t: datetime, who: list[str], by: str, category: str, verified: str
    ) -> Event:
        return self.add(
            "complaint",
            t,
            subject_cadre_ids=who,
            complainant_id=by,
            channel="hotline",
            category=category,
            verified=verified,
        )

    def rating(self, t: datetime, cid: str, dimension: str, score: int, tags: list[str]) -> Event:
        return self.add(
            "rating",
            t,
            rater_unit_id=self.town_of(cid),
            cadre_id=cid,
            dimension=dimension,
            score=score,
            tags=tags,
        )

    # -- ground truth -----------------------------------------------------------------------
    def expect(
        self,
        rule_id: str,
        subject: str,
        start: date | Callable[[Events], date],
        evidence: Events | Pick | None,
        note: str,
    ) -> None:
        """A finding ``rule_id`` must make on ``subject`` (window start ``start``)."""
        kind = "group" if subject[0] == "G" else "township" if subject[0] == "T" else "cadre"
        self.truth.append(Truth(rule_id, kind, subject, start, evidence, note))

    def miss(
        self,
        rule_id: str,
        subject: str | None,
        day: date | None,
        events: Events | Pick,
        reason: str,
        limit: int = 0,
    ) -> None:
        """A near-miss; with ``limit``, only the first ``limit`` of this rule and reason."""
        if limit and sum((n.rule_id, n.reason) == (rule_id, reason) for n in self.near) >= limit:
            return
        self.near.append(NearMiss(rule_id, subject, day, events, reason))
