"""Ingest: read events, validate them, dedupe them, and account for every one.

>>> ing = Ingestor("Asia/Shanghai")
>>> ev = ing.accept({"type": "checkin", "id": "k1", "time": "2026-03-10T08:12", "cadre_id": "C1"})
>>> ev["time"].isoformat(), ing.stats.valid
('2026-03-10T08:12:00+08:00', 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from fourin_rules.ingest.ledger import IngestStats, Ledger, QuarantineRecord, write_quarantine
from fourin_rules.ingest.readers import RawRow, iter_raw
from fourin_rules.ingest.validate import EventValidator, Rejection
from fourin_rules.model.events import EVENT_MODELS, BaseEvent

__all__ = [
    "EventValidator",
    "IngestResult",
    "IngestStats",
    "Ingestor",
    "Ledger",
    "QuarantineRecord",
    "RawRow",
    "Rejection",
    "iter_raw",
    "read_events",
    "write_quarantine",
]


class Ingestor:
    """Validates and dedupes events from files or pushed dicts, keeping counts and quarantine.

    Bad rows are recorded, never raised; only an unreadable file raises ``input-file``.
    """

    def __init__(
        self, tz: ZoneInfo | str, models: Mapping[str, type[BaseEvent]] = EVENT_MODELS
    ) -> None:
        self.validator = EventValidator(tz, models)
        self.models = models
        self.ledger = Ledger()

    @property
    def tz(self) -> ZoneInfo:
        return self.validator.tz

    @property
    def stats(self) -> IngestStats:
        """Counts so far (read == valid + duplicate + conflict + late + quarantined)."""
        return self.ledger.stats

    @property
    def quarantine(self) -> list[QuarantineRecord]:
        """Refused rows and conflicts, in the order they were read."""
        return self.ledger.quarantine

    @property
    def late(self) -> list[QuarantineRecord]:
        """Events the engine marked late."""
        return self.ledger.late

    def accept(
        self, data: Any, file: str = "<push>", line: int = 0, raw: str | None = None
    ) -> dict[str, Any] | None:
        """Validate and dedupe one event; return it as a dict when valid and new, else None."""
        if type(data) is not dict and not isinstance(data, Mapping):
            self.ledger.reject(file, line, None, "not a JSON object", raw or _text(data))
            return None
        result = self.validator.validate(data)
        if isinstance(result, Rejection):
            self.ledger.reject(file, line, result.field, result.reason, raw or _text(data))
            return None
        return result if self.ledger.admit(result, file, line, raw) else None

    def read_files(self, paths: str | Path | Iterable[str | Path]) -> Iterator[dict[str, Any]]:
        """Yield the valid new events of each file in turn (``.jsonl``, ``.ndjson``, ``.csv``,
        optionally ``.gz``).

        Raises:
            FourinError: ``input-file`` when a file cannot be opened or has an unknown type.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        for path in paths:
            for row in iter_raw(path, self.models):
                if row.data is None:
                    self.ledger.reject(row.file, row.line, row.field, row.error or "", row.raw)
                    continue
                event = self.accept(row.data, row.file, row.line, row.raw)
                if event is not None:
                    yield event

    def mark_late(self, event: dict[str, Any], reason: str | None = None) -> None:
        """Count an accepted event as late (the engine decides lateness)."""
        self.ledger.mark_late(event, reason)


@dataclass
class IngestResult:
    """Everything :func:`read_events` read: the events, the counts and the quarantine."""

    events: list[dict[str, Any]]
    stats: IngestStats
    quarantine: list[QuarantineRecord]


def read_events(
    paths: str | Path | Iterable[str | Path],
    tz: ZoneInfo | str = "Asia/Shanghai",
    models: Mapping[str, type[BaseEvent]] = EVENT_MODELS,
) -> IngestResult:
    """Read, validate and dedupe events from files into memory."""
    ingestor = Ingestor(tz, models)
    events = list(ingestor.read_files(paths))
    return IngestResult(events, ingestor.stats, ingestor.quarantine)


def _text(data: Any) -> str:
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()
    except TypeError:  # not JSON (or nested past orjson's limit)
        try:
            return repr(data)
        except RecursionError:
            return f"<a {type(data).__name__} nested too deeply to show>"
