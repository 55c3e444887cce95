"""The finding of data-contract.md §4: what a rule found, on whom, when, and on which evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, model_validator

from fourin_rules.model.clauses import CLAUSES

__all__ = [
    "CLAUSES",
    "EvidenceRef",
    "Finding",
    "LocalText",
    "PackRef",
    "Subject",
    "Window",
]

_CLAUSE_SET = frozenset(CLAUSES)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackRef(_Part):
    """The pack that holds the rule: ``{id, version}``."""

    id: str
    version: str


class LocalText(_Part):
    """A text in Chinese and English: ``{zh, en}``."""

    zh: str
    en: str


class Subject(_Part):
    """Whom the finding is about: ``{kind, id}``."""

    kind: Literal["cadre", "group", "township"]
    id: str


class Window(_Part):
    """The event-time span the finding covers (aware datetimes, ISO-8601 with offset in JSON)."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")
        return self

    @field_serializer("start", "end")
    def _iso(self, value: datetime) -> str:
        # isoformat keeps "+00:00" rather than "Z": one shape for every offset.
        return value.isoformat()


class EvidenceRef(_Part):
    """One event that makes the finding: ``{type, id}``."""

    type: str
    id: str


class Finding(BaseModel):
    """A finding. ``params``, ``tags`` and ``facts`` are our optional additions to the contract:
    the rule parameters used, the rule's tags, and key facts for reports (amount, plate, ...).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(min_length=1)
    rule_id: str = Field(min_length=1)
    pack: PackRef
    clause: str
    title: LocalText
    severity: Literal["high", "medium", "low", "info"]
    subject: Subject
    cadre_id: str | None = None
    window: Window
    evidence: list[EvidenceRef] = Field(default_factory=list)
    negative_evidence: list[str] = Field(default_factory=list)
    message: LocalText
    needs_review: bool = False
    status: Literal["provisional", "final"] = "final"
    params: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Finding:
        if self.clause not in _CLAUSE_SET:
            raise ValueError(f"clause {self.clause!r} is not one of the seed's clause texts")
        if self.subject.kind == "cadre" and self.cadre_id is None:
            # The contract: cadre_id is the cadre when the subject is a cadre.
            self.cadre_id = self.subject.id
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the contract's field order (then params, tags, facts)."""
        return self.model_dump(mode="json")
