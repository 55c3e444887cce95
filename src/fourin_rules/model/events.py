"""Pydantic models of the event types in data-contract.md §2, one class each.

Every event has ``type``, ``id``, ``time``, ``end`` and ``source``; any other field is kept
(``extra="allow"``) so custom rules can use it. Field names are the contract's, exactly.

Timestamps are parsed with :func:`fourin_rules.timeutil.parse_timestamp` in the time zone given
in the validation context (``model_validate(data, context={"tz": ZoneInfo(...)})``; default
Asia/Shanghai): an offset means that instant, no offset means local time, and the result is an
aware datetime in that zone.

Required versus optional (a default is used only where a missing value is harmless):

- required on every event: ``type``, ``id`` (non-empty), ``time``;
- required per type: the field naming the subject (``cadre_id``, ``cadre_ids``, ``plate`` and
  ``passenger_ids``, ``host_unit_id``, ``group_id``, ``issuer_id``, ``organizer_id``,
  ``township_id``, ``subject_cadre_ids``), and the values a rule cannot do without:
  ``amount_cny`` of card_txn, reimbursement and reception, ``score`` of rating;
- everything else is optional: ``None`` for unknown scalars and enumerations, ``[]`` for lists,
  ``0`` for the visit counts, ``False`` for ``mock_location``, ``alcohol``, ``decision``,
  ``dept_confirmed`` and ``returned``; ``kind`` of checkin defaults to ``"in"`` and ``verified``
  of complaint to ``"unverified"``. A leave without ``status`` is not approved.

``due`` of a commitment is a timestamp or a date; a date ``D`` means the end of day D, that is
D+1 00:00 local time.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from fourin_rules.errors import FourinError, suggest
from fourin_rules.model import types as vt
from fourin_rules.timeutil import DEFAULT_TZ, get_tz, parse_timestamp

__all__ = [
    "EVENT_MODELS",
    "BaseEvent",
    "CanteenMealEvent",
    "CardTxnEvent",
    "CheckinEvent",
    "CommitmentEvent",
    "ComplaintEvent",
    "DataRequestEvent",
    "GiftEvent",
    "Item",
    "LeaveEvent",
    "MeetingEvent",
    "PublicityEvent",
    "RatingEvent",
    "ReceptionEvent",
    "ReimbursementEvent",
    "RoleHolder",
    "TownshipTaskEvent",
    "TripApprovalEvent",
    "VehicleTripEvent",
    "VisitEvent",
    "event_field_types",
    "make_custom_event_model",
    "model_field_types",
]

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def _context_tz(info: ValidationInfo) -> ZoneInfo:
    ctx = info.context
    tz = ctx.get("tz") if type(ctx) is dict else None
    if tz is None:
        return get_tz(DEFAULT_TZ)
    return get_tz(tz) if type(tz) is str else tz


def _to_timestamp(value: Any, info: ValidationInfo) -> Any:
    # Exact type checks first: this runs for every timestamp of every event.
    if type(value) is str or isinstance(value, datetime):
        return parse_timestamp(value, _context_tz(info))
    if value is None:
        return None
    if isinstance(value, str):
        return parse_timestamp(value, _context_tz(info))
    # Epoch numbers and dates are refused: the contract speaks of ISO-8601 strings.
    raise ValueError(f"not an ISO-8601 timestamp: {value!r}")


def _to_deadline(value: Any, info: ValidationInfo) -> Any:
    """A timestamp, or a date D meaning the end of day D (D+1 00:00 local)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE_ONLY.match(value):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO-8601 date: {value!r}") from None
    else:
        return _to_timestamp(value, info)
    return datetime.combine(day + timedelta(days=1), dtime(), tzinfo=_context_tz(info))


def _to_mcc(value: Any) -> Any:
    # Merchant category codes are four digits; some systems send them as JSON numbers.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999:
        return f"{value:04d}"
    return value


