"""What a backend is: something that tests the plan's predicates against batches of events.

The event-time state (absence periods, windows, sequences, exemptions) lives in
:mod:`fourin_rules.runtime`, shared by every backend, so that backends differ only in how they
match and cannot disagree about time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fourin_rules.plan import Plan


@dataclass(frozen=True, slots=True)
class Hit:
    """Predicate ``predicate`` held for an event, with these variables bound (lets, for_each)."""

    predicate: int
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule raised while testing an event; the event and the other rules go on."""

    rule_id: str
    event_type: str
    event_id: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {
            "rule_id": self.rule_id,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "message": self.message,
        }


class Matcher(Protocol):
    """A backend's matching half."""

    name: str
    errors: list[RuleError]

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[list[Hit]]:
        """For each event, the hits of every predicate on its type, in predicate-id order."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class Backend(Protocol):
    name: str

    def check(self, plan: Plan) -> list[str]:
        """What the backend cannot do with this plan (empty when it can run it)."""
        ...

    def matcher(self, plan: Plan, env: Any) -> Matcher: ...
