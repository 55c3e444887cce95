"""fourin-rules benchmark: throughput against a parse-only baseline, and streaming memory.

    python benchmarks/run.py --events 1000000            # batch: baseline vs full pipeline
    python benchmarks/run.py --stream --events 10000000  # streaming: RSS at 1M, 5M, 10M
    python benchmarks/run.py --events 200000 --backend python --profile

The stream is synthetic but realistic (benchmarks/stream.py): ~1,000 cadres over a year, every
event type, violations at a realistic rate; deterministic for a seed. Figures are printed, never
asserted: targets are checked by reading them (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import stream

EVENTS_PER_CADRE_YEAR = 850  # a little under what stream.events makes per cadre-year


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def prepare(n_events: int, workdir: Path, seed: int) -> tuple[Path, Path, int]:
    """Write (or reuse) the reference and an events file of about ``n_events`` lines."""
    cadres = max(10, math.ceil(n_events / EVENTS_PER_CADRE_YEAR))
    workdir.mkdir(parents=True, exist_ok=True)
    ref = workdir / f"reference-{cadres}-{seed}.json"
    events = workdir / f"events-{n_events}-{cadres}-{seed}.jsonl"  # the reference it fits
    if not ref.exists():
        ref.write_text(
            json.dumps(stream.reference(cadres, seed), ensure_ascii=False), encoding="utf-8"
        )
    if not events.exists():
        written = 0
        with events.open("wb") as fh:
            for event in stream.events(cadres, days=365, seed=seed):
                fh.write(orjson.dumps(event) + b"\n")
                written += 1
                if written >= n_events:
                    break
    with events.open("rb") as fh:
        count = sum(1 for _ in fh)
    return ref, events, count


def parse_baseline(path: Path) -> tuple[str, float]:
    """Decode every line with the fastest decoder available; returns (decoder, seconds)."""
    try:
        import msgspec

        decode, name = msgspec.json.Decoder().decode, "msgspec"
    except ImportError:
        decode, name = orjson.loads, "orjson"
    start = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            decode(line)
    return name, time.perf_counter() - start


def batch(args: argparse.Namespace) -> None:
    from fourin_rules.engine import Engine
    from fourin_rules.reports.flat import write_findings

    ref, events, n = prepare(args.events, Path(args.workdir), args.seed)
    print(f"events file: {events} ({n:,} events, {events.stat().st_size / 1e6:.0f} MB)")
    decoder, parse_s = parse_baseline(events)
    print(f"parse-only baseline ({decoder}): {n / parse_s:,.0f} events/s ({parse_s:.1f} s)")
    gc.collect()
    start = time.perf_counter()
    engine = Engine(None, ref, backend=args.backend)
    compile_s = time.perf_counter() - start
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    result = engine.run_files([events])
    out = Path(args.workdir) / "findings.jsonl"
    write_findings(result.findings, out, "jsonl")
    full_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    rate = n / full_s
    print(
        f"full pipeline ({args.backend}, {len(engine.plan.rules)} rules): {rate:,.0f} events/s "
        f"({full_s:.1f} s, {cpu_s:.1f} CPU-s on {os.cpu_count()} cores; packs compiled in "
        f"{compile_s:.1f} s)"
    )
    # The machine's speed drifts: the baseline again, right after, shows by how much.
    _, after_s = parse_baseline(events)
    print(f"parse-only baseline again, after: {n / after_s:,.0f} events/s ({after_s:.1f} s)")
    print(
        f"ratio full / parse-only: {rate / (n / parse_s):.3f} (against the baseline after: "
        f"{rate / (n / after_s):.3f})"
    )
    s = result.stats
    print(
        f"findings: {len(result.findings):,}; read {s.read:,} valid {s.valid:,} "
        f"quarantined {s.quarantined:,}; rule errors {len(result.errors)}"
    )
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")


def streaming(args: argparse.Namespace) -> None:
    from fourin_rules.engine import Engine

    cadres = max(10, math.ceil(args.events / EVENTS_PER_CADRE_YEAR))
    engine = Engine(None, stream.reference(cadres, args.seed), backend=args.backend)
    session = engine.session(lateness=args.lateness, keep_findings=False)
    print(f"engine ready: RSS {rss_mb():,.0f} MB")
    marks = {1_000_000, 5_000_000, 10_000_000, args.events}
    findings = 0
    start = time.perf_counter()
    print(
        f"streaming {args.events:,} events of {cadres:,} cadres through session() ({args.backend})"
    )
    for n, event in enumerate(stream.events(cadres, days=365, seed=args.seed), start=1):
        findings += len(session.push(event))
        if n in marks or n % 1_000_000 == 0:
            elapsed = time.perf_counter() - start
            print(
                f"  {n:>11,} events: RSS {rss_mb():,.0f} MB, peak {peak_rss_mb():,.0f} MB, "
                f"{n / elapsed:,.0f} events/s, findings {findings:,}",
                flush=True,
            )
        if n >= args.events:
            break
    findings += len(session.close())
    print(
        f"closed: findings {findings:,}; late {session.stats.late:,}; "
        f"peak RSS {peak_rss_mb():,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--backend", default="durable", choices=["durable", "python", "duckdb", "spark"]
    )
    parser.add_argument("--stream", action="store_true", help="streaming mode (memory over time)")
    parser.add_argument("--lateness", default="6h", help="streaming watermark lateness")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default="/tmp/fourin-bench")
    parser.add_argument("--profile", action="store_true", help="cProfile the full pipeline")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    streaming(args) if args.stream else batch(args)


if __name__ == "__main__":
    main()
