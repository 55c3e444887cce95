"""Fewer garbage collections during a bulk run.

A bulk run makes millions of short-lived objects that hold no cycles (rows, entries, findings).
With CPython's default thresholds the collector runs a full collection every few hundred
thousand of them and walks everything alive each time: about 3 of 19 seconds of a 1M-event
run on the columnar backend (docs/performance.md). For the length of the run the thresholds
are raised, and put back after, so the collector still runs, but rarely.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Thresholds during a bulk run: a young collection every 20,000 allocations, the older
#: generations after 50 of the one below (CPython 3.11 and 3.12 default to 700, 10 and 10).
BULK_THRESHOLDS = (20_000, 50, 50)


@contextmanager
def bulk_collections() -> Iterator[None]:
    """Raise the collector's thresholds for the block (process-wide; restored on exit)."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
