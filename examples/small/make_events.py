"""Write examples/small/events.jsonl: two weeks of a small county, deterministic.

Three dispatched cadres check in morning and afternoon on duty days; a handful of planted
violations (an empty post, an enterprise car, a KTV bill, free canteen meals, a broken promise)
and near-misses (approved leave, a township-requested trip, a paid meal) sit among them, plus
three malformed rows so that the run shows its quarantine. Run: python examples/small/make_events.py
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

OUT = Path(__file__).with_name("events.jsonl")
CADRES = {
    "K01": ("T01", 33.2000, 115.7000),
    "K02": ("T01", 33.2000, 115.7000),
    "K03": ("T02", 33.3000, 115.9000),
}


def ts(d: date, hh: int, mm: int) -> str:
    return f"{d.isoformat()}T{hh:02d}:{mm:02d}:00+08:00"


def main() -> None:
    rng = random.Random(2026)
    events: list[dict] = []
    first = date(2026, 3, 2)
    days = [first + timedelta(days=i) for i in range(14)]
    for d in days:
        if not chinese_calendar.is_workday(d):
            continue
        for cadre, (township, lat, lon) in CADRES.items():
            if cadre == "K02" and d == date(2026, 3, 4):
                continue  # planted: an empty post (D1)
            if cadre == "K03" and d == date(2026, 3, 5):
                # near-miss: approved sick leave covers the day
                events.append(
                    {
                        "type": "leave",
                        "id": f"lv-{cadre}-{d}",
                        "time": ts(d, 8, 30),
                        "end": ts(d, 17, 30),
                        "cadre_id": cadre,
                        "leave_type": "sick",
                        "status": "approved",
                        "approver_unit_id": township,
                    }
                )
                continue
            for half, (hh, mm) in (
                ("am", (8, rng.randint(10, 50))),
                ("pm", (14, rng.randint(5, 55))),
            ):
                events.append(
                    {
                        "type": "checkin",
                        "id": f"ck-{cadre}-{d}-{half}",
                        "time": ts(d, hh, mm),
                        "cadre_id": cadre,
                        "lat": round(lat + rng.uniform(-0.005, 0.005), 5),
                        "lon": round(lon + rng.uniform(-0.005, 0.005), 5),
                        "kind": "in",
                        "method": "gps",
                    }
                )
    events += [
        # P2: an enterprise car on a Saturday evening (high), and a township-requested trip (fine)
        {
            "type": "vehicle_trip",
            "id": "trip-1",
            "time": ts(date(2026, 3, 7), 19, 10),
            "end": ts(date(2026, 3, 7), 19, 50),
            "plate": "皖K-E0001",
            "passenger_ids": ["K03"],
            "driver_id": "E01-D1",
            "km": 18,
            "destination": "县城",
        },
        {
            "type": "vehicle_trip",
            "id": "trip-2",
            "time": ts(date(2026, 3, 10), 9, 0),
            "end": ts(date(2026, 3, 10), 10, 0),
            "plate": "皖K-T0101",
            "passenger_ids": ["K01", "S02"],
            "requesting_unit_id": "T01",
            "km": 9,
            "destination": "东湖村",
        },
        # P8: a KTV bill that was claimed (high) and a supermarket (fine)
        {
            "type": "card_txn",
            "id": "card-1",
            "time": ts(date(2026, 3, 6), 21, 30),
            "cadre_id": "K01",
            "amount_cny": 860,
            "merchant_name": "金色年华KTV",
            "mcc": "7911",
            "reimbursed_claim_id": "R-0306",
        },
        {
            "type": "card_txn",
            "id": "card-2",
            "time": ts(date(2026, 3, 6), 12, 10),
            "cadre_id": "K02",
            "amount_cny": 45.5,
            "merchant_name": "联华超市",
            "mcc": "5411",
        },
        # A3: a promise without the department's confirmation, never closed
        {
            "type": "commitment",
            "id": "promise-1",
            "time": ts(date(2026, 3, 3), 10, 0),
            "cadre_id": "K02",
            "target_id": "V01",
            "text": "两周内修通东湖村道",
            "due": ts(date(2026, 3, 10), 0, 0),
            "status": "open",
            "dept_confirmed": False,
        },
    ]
    # P6: four free canteen lunches for K01 in March, one paid lunch for K02
    for i, d in enumerate(
        [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 9), date(2026, 3, 11)]
    ):
        events.append(
            {
                "type": "canteen_meal",
                "id": f"meal-{i}",
                "time": ts(d, 12, 5),
                "cadre_id": "K01",
                "meal": "lunch",
                "paid_cny": 0,
            }
        )
    events.append(
        {
            "type": "canteen_meal",
            "id": "meal-paid",
            "time": ts(date(2026, 3, 3), 12, 5),
            "cadre_id": "K02",
            "meal": "lunch",
            "paid_cny": 12,
        }
    )
    events.sort(key=lambda e: (e["time"], e["type"], e["id"]))
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    # Malformed rows: they are quarantined with file, line and reason, and the run goes on.
    lines.insert(
        5, '{"type": "checkin", "id": "bad-1", "time": "2026-03-02T25:00:00", "cadre_id": "K01"}'
    )
    lines.insert(
        9,
        '{"type": "card_txn", "id": "bad-2", "time": "2026-03-02T10:00:00+08:00", '
        '"cadre_id": "K01", "amount_cny": "lots"}',
    )
    lines.insert(12, '{"type": "chekin", "id": "bad-3", "time": "2026-03-02T10:00:00+08:00"')
    lines.append(lines[0])  # an exact duplicate: counted, changes nothing
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {OUT}")


if __name__ == "__main__":
    main()
