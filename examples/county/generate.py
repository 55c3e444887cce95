"""Generate examples/county: a county of 12 townships and 60 dispatched cadres over February and
March 2026, with planted violations of every bundled rule, near-misses, and the ground truth.

Run: python examples/county/generate.py [--seed 2026] [--out examples/county]

Writes reference.yaml, events.jsonl, ground_truth.jsonl (one line per expected finding) and
near_misses.jsonl (events that must not trigger a given rule). The county is built in world.py,
its ordinary days in ordinary.py, the planted scenarios in plants/. check.py runs the bundled
packs over the result and scores the findings against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import plants
from ordinary import ordinary
from world import Event, World

PREFIX = {
    "checkin": "ck",
    "leave": "lv",
    "trip_approval": "ta",
    "vehicle_trip": "vt",
    "card_txn": "cx",
    "reimbursement": "rb",
    "reception": "rc",
    "canteen_meal": "ml",
    "visit": "vs",
    "publicity": "pb",
    "data_request": "dr",
    "meeting": "mt",
    "township_task": "tt",
    "commitment": "cm",
    "complaint": "cp",
    "rating": "rt",
    "gift": "gf",
}
PLAIN = re.compile(r"^([A-Za-z\u4e00-\u9fff][\w\u4e00-\u9fff\-]*|\d{4}-\d{2}-\d{2})$")


def build(seed: int) -> World:
    """The county with its planted scenarios and its ordinary two months."""
    w = World(seed)
    plants.plan(w)
    ordinary(w)
    plants.emit(w)
    return w


def _yaml(v: Any) -> str:
    """A value as YAML flow text: plain where that is safe, JSON-quoted otherwise."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        plain = PLAIN.match(v) and v not in ("true", "false", "null")
        return v if plain else json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    return "{" + ", ".join(f"{k}: {_yaml(x)}" for k, x in v.items()) + "}"


def _json(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def _ids(events: list[Event]) -> list[str]:
    return sorted(e["id"] for e in events)


def write_all(w: World, out: Path) -> None:
    """Number the events in time order and write the four files."""
    w.events.sort(key=lambda e: (e["time"], e["type"]))  # stable: generation order breaks ties
    counters: dict[str, int] = {}
    for e in w.events:
        counters[e["type"]] = counters.get(e["type"], 0) + 1
        e["id"] = f"{PREFIX[e['type']]}-{counters[e['type']]:05d}"
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# examples/county, written by generate.py: 12 townships with their villages,",
        "# communities, enterprises and projects; 10 county departments; 12 work groups",
        "# of 5 dispatched cadres; township and village staff; vehicles.",
        f"timezone: {w.ref['timezone']}",
    ]
    for section in ("cadres", "assignments", "groups", "units", "staff", "vehicles"):
        lines += [f"{section}:"] + [f"  - {_yaml(row)}" for row in w.ref[section]]
    (out / "reference.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (out / "events.jsonl").open("w", encoding="utf-8") as f:
        for e in w.events:
            f.write(json.dumps({k: _json(v) for k, v in e.items()}, ensure_ascii=False) + "\n")
    rows = []
    for t in w.truth:
        start: date = t.start(w.events) if callable(t.start) else t.start
        row: dict[str, Any] = {
            "rule_id": t.rule_id,
            "subject_kind": t.subject_kind,
            "subject_id": t.subject_id,
            "window_start": start.isoformat(),
        }
        if t.evidence is not None:
            row["evidence"] = _ids(t.evidence(w.events) if callable(t.evidence) else t.evidence)
        rows.append({**row, "note": t.note})
    rows.sort(key=lambda r: (r["rule_id"], r["subject_id"], r["window_start"]))
    with (out / "ground_truth.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with (out / "near_misses.jsonl").open("w", encoding="utf-8") as f:
        for n in sorted(w.near, key=lambda n: n.rule_id):
            found = n.events(w.events) if callable(n.events) else n.events
            row = {
                "rule_id": n.rule_id,
                "subject_id": n.subject_id,
                "date": n.day.isoformat() if n.day else None,
                "event_ids": _ids(found),
                "reason": n.reason,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    w = build(args.seed)
    write_all(w, args.out)
    print(f"{len(w.events)} events, {len(w.truth)} expected findings, {len(w.near)} near-misses")


if __name__ == "__main__":
    main()
