"""A deterministic, realistic synthetic stream for benchmarks: N cadres over a year.

Every event type of the contract appears; most cadres behave (two check-ins in their township on
duty days, visits, paid meals); violations come at a realistic rate (empty posts, grassroots
cars, entertainment bills, free meals, late promises, alcohol at lunch ...). Events are produced
day by day in time order, so a stream of any length needs no memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import chinese_calendar

TOWNSHIP_EVERY = 5  # cadres per township (one work group each)
KINDS = ("village", "community", "enterprise", "project")


def reference(n_cadres: int, seed: int = 7) -> dict[str, Any]:
    """Reference data for ``n_cadres`` dispatched cadres, ``n_cadres / 5`` townships."""
    rng = random.Random(seed)
    n_towns = max(1, n_cadres // TOWNSHIP_EVERY)
    units, groups, staff, vehicles, cadres, assignments = [], [], [], [], [], []
    for d in range(10):
        units.append(
            {
                "unit_id": f"D{d:02d}",
                "name": f"县直部门{d}",
                "kind": "county_dept",
                "grassroots": False,
            }
        )
        vehicles.append({"plate": f"皖K-D{d:04d}", "owner_unit_id": f"D{d:02d}"})
    for t in range(n_towns):
        tid = f"T{t:04d}"
        lat, lon = 32.0 + (t // 40) * 0.12, 115.0 + (t % 40) * 0.12
        units.append(
            {
                "unit_id": tid,
                "name": f"第{t}镇",
                "kind": "township",
                "grassroots": True,
                "township_id": tid,
                "lat": lat,
                "lon": lon,
                "radius_m": 3000,
            }
        )
        targets = []
        for k, kind in enumerate(KINDS):
            uid = f"{tid}-{kind[0].upper()}{k}"
            units.append(
                {
                    "unit_id": uid,
                    "name": f"{tid}{kind}",
                    "kind": kind,
                    "grassroots": True,
                    "township_id": tid,
                    "lat": lat + 0.01 * (k + 1),
                    "lon": lon,
                    "radius_m": 500,
                }
            )
            targets.append({"target_id": uid, "kind": kind})
        groups.append(
            {
                "group_id": f"G{t:04d}",
                "name": f"第{t}工作组",
                "leader_id": f"C{t * TOWNSHIP_EVERY:05d}",
                "targets": targets,
            }
        )
        staff.append({"staff_id": f"S{t:04d}L", "name": "镇长", "unit_id": tid, "leader": True})
        staff.append({"staff_id": f"S{t:04d}A", "name": "干事", "unit_id": tid, "leader": False})
        vehicles.append({"plate": f"皖K-T{t:04d}", "owner_unit_id": tid})
    for c in range(n_cadres):
        t = c // TOWNSHIP_EVERY % n_towns
        cadres.append(
            {
                "cadre_id": f"C{c:05d}",
                "name": f"干部{c}",
                "home_unit_id": f"D{c % 10:02d}",
                "rank": "科员",
                "home_lat": 31.5,
                "home_lon": 114.5 + rng.random(),
                "hometown": "某县",
            }
        )
        assignments.append(
            {
                "cadre_id": f"C{c:05d}",
                "group_id": f"G{t:04d}",
                "township_id": f"T{t:04d}",
                "start": "2026-01-01",
                "end": "2026-12-31",
            }
        )
    return {
        "timezone": "Asia/Shanghai",
        "cadres": cadres,
        "assignments": assignments,
        "groups": groups,
        "units": units,
        "staff": staff,
        "vehicles": vehicles,
    }


def _ts(d: date, minute: int) -> str:
    return f"{d.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00+08:00"


def events(
    n_cadres: int, days: int = 365, seed: int = 7, start: date = date(2026, 1, 1)
) -> Iterator[dict[str, Any]]:
    """The stream, in time order within each day; about 3 events per cadre per calendar day."""
    rng = random.Random(seed)
    n_towns = max(1, n_cadres // TOWNSHIP_EVERY)
    seq = 0
    for i in range(days):
        d = start + timedelta(days=i % 365)
        if d.year != 2026:
            d = d.replace(year=2026)
        duty = chinese_calendar.is_workday(d)
        day: list[tuple[int, dict[str, Any]]] = []
        for c in range(n_cadres):
            cid = f"C{c:05d}"
            t = c // TOWNSHIP_EVERY % n_towns
            tid = f"T{t:04d}"
            lat, lon = 32.0 + (t // 40) * 0.12, 115.0 + (t % 40) * 0.12
            seq += 1
            if duty and rng.random() > 0.004:  # 0.4 %: an empty post
                for half, lo, hi in (("am", 490, 700), ("pm", 840, 1040)):
                    m = rng.randint(lo, hi)
                    day.append(
                        (
                            m,
                            {
                                "type": "checkin",
                                "id": f"k{seq}{half}",
                                "time": _ts(d, m),
                                "cadre_id": cid,
                                "lat": round(lat + rng.uniform(-0.01, 0.01), 5),
                                "lon": round(lon + rng.uniform(-0.01, 0.01), 5),
                                "method": "gps",
                            },
                        )
                    )
            if duty and rng.random() < 0.5:
                m = rng.randint(540, 960)
                kind = KINDS[rng.randrange(4)]
                day.append(
                    (
                        m,
                        {
                            "type": "visit",
                            "id": f"v{seq}",
                            "time": _ts(d, m),
                            "end": _ts(d, m + rng.randint(30, 90)),
                            "cadre_id": cid,
                            "group_id": f"G{t:04d}",
                            "target_id": f"{tid}-{kind[0].upper()}{KINDS.index(kind)}",
                            "target_kind": kind,
                            "photos_n": rng.randint(0, 4),
                            "accompanying_staff_n": rng.randint(0, 1),
                        },
                    )
                )
            r = rng.random()
            if r < 0.25:
                m = rng.randint(1080, 1260)
                bad = rng.random() < 0.01
                day.append(
                    (
                        m,
                        {
                            "type": "card_txn",
                            "id": f"x{seq}",
                            "time": _ts(d, m),
                            "cadre_id": cid,
                            "amount_cny": round(rng.uniform(10, 300), 2),
                            "merchant_name": "金色KTV" if bad else "超市",
                            "mcc": "7911" if bad else "5411",
                        },
                    )
                )
            elif r < 0.45 and duty:
                day.append(
                    (
                        720,
                        {
                            "type": "canteen_meal",
                            "id": f"m{seq}",
                            "time": _ts(d, 720),
                            "cadre_id": cid,
                            "meal": "lunch",
                            "paid_cny": 0 if rng.random() < 0.05 else 12,
                        },
                    )
                )
            elif r < 0.47:
                m = rng.randint(480, 1000)
                own = rng.random() < 0.1
                day.append(
                    (
                        m,
                        {
                            "type": "vehicle_trip",
                            "id": f"t{seq}",
                            "time": _ts(d, m),
                            "end": _ts(d, m + 40),
                            "plate": f"皖K-T{t:04d}" if own else f"皖K-D{c % 10:04d}",
                            "passenger_ids": [cid],
                            "km": rng.randint(3, 40),
                            "destination": "县城",
                        },
                    )
                )
            elif r < 0.475:
                day.append(
                    (
                        900,
                        {
                            "type": "leave",
                            "id": f"l{seq}",
                            "time": _ts(d, 510),
                            "end": _ts(d, 1050),
                            "cadre_id": cid,
                            "leave_type": "personal",
                            "status": "approved",
                        },
                    )
                )
            elif r < 0.48:
                m = rng.randint(690, 800)
                day.append(
                    (
                        m,
                        {
                            "type": "reception",
                            "id": f"r{seq}",
                            "time": _ts(d, m),
                            "host_unit_id": f"D{c % 10:02d}",
                            "guest_ids": [cid],
                            "guests_n": 1,
                            "companion_n": 2,
                            "venue": "食堂",
                            "amount_cny": 80,
                            "letter_id": f"L{seq}",
                            "alcohol": rng.random() < 0.1,
                        },
                    )
                )
            elif r < 0.483:
                day.append(
                    (
                        600,
                        {
                            "type": "reimbursement",
                            "id": f"b{seq}",
                            "time": _ts(d, 600),
                            "cadre_id": cid,
                            "paying_unit_id": f"D{c % 10:02d}",
                            "category": "lodging",
                            "amount_cny": rng.choice([600, 700, 800]),
                            "nights": 2,
                            "beneficiary_ids": [cid],
                        },
                    )
                )
            elif r < 0.485:
                day.append(
                    (
                        610,
                        {
                            "type": "commitment",
                            "id": f"p{seq}",
                            "time": _ts(d, 610),
                            "cadre_id": cid,
                            "target_id": f"{tid}-V0",
                            "text": "修路",
                            "due": _ts(d + timedelta(days=10), 0),
                            "status": "open",
                            "dept_confirmed": rng.random() < 0.7,
                        },
                    )
                )
            elif r < 0.487:
                day.append(
                    (
                        620,
                        {
                            "type": "rating",
                            "id": f"g{seq}",
                            "time": _ts(d, 620),
                            "rater_unit_id": tid,
                            "cadre_id": cid,
                            "dimension": "conduct",
                            "score": rng.randint(2, 5),
                        },
                    )
                )
            elif r < 0.488:
                day.append(
                    (
                        630,
                        {
                            "type": "complaint",
                            "id": f"q{seq}",
                            "time": _ts(d, 630),
                            "subject_cadre_ids": [cid],
                            "complainant_id": f"P{rng.randint(1, 50)}",
                            "category": rng.choice(["interference", "arrogance", "other"]),
                            "verified": rng.choice(["unverified", "substantiated", "unfounded"]),
                        },
                    )
                )
            elif r < 0.489:
                day.append(
                    (
                        640,
                        {
                            "type": "gift",
                            "id": f"h{seq}",
                            "time": _ts(d, 640),
                            "cadre_id": cid,
                            "giver_unit_id": f"{tid}-E2",
                            "value_cny": 100,
                            "item": "茶叶",
                            "returned": rng.random() < 0.9,
                        },
                    )
                )
        if duty:
            for t in range(0, n_towns, 7):
                seq += 1
                tid = f"T{t:04d}"
                day.append(
                    (
                        560,
                        {
                            "type": "data_request",
                            "id": f"d{seq}",
                            "time": _ts(d, 560),
                            "issuer_id": f"G{t:04d}",
                            "recipient_unit_ids": [tid],
                            "due": _ts(d + timedelta(days=3), 1020),
                            "topic": "统计",
                            "fields": [f"f{seq}a", f"f{seq}b"],
                        },
                    )
                )
                day.append(
                    (
                        900,
                        {
                            "type": "meeting",
                            "id": f"n{seq}",
                            "time": _ts(d, 900),
                            "end": _ts(d, 960),
                            "organizer_id": f"G{t:04d}",
                            "chaired_by": f"S{t:04d}L",
                            "attendee_ids": [f"S{t:04d}L"],
                            "township_id": tid,
                            "decision": False,
                            "topic": "调度",
                        },
                    )
                )
                day.append(
                    (
                        930,
                        {
                            "type": "publicity",
                            "id": f"u{seq}",
                            "time": _ts(d, 930),
                            "group_id": f"G{t:04d}",
                            "kind": "article",
                            "cost_cny": 0,
                        },
                    )
                )
                day.append(
                    (
                        940,
                        {
                            "type": "township_task",
                            "id": f"w{seq}",
                            "time": _ts(d, 940),
                            "township_id": tid,
                            "topic": "环境整治",
                            "topic_kind": "other",
                            "role_holders": [
                                {"cadre_id": f"C{t * TOWNSHIP_EVERY:05d}", "role": "assist"}
                            ],
                        },
                    )
                )
                day.append(
                    (
                        950,
                        {
                            "type": "trip_approval",
                            "id": f"a{seq}",
                            "time": _ts(d, 950),
                            "end": _ts(d, 1300),
                            "cadre_ids": [f"C{t * TOWNSHIP_EVERY + 1:05d}"],
                            "destination": "市里",
                            "purpose": "开会",
                        },
                    )
                )
        day.sort(key=lambda x: x[0])
        for _, e in day:
            yield e
