"""Account for every event read: valid, duplicate, conflict, late or quarantined.

``(type, id)`` identifies an event. Re-sending identical content is a duplicate and changes
nothing; the same key with different content is a conflict: the first stands and the later one is
quarantined (counted as ``conflict``, not as ``quarantined``).
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["IngestStats", "Ledger", "QuarantineRecord", "event_digest", "write_quarantine"]

_HASH_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


@dataclass(slots=True)
class IngestStats:
    """Counts of events by outcome; ``read`` is always the sum of the others."""

    read: int = 0
    valid: int = 0
    duplicate: int = 0
    conflict: int = 0
    late: int = 0
    quarantined: int = 0

    def check(self) -> None:
        """Raise AssertionError unless read == valid + duplicate + conflict + late + quarantined."""
        total = self.valid + self.duplicate + self.conflict + self.late + self.quarantined
        if self.read != total:
            raise AssertionError(f"ingest counts do not add up: read {self.read} != {total}")

    def to_dict(self) -> dict[str, int]:
        """The counts as a dict, in a fixed order."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A refused event: where it was (file, 1-based line), the field to blame, why, and its text."""

    file: str
    line: int
    field: str | None
    reason: str
    raw: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def event_digest(event: dict[str, Any]) -> bytes:
    """A stable hash of a validated event's content (key order does not matter)."""
    # Datetimes serialise as ISO-8601 with offset; they are all in one zone after validation.
    try:
        blob = orjson.dumps(event, option=_HASH_OPTIONS, default=repr)
    except TypeError:  # an int beyond 64 bits (pushed from Python): the slow, general way
        blob = json.dumps(event, sort_keys=True, default=_plain, ensure_ascii=False).encode()
    return hashlib.blake2b(blob, digest_size=16).digest()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


@dataclass(slots=True)
class _Seen:
    digest: bytes
    file: str
    line: int


@dataclass
class Ledger:
    """Dedupes validated events on ``(type, id)`` and keeps the counts and the quarantine."""

    stats: IngestStats = field(default_factory=IngestStats)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    late: list[QuarantineRecord] = field(default_factory=list)
    _seen: dict[tuple[str, str], _Seen] = field(default_factory=dict, repr=False)
    _late_keys: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _by_time: list[tuple[Any, tuple[str, str]]] = field(default_factory=list, repr=False)

    def forget_before(self, t: Any) -> int:
        """Forget the identity of events older than ``t`` (a streaming session's memory stays
        bounded). An old event sent again is then not a duplicate but late: the engine has
        passed its time. Returns how many were forgotten."""
        n = 0
        while self._by_time and self._by_time[0][0] < t:
            _, key = heapq.heappop(self._by_time)
            if self._seen.pop(key, None) is not None:
                n += 1
            self._late_keys.discard(key)
        return n

    def reject(self, file: str, line: int, field_name: str | None, reason: str, raw: str) -> None:
        """Count a row that could not be read or validated, and quarantine it."""
        self.stats.read += 1
        self.stats.quarantined += 1
        self.quarantine.append(QuarantineRecord(file, line, field_name, reason, raw))

    def admit(self, event: dict[str, Any], file: str, line: int, raw: str | None = None) -> bool:
        """Count a validated event; True when it is new, False for a duplicate or a conflict.

        ``raw`` is the text kept for a conflict's quarantine record (the event itself if None).
        """
        self.stats.read += 1
        key = (event["type"], event["id"])
        digest = event_digest(event)
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = _Seen(digest, file, line)
            heapq.heappush(self._by_time, (event["time"], key))
            self.stats.valid += 1
            return True
        if seen.digest == digest:
            self.stats.duplicate += 1
            return False
        self.stats.conflict += 1
        reason = (
            f"conflict: ({_show(key[0])}, {_show(key[1])}) seen at {seen.file}:{seen.line} "
            "with different content"
        )
        text = raw if raw is not None else _to_text(event)
        self.quarantine.append(QuarantineRecord(file, line, "id", reason, text))
        return False

    def mark_late(self, record: dict[str, Any], reason: str | None = None) -> None:
        """Count an admitted event as late instead of valid (the engine decides lateness).

        Marking the same event twice counts it once. The event is listed in :attr:`late`.
        """
        key = (record["type"], record["id"])
        if key in self._late_keys:
            return
        self._late_keys.add(key)
        seen = self._seen.get(key)
        if seen is None:  # never admitted here: count it as read, so the sums still hold
            self.stats.read += 1
        else:
            self.stats.valid -= 1
        self.stats.late += 1
        file, line = (seen.file, seen.line) if seen else ("<unknown>", 0)
        why = reason or "late: the watermark had passed the event's time"
        self.late.append(QuarantineRecord(file, line, "time", why, _to_text(record)))


def _show(text: str) -> str:
    """An id as it reads, quoted and escaped when it holds unprintable characters (a NUL, a line
    break, a direction override) that would garble the reason or hide what it says."""
    return text if text.isprintable() else repr(text)


def _to_text(data: Any) -> str:
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS, default=repr).decode()
    except TypeError:  # an int beyond 64 bits
        return json.dumps(data, default=_plain, ensure_ascii=False)


def write_quarantine(path: str | Path, records: Iterable[QuarantineRecord]) -> None:
    """Write quarantine records as JSON Lines (UTF-8, one record a line)."""
    with Path(path).open("wb") as out:
        for record in records:
            out.write(orjson.dumps(record.to_dict()))
            out.write(b"\n")
