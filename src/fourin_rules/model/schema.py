"""JSON Schemas of the data contract, for the systems that feed fourin-rules and read it."""

from __future__ import annotations

from typing import Any

from fourin_rules.model.events import EVENT_MODELS
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData

__all__ = ["json_schemas"]


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event model (keyed by event type, e.g. ``"card_txn"``), of the
    reference data (``"reference"``) and of a finding (``"finding"``).

    >>> "amount_cny" in json_schemas()["card_txn"]["properties"]
    True
    """
    schemas: dict[str, dict[str, Any]] = {
        name: model.model_json_schema() for name, model in sorted(EVENT_MODELS.items())
    }
    schemas["reference"] = ReferenceData.model_json_schema()
    schemas["finding"] = Finding.model_json_schema(mode="serialization")
    return schemas
