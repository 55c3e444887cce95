"""The event-time operator of each rule kind (see :mod:`fourin_rules.runtime.base`)."""

from __future__ import annotations

from fourin_rules.runtime.absence import AbsenceOperator
from fourin_rules.runtime.base import Operator
from fourin_rules.runtime.match import MatchOperator
from fourin_rules.runtime.sequence import SequenceOperator
from fourin_rules.runtime.threshold import ThresholdOperator

OPERATORS: dict[str, type[Operator]] = {
    "match": MatchOperator,
    "absence": AbsenceOperator,
    "threshold": ThresholdOperator,
    "sequence": SequenceOperator,
}
