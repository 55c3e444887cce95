"""Ground-truth helpers: the events a finding's evidence must hold, computed once every event is
written (an aggregate's evidence is every event its window counts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from world import Events, Pick, World, monday


def day(m: int, d: int) -> date:
    return date(2026, m, d)


def visits_in_week(cid: str, wk: date) -> Pick:
    return lambda evs: [
        e
        for e in evs
        if e["type"] == "visit" and e["cadre_id"] == cid and monday(e["time"].date()) == wk
    ]


def visits_on(cid: str, d: date) -> Pick:
    return lambda evs: [
        e for e in evs if e["type"] == "visit" and e["cadre_id"] == cid and e["time"].date() == d
    ]


def requests_to(tid: str, wk: date) -> Pick:
    return lambda evs: [
        e
        for e in evs
        if e["type"] == "data_request"
        and tid in e["recipient_unit_ids"]
        and monday(e["time"].date()) == wk
    ]


def meetings_of(org: str, wk: date) -> Pick:
    return lambda evs: [
        e
        for e in evs
        if e["type"] == "meeting" and e["organizer_id"] == org and monday(e["time"].date()) == wk
    ]


def d1_found(w: World, cid: str, d: date) -> Pick:
    """What D1 finds for a cadre on a day: check-ins and visits in the township, in a slot."""
    tid = w.town_of(cid)

    def pick(evs: Events) -> Events:
        out = []
        for e in evs:
            if e.get("cadre_id") != cid or e["time"].date() != d:
                continue
            if 12 <= e["time"].hour < 14:
                continue  # the lunch break is in neither slot
            if (e["type"] == "checkin" and id(e) in w.in_town) or (
                e["type"] == "visit" and w.units[e["target_id"]]["township_id"] == tid
            ):
                out.append(e)
        return out

    return pick


def first_visit(cid: str) -> Callable[[Events], date]:
    """A2's window start: every visit of the cadre is in its 60 days (for the escort median),
    so the window opens with the cadre's first visit."""
    return lambda evs: min(
        e["time"].date() for e in evs if e["type"] == "visit" and e["cadre_id"] == cid
    )