#: An aware datetime in the dataset's time zone.
Timestamp = Annotated[datetime, BeforeValidator(_to_timestamp)]
#: A timestamp, or a date meaning the end of that day.
Deadline = Annotated[datetime, BeforeValidator(_to_deadline)]
Mcc = Annotated[str, BeforeValidator(_to_mcc)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Count = Annotated[int, Field(ge=0)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class Item(BaseModel):
    """One line of a bill: ``{name, amount_cny}``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    amount_cny: float


class RoleHolder(BaseModel):
    """Who holds which role in a township task: ``{cadre_id, role}``."""

    model_config = ConfigDict(extra="forbid")

    cadre_id: NonEmptyStr
    role: Literal["lead", "approve", "sign", "assist", "handle"]


class BaseEvent(BaseModel):
    """The fields every event has; other fields are kept as extras."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    type: str
    id: NonEmptyStr
    time: Timestamp
    end: Timestamp | None = None
    source: str | None = None

    @field_validator("end")
    @classmethod
    def _end_not_before_time(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("time")
        if end is not None and start is not None and end < start:
            raise ValueError(f"end {end.isoformat()} is before time {start.isoformat()}")
        return end


class CheckinEvent(BaseEvent):
    """A check-in (GPS, face or manual) of a cadre."""

    type: Literal["checkin"] = "checkin"
    cadre_id: NonEmptyStr
    lat: Lat | None = None
    lon: Lon | None = None
    township_id: str | None = None
    kind: Literal["in", "out", "field"] = "in"
    method: Literal["gps", "face", "manual"] | None = None
    mock_location: bool = False


class LeaveEvent(BaseEvent):
    """A leave request of a cadre; ``time`` is the start."""

    type: Literal["leave"] = "leave"
    cadre_id: NonEmptyStr
    leave_type: Literal["personal", "sick", "annual", "official_trip", "meeting"] | None = None
    status: Literal["approved", "pending", "rejected", "cancelled"] | None = None
    approver_unit_id: str | None = None
    returned_at: Timestamp | None = None


class TripApprovalEvent(BaseEvent):
    """An approved official trip for one or more cadres."""

    type: Literal["trip_approval"] = "trip_approval"
    cadre_ids: list[NonEmptyStr] = Field(min_length=1)
    destination: str | None = None
    purpose: str | None = None
    approved_by: str | None = None


class VehicleTripEvent(BaseEvent):
    """A trip of a vehicle (plate) with its passengers."""

    type: Literal["vehicle_trip"] = "vehicle_trip"
    plate: NonEmptyStr
    passenger_ids: list[NonEmptyStr]
    owner_unit_id: str | None = None
    driver_id: str | None = None
    km: float | None = None
    purpose: str | None = None
    origin: str | None = None
    destination: str | None = None
    end_lat: Lat | None = None
    end_lon: Lon | None = None
    dispatch_id: str | None = None
    requesting_unit_id: str | None = None


class CardTxnEvent(BaseEvent):
    """A payment with an official card (公务卡); ``cadre_id`` is the card holder."""

    type: Literal["card_txn"] = "card_txn"
    cadre_id: NonEmptyStr
    amount_cny: float
    merchant_name: str | None = None
    mcc: Mcc | None = None
    reimbursed_claim_id: str | None = None
    lat: Lat | None = None
    lon: Lon | None = None


class ReimbursementEvent(BaseEvent):
    """An expense claim; ``cadre_id`` is the claimant."""

    type: Literal["reimbursement"] = "reimbursement"
    cadre_id: NonEmptyStr
    amount_cny: float
    paying_unit_id: str | None = None
    category: (
        Literal[
            "travel", "reception", "meals", "lodging", "transport", "meeting", "publicity", "other"
        ]
        | None
    ) = None
    beneficiary_ids: list[str] = Field(default_factory=list)
    items: list[Item] = Field(default_factory=list)
    merchant_name: str | None = None
    mcc: Mcc | None = None
    nights: Count | None = None
    destination: str | None = None
    settlement_doc: str | None = None


class ReceptionEvent(BaseEvent):
    """An official reception (公务接待) hosted by a unit."""

    type: Literal["reception"] = "reception"
    host_unit_id: NonEmptyStr
    amount_cny: float
    guest_ids: list[str] = Field(default_factory=list)
    guests_n: Count | None = None
    companion_n: Count | None = None
    letter_id: str | None = None
    venue: str | None = None
    mcc: Mcc | None = None
    items: list[Item] = Field(default_factory=list)
    alcohol: bool = False
    approval_doc: str | None = None


class CanteenMealEvent(BaseEvent):
    """A meal of a cadre in a canteen and what was paid for it."""

    type: Literal["canteen_meal"] = "canteen_meal"
    cadre_id: NonEmptyStr
    meal: Literal["breakfast", "lunch", "dinner"] | None = None
    paid_cny: float | None = None


class VisitEvent(BaseEvent):
    """A visit of a cadre to a target (enterprise, project, village, community)."""

    type: Literal["visit"] = "visit"
    cadre_id: NonEmptyStr
    group_id: str | None = None
    target_id: str | None = None
    target_kind: Literal["enterprise", "project", "village", "community"] | None = None
    issues_found: Count = 0
    photos_n: Count = 0
    accompanying_staff_n: Count = 0
    followup_of: str | None = None


class PublicityEvent(BaseEvent):
    """A piece of publicity of a group."""

    type: Literal["publicity"] = "publicity"
    group_id: NonEmptyStr
    cadre_id: str | None = None
    kind: Literal["banner", "article", "video", "photo_report"] | None = None
    cost_cny: float | None = None


class DataRequestEvent(BaseEvent):
    """A request for data sent to grassroots units; ``time`` is when it was issued."""

    type: Literal["data_request"] = "data_request"
    issuer_id: NonEmptyStr
    recipient_unit_ids: list[str] = Field(default_factory=list)
    due: Timestamp | None = None
    topic: str | None = None
    fields: list[str] = Field(default_factory=list)


class MeetingEvent(BaseEvent):
    """A meeting and who organised, chaired and attended it."""

    type: Literal["meeting"] = "meeting"
    organizer_id: NonEmptyStr
    chaired_by: str | None = None
    attendee_ids: list[str] = Field(default_factory=list)
    township_id: str | None = None
    decision: bool = False
    topic: str | None = None


class TownshipTaskEvent(BaseEvent):
    """A township matter and the cadres holding roles in it."""

    type: Literal["township_task"] = "township_task"
    township_id: NonEmptyStr
    topic: str | None = None
    topic_kind: Literal["funds", "contract", "land", "other"] | None = None
    role_holders: list[RoleHolder] = Field(default_factory=list)
    delegation_doc: str | None = None


class CommitmentEvent(BaseEvent):
    """A commitment a cadre made to a target; ``due`` may be a date (end of that day)."""

    type: Literal["commitment"] = "commitment"
    cadre_id: NonEmptyStr
    target_id: str | None = None
    text: str | None = None
    due: Deadline | None = None
    status: Literal["open", "done", "overdue", "withdrawn"] | None = None
    dept_confirmed: bool = False
    closed_at: Timestamp | None = None


class ComplaintEvent(BaseEvent):
    """A complaint about one or more cadres."""

    type: Literal["complaint"] = "complaint"
    subject_cadre_ids: list[NonEmptyStr] = Field(min_length=1)
    complainant_id: str | None = None
    channel: str | None = None
    category: (
        Literal[
            "interference",
            "harm_to_public",
            "arrogance",
            "special_treatment",
            "drinking",
            "gifts",
            "other",
        ]
        | None
    ) = None
    verified: Literal["unverified", "substantiated", "unfounded"] = "unverified"


class RatingEvent(BaseEvent):
    """A rating (1-5) of a cadre by a unit."""

    type: Literal["rating"] = "rating"
    cadre_id: NonEmptyStr
    score: Annotated[int, Field(ge=1, le=5)]
    rater_unit_id: str | None = None
    dimension: Literal["conduct", "integration", "obedience", "effectiveness"] | None = None
    tags: list[str] = Field(default_factory=list)


class GiftEvent(BaseEvent):
    """A gift received by a cadre."""

    type: Literal["gift"] = "gift"
    cadre_id: NonEmptyStr
    giver_unit_id: str | None = None
    value_cny: float | None = None
    item: str | None = None
    returned: bool = False


#: The contract's event types by ``type`` name.
EVENT_MODELS: dict[str, type[BaseEvent]] = {
    m.model_fields["type"].default: m
    for m in (
        CheckinEvent,
        LeaveEvent,
        TripApprovalEvent,
        VehicleTripEvent,
        CardTxnEvent,
        ReimbursementEvent,
        ReceptionEvent,
        CanteenMealEvent,
        VisitEvent,
        PublicityEvent,
        DataRequestEvent,
        MeetingEvent,
        TownshipTaskEvent,
        CommitmentEvent,
        ComplaintEvent,
        RatingEvent,
        GiftEvent,
    )
}

_RECORD_KINDS: dict[type, str] = {Item: vt.ITEM, RoleHolder: "record:role_holder"}


def _value_type(annotation: Any) -> str:
    """The value-type string of a (resolved) field annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _value_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        kinds = {_value_type(a) for a in inner}
        return kinds.pop() if len(kinds) == 1 else vt.ANY
    if origin is Literal:
        return vt.STR
    if origin is list:
        (arg,) = typing.get_args(annotation) or (Any,)
        return vt.list_of(_value_type(arg))
    if annotation is bool:
        return vt.BOOL
    if annotation in (int, float):
        return vt.NUMBER
    if annotation is str:
        return vt.STR
    if annotation is datetime:
        return vt.TIME
    if annotation is date:
        return vt.DATE
    if annotation in _RECORD_KINDS:
        return _RECORD_KINDS[annotation]
    return vt.ANY


@lru_cache(maxsize=256)
def model_field_types(model: type[BaseEvent]) -> dict[str, str]:
    """Each declared field of ``model`` with its value type (strings of ``model/types.py``)."""
    return {name: _value_type(f.annotation) for name, f in model.model_fields.items()}


def event_field_types(
    type_name: str, models: Mapping[str, type[BaseEvent]] = EVENT_MODELS
) -> dict[str, str]:
    """The declared fields of event type ``type_name`` with their value types.

    ``type``, ``id``, ``time``, ``end`` and ``source`` are included; Literal enumerations are
    ``str``, ints and floats ``number``, datetimes ``time``.

    Raises:
        FourinError: ``unknown-event-type`` when ``type_name`` is not in ``models``.

    >>> event_field_types("card_txn")["amount_cny"]
    'number'
    """
    model = models.get(type_name)
    if model is None:
        raise FourinError(
            "unknown-event-type",
            f"unknown event type {type_name!r}",
            suggestion=suggest(type_name, models),
        )
    return dict(model_field_types(model))


_CUSTOM_TYPES: dict[str, Any] = {
    vt.STR: str,
    vt.NUMBER: int | float,
    vt.BOOL: bool,
    vt.TIME: Timestamp,
    vt.DATE: date,
    vt.ANY: Any,
    vt.ITEM: Item,
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = frozenset(dir(BaseModel)) | {"type", "id", "time", "end", "source"}


def _custom_type(type_string: str) -> Any:
    if vt.is_list(type_string):
        inner = _custom_type(vt.element_type(type_string))
        return list[inner] if inner is not None else None
    return _CUSTOM_TYPES.get(type_string)


def make_custom_event_model(name: str, fields: Mapping[str, str]) -> type[BaseEvent]:
    """Build the model of a custom event type that a rule pack declares.

    ``fields`` maps field names to value-type strings (``str``, ``number``, ``bool``, ``time``,
    ``date``, ``any``, ``record:item`` or ``list[...]`` of these). Declared fields are optional
    (``None`` when absent, ``[]`` for lists); ``time`` fields are parsed like the contract's
    timestamps; ``number`` keeps ints as ints. Redeclaring a common
    field (``time``, ``end``, ...) with its own type is allowed and ignored.

    Raises:
        FourinError: ``pack-schema`` for a bad type name, field name or field type.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise FourinError(
            "pack-schema", f"custom event type name {name!r} is not a lower_case name"
        )
    if name in EVENT_MODELS:
        raise FourinError(
            "pack-schema", f"custom event type {name!r} would redefine a contract event type"
        )
    base_types = model_field_types(BaseEvent)
    definitions: dict[str, Any] = {}
    for field, type_string in fields.items():
        if field in base_types and base_types[field] == type_string:
            continue
        if not isinstance(field, str) or not _NAME.match(field) or field in _RESERVED:
            raise FourinError(
                "pack-schema", f"field name {field!r} of custom event type {name!r} is not allowed"
            )
        python_type = _custom_type(type_string) if isinstance(type_string, str) else None
        if python_type is None:
            known = [*_CUSTOM_TYPES, *(vt.list_of(t) for t in _CUSTOM_TYPES)]
            raise FourinError(
                "pack-schema",
                f"unknown field type {type_string!r} for {name}.{field}",
                suggestion=suggest(str(type_string), known),
            )
        if vt.is_list(type_string):
            definitions[field] = (python_type, Field(default_factory=list))
        else:
            definitions[field] = (python_type | None, None)
    model_name = "".join(part.capitalize() for part in name.split("_")) + "Event"
    return create_model(
        model_name,
        __base__=BaseEvent,
        __module__=__name__,
        type=(Literal[name], name),
        **definitions,
    )
