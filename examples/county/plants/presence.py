"""Being at the post: D1, P3, P3-mock, P3-speed, P4, P4-trip; riding cars: P2, P2-streak."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from world import CITY, NONE_DAY, DayPlan, Event, World, at, km_between

from plants.picks import d1_found, day

LINQUAN = (33.06, 115.26)  # 临泉县城, 45 km and more from every township


def _kmh(a: Event, b: Event) -> float:
    minutes = (b["time"] - a["time"]).total_seconds() / 60
    return km_between((a["lat"], a["lon"]), (b["lat"], b["lon"])) * 60 / minutes


def presence(w: World) -> None:
    """Empty posts, mocked locations, time away, at home, impossible speeds, hometown trips."""
    for cid, d, note in (
        ("K02", day(3, 10), "no check-in or visit all Tuesday"),
        ("K13", day(2, 14), "nothing on the working Saturday 2026-02-14"),
    ):
        w.plan(cid, d, NONE_DAY)
        w.expect("D1", cid, d, [], note)
    d = day(3, 18)
    w.plan("K24", d, NONE_DAY)
    w.leave("K24", at(d, 8, 30), at(d, 17, 30), "pending")
    w.expect("D1", "K24", d, [], "away on a leave still pending: it excuses nothing")
    d = day(3, 24)
    w.plan("K47", d, DayPlan(pm=False, visits="am", cards=False))
    w.expect("D1", "K47", d, d1_found(w, "K47", d), "gone after the morning: nothing after 14:00")

    d = day(3, 13)
    w.plan("K33", d, DayPlan(am=False, visits="pm"))
    mock = w.checkin("K33", at(d, 8, 20), mock=True)
    w.expect("P3-mock", "K33", d, [mock], "the morning check-in used a mocked location")
    w.expect("D1", "K33", d, d1_found(w, "K33", d), "the only morning check-in was mocked")
    d = day(3, 4)
    w.plan("K38", d, DayPlan())
    mock = w.checkin("K38", at(d, 17, 45), mock=True)
    w.expect("P3-mock", "K38", d, [mock], "a mocked sign-off after an ordinary day")
    d = day(3, 2)
    w.plan("K26", d, DayPlan())
    out = w.checkin("K26", at(d, 17, 40), kind="out")
    w.miss("P3-mock", "K26", d, [out], "an ordinary sign-out, its location not mocked")

    # P3: seen more than 10 km from the township for more than two hours of work time
    d = day(3, 5)
    w.plan("K08", d, DayPlan(am=False, visits="pm", cards=False))
    w.checkin("K08", at(d, 8, 10))
    a = w.checkin("K08", at(d, 9, 30), kind="field", point=w.around(CITY, 0.5))
    b = w.card("K08", at(d, 11, 45), 46, "阜阳市颍州区老字号面馆", "5812", w.around(CITY, 0.5))
    w.expect("P3", "K08", d, [a, b], "in 阜阳市区 from 09:30 to 11:45 without leave")
    d = day(3, 19)
    w.plan("K29", d, DayPlan(pm=False, visits="am", cards=False))
    a = w.checkin("K29", at(d, 14, 10), kind="field", point=w.around(CITY, 0.5))
    b = w.checkin("K29", at(d, 16, 40), kind="field", point=w.around(CITY, 0.5))
    w.checkin("K29", at(d, 18, 0))  # back in the evening: D1's afternoon slot holds
    w.expect("P3", "K29", d, [a, b], "in 阜阳市区 from 14:10 to 16:40 without leave")
    d = day(3, 26)
    w.plan("K52", d, DayPlan(am=False, visits="pm", cards=False))
    start = w.checkin("K52", at(d, 8, 5))
    a = w.checkin("K52", at(d, 9, 0), kind="field", point=w.around(w.home("K52"), 0.3))
    b = w.card("K52", at(d, 11, 55), 68, "县城百姓大药房", "5912", w.around(w.home("K52"), 0.3))
    w.expect("P3", "K52", d, [a, b], "three hours at home, far from the township")
    w.expect("P4", "K52", d, [a, b], "three hours at home in work time")
    w.miss("P3-speed", "K52", d, [start, a], "the drive home: some 55 km in 55 minutes")

    # P4: near home for more than an hour of work time
    d = day(3, 3)
    w.plan("K17", d, DayPlan(am=False, visits="pm", cards=False))
    w.checkin("K17", at(d, 8, 15))
    a = w.checkin("K17", at(d, 9, 30), kind="field", point=w.around(w.home("K17"), 0.3))
    b = w.card("K17", at(d, 11, 0), 35, "县城百姓大药房", "5912", w.around(w.home("K17"), 0.3))
    w.expect("P4", "K17", d, [a, b], "90 minutes at home in the morning")
    w.miss("P3", "K17", d, [a, b], "90 minutes away is not more than 120")
    d = day(2, 12)
    w.plan("K43", d, DayPlan(pm=False, visits="am", cards=False))
    a = w.checkin("K43", at(d, 14, 40), kind="field", point=w.around(w.home("K43"), 0.3))
    b = w.card("K43", at(d, 16, 10), 126, "县城华联超市", "5411", w.around(w.home("K43"), 0.3))
    w.checkin("K43", at(d, 17, 20))
    w.expect("P4", "K43", d, [a, b], "90 minutes at home in the afternoon")

    d = day(3, 24)
    w.plan("K10", d, DayPlan(am=False, visits="pm", cards=False))
    w.checkin("K10", at(d, 8, 10))
    a = w.checkin("K10", at(d, 9, 30), kind="field", point=w.around(CITY, 0.5))
    b = w.card("K10", at(d, 11, 0), 22, "阜阳市颍州区便利店", "5411", w.around(CITY, 0.5))
    w.miss("P3", "K10", d, [a, b], "a 90-minute errand in the city")
    d = day(3, 11)
    w.plan("K50", d, NONE_DAY)
    lv = w.leave("K50", at(d, 8, 30), at(d, 17, 30), "approved")
    a = w.card("K50", at(d, 10), 58, "阜阳市颍州区便利店", "5411", w.around(CITY, 0.5))
    b = w.card("K50", at(d, 15), 199, "阜阳市万达广场服装店", "5651", w.around(CITY, 0.5))
    w.miss("P3", "K50", d, [a, b], "in the city all day, on approved leave")
    w.miss("D1", "K50", d, [lv], "approved leave covers the empty day")
    d = day(3, 17)
    w.plan("K04", d, DayPlan(am=False, visits="pm", cards=False))
    lv = w.leave("K04", at(d, 8, 30), at(d, 12), "approved")
    a = w.checkin("K04", at(d, 9), kind="field", point=w.around(w.home("K04"), 0.3))
    b = w.card("K04", at(d, 11), 88, "县城百姓大药房", "5912", w.around(w.home("K04"), 0.3))
    w.miss("P4", "K04", d, [a, b], "at home on an approved morning leave")
    w.miss("D1", "K04", d, [lv], "approved morning leave covers the empty morning")
    d = day(3, 6)
    w.plan("K59", d, DayPlan(am=False, visits="pm", cards=False))
    w.checkin("K59", at(d, 8, 10))
    a = w.checkin("K59", at(d, 9, 40), kind="field", point=w.around(w.home("K59"), 0.3))
    b = w.card("K59", at(d, 10, 20), 40, "县城华联超市", "5411", w.around(w.home("K59"), 0.3))
    w.miss("P4", "K59", d, [a, b], "40 minutes near home is not more than 60")

    # P3-speed: two consecutive sightings too far apart for the minutes between them
    d = day(3, 9)
    w.plan("K58", d, DayPlan(am=False, visits="pm", cards=False))
    a = w.checkin("K58", at(d, 8, 40))
    b = w.card("K58", at(d, 8, 52), 200, "中石化阜阳颍州加油站", "5541", w.around(CITY, 0.5))
    assert _kmh(a, b) > 200
    w.expect(
        "P3-speed", "K58", d, [a, b], "checked in at the township, paid in the city 12 min later"
    )
    d = day(3, 23)
    w.plan("K49", d, DayPlan(visits="pm", cards=False))
    a = w.card("K49", at(d, 12, 10), 38, "阜阳市颍州区快餐店", "5812", w.around(CITY, 0.5))
    b = w.checkin("K49", at(d, 12, 25))
    assert _kmh(a, b) > 200
    w.expect(
        "P3-speed", "K49", d, [a, b], "paid in the city, checked in at the township 15 min later"
    )

    # P4-trip: approved trips to the cadre's own hometown
    for cid, town in (
        ("K21", "临泉县"),
        ("K36", "颍上县"),
        ("K39", "界首市"),
        ("K12", "阜南县"),
        ("K57", "太和县"),
    ):
        w.cadres[cid]["hometown"] = town
    d = day(3, 12)
    w.plan("K21", d, NONE_DAY)
    ta = w.add(
        "trip_approval",
        at(d, 7, 30),
        at(d, 19),
        cadre_ids=["K21"],
        destination="临泉县",
        purpose="招商对接",
        approved_by="D-COM",
    )
    a = w.checkin("K21", at(d, 10), kind="field", point=w.around(LINQUAN, 1))
    b = w.checkin("K21", at(d, 15, 30), kind="field", point=w.around(LINQUAN, 1))
    w.expect("P4-trip", "K21", d, [ta], "a trip approved to the cadre's hometown 临泉县")
    w.miss("P3", "K21", d, [a, b], "away all day, but on an approved trip")
    w.miss("D1", "K21", d, [ta], "the trip approval covers the day away")
    d = day(3, 25)
    w.plan("K36", d, NONE_DAY)
    w.plan("K39", d, NONE_DAY)
    ta = w.add(
        "trip_approval",
        at(d, 7, 30),
        at(d, 18, 30),
        cadre_ids=["K36", "K39"],
        destination="颍上县",
        purpose="学习考察",
        approved_by="D-AGR",
    )
    w.expect("P4-trip", "K36", d, [ta], "a study trip to 颍上县, K36's hometown")
    w.miss("P4-trip", "K39", d, [ta], "颍上县 is not K39's hometown")


def vehicles(w: World) -> None:
    """Grassroots cars: an enterprise's, the township's, three days running; and fine rides."""

    def trip(
        d: date,
        hh: int,
        mm: int,
        plate: str,
        riders: list[str],
        km: float,
        purpose: str,
        dest: str,
        **extra: Any,
    ) -> Event:
        return w.add(
            "vehicle_trip",
            at(d, hh, mm),
            at(d, hh, mm + 40),
            plate=plate,
            passenger_ids=riders,
            driver_id="DRV-" + plate[-5:],
            km=km,
            purpose=purpose,
            destination=dest,
            **extra,
        )

    d = day(3, 7)
    end = w.around(w.home("K18"), 0.5)
    t = trip(d, 19, 10, "皖K-E0401", ["K18"], 38, "返城", "县城", end_lat=end[0], end_lon=end[1])
    w.expect("P2", "K18", d, [t], "an enterprise's car home on a Saturday evening")
    d = day(3, 10)
    w.plan("K27", d, DayPlan())
    t = trip(d, 9, 0, "皖K-T0601", ["K27"], 12, "走访", w.units["V0601"]["name"])
    w.expect("P2", "K27", d, [t], "the township's car for the cadre's own errand")
    d = day(3, 17)
    w.plan("K39", d, DayPlan())
    t = trip(d, 10, 0, "皖K-T0801", ["K39"], 9, "走访", "村部", requesting_unit_id="T08")
    w.expect("P2", "K39", d, [t], "requested by the township, but no township staff aboard")

    for riders, plate, first, hh in (
        (["K44"], "皖K-V0901", day(3, 3), 16),
        (["K53", "K54"], "皖K-E1101", day(2, 24), 15),
    ):
        trips = []
        for k in range(3):
            d = first + timedelta(days=k)
            trips.append(trip(d, hh, 0, plate, riders, 7, "下村", "村部"))
            for cid in riders:
                w.plan(cid, d, DayPlan())
                w.expect("P2", cid, d, [trips[-1]], f"a grassroots car ({plate}), day {k + 1} of 3")
        for cid in riders:
            w.expect(
                "P2-streak",
                cid,
                first,
                list(trips),
                f"grassroots cars ({plate}) three days running",
            )
    trips = []
    for k in range(3):
        d = day(3, 23) + timedelta(days=k)
        w.plan("K20", d, DayPlan())
        trips.append(
            trip(
                d,
                10,
                0,
                "皖K-T0401",
                ["K20", "S0403"],
                6,
                "陪同走访",
                "村部",
                requesting_unit_id="T04",
            )
        )
    w.miss(
        "P2-streak",
        "K20",
        day(3, 23),
        trips,
        "three days of township-requested trips, its staff aboard",
    )
    w.miss("P2", "K20", None, trips, "township-requested trips with township staff aboard")
