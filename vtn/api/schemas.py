"""Request and response bodies of the REST API (pydantic v2; the OpenAPI document is built from them).

Requests forbid unknown fields. Bounds mirror the database columns and the OpenADR schema, so
anything that validates here can be stored: a value the database would refuse (a NUL byte, a
2**40 priority, a year-9999 start) is a 422 naming the field, never a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from aggregator.signals import pair_problem
from flexmodel.scenario import Site as PlanSite

# Printable text: no control characters (PostgreSQL refuses NUL; logs and XML dislike the rest).
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_TOKEN = r"^[^\x00-\x20\x7f]+$"  # printable, no spaces: OpenADR IDs and URIs

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_PRINTABLE)]
Fingerprint = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_TOKEN)]
MarketContext = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_TOKEN)]
ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_TOKEN)]
_EXTENSION = r"^x-[^\x00-\x20\x7f]+$"  # OpenADR EiExtensionTokenType

MAX_INT32 = 2**31 - 1
MAX_DURATION_SECONDS = 366 * 86400
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc_in_range(value: datetime) -> datetime:
    """Normalise to UTC; refuse times outside [2000, 2200) so every derived time stays representable."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time is out of range") from exc
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"time must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return utc


UtcTime = Annotated[
    AwareDatetime,
    AfterValidator(_utc_in_range),
    Field(
        description="ISO 8601 date-time with a UTC offset (years 2000-2199), e.g. 2026-11-23T17:00:00+01:00"
    ),
]


class SignalName(StrEnum):
    """OpenADR 2.0b signalName values (extensions start with `x-`)."""

    SIMPLE = "SIMPLE"
    simple = "simple"  # 2.0a spelling, accepted by the 2.0b schema
    ELECTRICITY_PRICE = "ELECTRICITY_PRICE"
    ENERGY_PRICE = "ENERGY_PRICE"
    DEMAND_CHARGE = "DEMAND_CHARGE"
    BID_PRICE = "BID_PRICE"
    BID_LOAD = "BID_LOAD"
    BID_ENERGY = "BID_ENERGY"
    CHARGE_STATE = "CHARGE_STATE"
    LOAD_DISPATCH = "LOAD_DISPATCH"
    LOAD_CONTROL = "LOAD_CONTROL"


def _signal_name(value: str) -> str:
    """One union with one error message (pydantic would report each branch of `Enum | pattern`)."""
    if value in SignalName.__members__.values() or (len(value) <= 64 and re.fullmatch(_EXTENSION, value)):
        return value
    names = ", ".join(SignalName)
    raise ValueError(f"must be one of {names}, or an extension name starting with 'x-'")


SignalNameValue = Annotated[
    str,
    AfterValidator(_signal_name),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": [n.value for n in SignalName]},
                {"type": "string", "minLength": 3, "maxLength": 64, "pattern": _EXTENSION},
            ],
            "description": "an OpenADR signalName, or an extension name starting with `x-`",
        }
    ),
]


class SignalType(StrEnum):
    """OpenADR 2.0b signalType values."""

    DELTA = "delta"
    LEVEL = "level"
    MULTIPLIER = "multiplier"
    PRICE = "price"
    PRICE_MULTIPLIER = "priceMultiplier"
    PRICE_RELATIVE = "priceRelative"
    SETPOINT = "setpoint"
    X_LOAD_CONTROL_CAPACITY = "x-loadControlCapacity"
    X_LOAD_CONTROL_LEVEL_OFFSET = "x-loadControlLevelOffset"
    X_LOAD_CONTROL_PERCENT_OFFSET = "x-loadControlPercentOffset"
    X_LOAD_CONTROL_SETPOINT = "x-loadControlSetpoint"


class ResponseRequired(StrEnum):
    ALWAYS = "always"
    NEVER = "never"


class EventStatusOut(StrEnum):
    FAR = "far"
    NEAR = "near"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OptTypeOut = Literal["optIn", "optOut"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- VENs ---------------------------------------------------------------------------------------


SignaturePolicy = Literal["required", "optional", "off"]
_SIGNATURES = (
    "must this VEN sign its OpenADR messages: required, optional (verified when present) or off "
    "(not verified); null follows the VTN's xml_signatures setting"
)


class VenCreate(_Request):
    """Pre-provision a VEN: its venID is fixed now, and it may register with this ven_name."""

    ven_name: Name
    site_id: Name
    fingerprint: Fingerprint | None = Field(None, description="the VEN certificate's fingerprint")
    xml_signatures: SignaturePolicy | None = Field(None, description=_SIGNATURES)


class VenPatch(_Request):
    """How the VEN authenticates. Omitted: unchanged; null: cleared (no fingerprint; the VTN's policy)."""

    fingerprint: Fingerprint | None = Field(None, description="the VEN certificate's fingerprint")
    xml_signatures: SignaturePolicy | None = Field(None, description=_SIGNATURES)


class VenOut(_Response):
    ven_id: str
    ven_name: str
    site_id: str
    fingerprint: str | None
    xml_signatures: str | None = Field(None, description="the VEN's signature policy (null: the VTN's)")
    registration_id: str | None
    registered: bool
    registered_at: datetime | None
    last_poll_at: datetime | None
    online: bool = Field(description="polled recently (within three poll intervals)")


class VenCancelAccepted(BaseModel):
    ven_id: str
    detail: str


# ---- Operator commands for a VEN: re-registration and report requests ---------------------------


class VenCommandAccepted(BaseModel):
    """A message queued for the VEN's next poll."""

    ven_id: str
    detail: str


class ReportRequestCreate(_Request):
    """Request the VEN's offered telemetry that has no live report request (body optional)."""

    granularity_seconds: int | None = Field(
        None,
        ge=1,
        le=MAX_DURATION_SECONDS,
        description="seconds between readings, moved into the sampling range the VEN offers; "
        "omitted or null: the VTN's report_interval_seconds",
    )


class ReportRequestsAccepted(BaseModel):
    ven_id: str
    report_request_ids: list[str] = Field(
        description="the new requests, sent in one oadrCreateReport on the VEN's next poll; "
        "empty: every offered report already has a live request, nothing is queued"
    )


class ReportRidOut(BaseModel):
    r_id: str
    reading_type: str


class ReportRequestOut(_Response):
    """A live report request: what the VTN asked the VEN for (oadrRegisteredReport or oadrCreateReport)."""

    report_request_id: str
    report_specifier_id: str
    report_name: str = Field(description="e.g. TELEMETRY_USAGE (without the METADATA_ prefix)")
    r_ids: list[ReportRidOut] = Field(description="the specifierPayloads: the rIDs asked for")
    granularity_seconds: int
    report_back_seconds: int
    created_at: datetime
    acknowledged_at: datetime | None = Field(
        description="when the VEN first listed it in an oadrCreatedReport's pending reports; null: not yet"
    )


class ReportCancelAccepted(BaseModel):
    ven_id: str
    report_request_id: str
    detail: str


# ---- Events -------------------------------------------------------------------------------------


class IntervalIn(_Request):
    start: UtcTime
    duration_seconds: int = Field(ge=1, le=MAX_DURATION_SECONDS)
    value: float


class IntervalOut(_Response):
    start: datetime
    duration_seconds: int
    value: float


def _contiguous(intervals: list[IntervalIn]) -> list[IntervalIn]:
    """OpenADR intervals follow each other without gaps or overlap."""
    for i in range(1, len(intervals)):
        previous = intervals[i - 1]
        if intervals[i].start != previous.start + timedelta(seconds=previous.duration_seconds):
            raise ValueError(
                f"intervals must be contiguous: intervals[{i}].start must equal the end of intervals[{i - 1}]"
            )
    end = intervals[-1].start + timedelta(seconds=intervals[-1].duration_seconds)
    if end >= LATEST:
        raise ValueError(f"the event must end before {LATEST:%Y-%m-%d}")
    return intervals


def _in_signal_table(signal_type: SignalType | None, info: ValidationInfo) -> SignalType | None:
    """The (signal_name, signal_type) pair must be in the 2.0b signal table (aggregator/signals.py).

    A PATCH that changes one of the two is checked against the stored other by the use case."""
    signal_name = info.data.get("signal_name")
    if signal_name is not None and signal_type is not None:
        problem = pair_problem(str(signal_name), signal_type.value)
        if problem is not None:
            raise ValueError(problem)
    return signal_type


def _unique(ven_ids: list[str]) -> list[str]:
    if len(set(ven_ids)) != len(ven_ids):
        raise ValueError("must not repeat a VEN")
    return ven_ids


Intervals = Annotated[list[IntervalIn], Field(min_length=1, max_length=96), AfterValidator(_contiguous)]
VenIds = Annotated[list[ResourceId], Field(min_length=1, max_length=1000), AfterValidator(_unique)]


class EventCreate(_Request):
    """A DR event for one or more VENs; modificationNumber starts at 0.

    Rules beyond this schema (answered with 422 naming the field, or 409): the intervals follow
    each other without gaps and end in the future; signal_type is one the OpenADR 2.0b signal
    table allows for signal_name (an x- name takes any; the 422 names the pair and what the name
    takes); a SIMPLE signal takes the levels 0-3; every VEN in ven_ids exists (422 on ven_ids);
    no VEN may have an overlapping event in the same market context (409).
    """

    ven_ids: VenIds
    signal_name: SignalNameValue
    signal_type: SignalType
    intervals: Intervals
    market_context: MarketContext | None = Field(None, description="default: the VTN's market context")
    priority: int = Field(
        0, ge=0, le=MAX_INT32, description="1 is the highest; 0 means no priority (the lowest)"
    )
    ramp_up_seconds: int = Field(0, ge=0, le=86400)
    start_after_seconds: int = Field(0, ge=0, le=86400, description="randomisation window (startafter)")
    response_required: ResponseRequired = ResponseRequired.ALWAYS

    check_signal_pair = field_validator("signal_type")(_in_signal_table)


class EventPatch(_Request):
    """Fields to change (omitted or null: unchanged); the modificationNumber goes up by one."""

    ven_ids: VenIds | None = None
    signal_name: SignalNameValue | None = None
    signal_type: SignalType | None = None
    intervals: Intervals | None = None
    market_context: MarketContext | None = None
    priority: int | None = Field(None, ge=0, le=MAX_INT32)
    ramp_up_seconds: int | None = Field(None, ge=0, le=86400)
    start_after_seconds: int | None = Field(None, ge=0, le=86400)
    response_required: ResponseRequired | None = None

    check_signal_pair = field_validator("signal_type")(_in_signal_table)


class EventOut(_Response):
    event_id: str
    modification_number: int
    status: EventStatusOut
    ven_ids: list[str]
    signal_name: str
    signal_type: str
    intervals: list[IntervalOut]
    market_context: str
    priority: int
    ramp_up_seconds: int
    start_after_seconds: int = 0
    response_required: str
    created_at: datetime
    modified_at: datetime
    responses: dict[str, OptTypeOut] = Field(
        description="ven_id -> the VEN's effective answer to the current modification"
    )


# ---- Telemetry and opts -------------------------------------------------------------------------


class TelemetryQuery(_Request):
    """Stored report values with since <= dtstart < until (both optional)."""

    since: UtcTime | None = None
    until: UtcTime | None = None

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and until < since:
            raise ValueError("must not be before since")
        return until


class TelemetryPointOut(_Response):
    report_request_id: str
    report_name: str
    r_id: str
    dtstart: datetime
    duration_seconds: int
    value: float


class VensTelemetryQuery(TelemetryQuery):
    """Several VENs' stored report values (2.0b and OpenADR 3.1 alike), since <= dtstart < until."""

    # ASCII and at most 2500 characters: percent-encoded, the URL stays under the 8 KiB request
    # line aiohttp reads (a longer one is refused before any handler, as text; schemathesis found it)
    ven_ids: str = Field(
        min_length=1,
        max_length=2500,
        pattern=r"^[!-~]+$",
        description="venIDs, comma-separated (1 to 50)",
    )

    @property
    def ven_id_list(self) -> list[str]:
        return [v.strip() for v in self.ven_ids.split(",") if v.strip()]


class VenTelemetryPointOut(TelemetryPointOut):
    ven_id: str


class OptWindowOut(BaseModel):
    start: datetime
    duration_seconds: int


class OptOut(_Response):
    opt_id: str
    opt_type: OptTypeOut
    opt_reason: str
    market_context: str | None
    event_id: str | None
    modification_number: int | None
    resource_ids: list[str]
    windows: list[OptWindowOut]
    created_at: datetime
    cancelled_at: datetime | None


# ---- A VEN's site: plan-format entry and device status ------------------------------------------


class SiteOut(_Response):
    """The site's current entry of plan-format.md, rebuilt from the VEN's latest flexibility report.

    `site` drops into a scenario's `sites[]` whose grid is `start`, `resolution_minutes`,
    `horizon_slots` (the report's slots from the current one on)."""

    ven_id: str
    site_id: str
    received_at: datetime = Field(description="when the VTN received the flexibility report")
    start: datetime
    resolution_minutes: int
    horizon_slots: int
    site: PlanSite


class DeviceStatusOut(_Response):
    device_id: str
    updated_at: datetime = Field(description="time of the newest status value of the device")
    online: bool | None = None
    manual_override: bool | None = None
    soc_percent: float | None = Field(None, description="state of charge [%]; null: unknown (no car)")
    plugged_in: bool | None = None


class LoadControlValueOut(_Response):
    """One kind of load control state, in the resource's own units (the payload names none)."""

    min: float | None = Field(None, description="oadrMin; null: not reported")
    max: float | None = Field(None, description="oadrMax; null: not reported")
    current: float = Field(description="oadrCurrent")
    normal: float | None = Field(None, description="oadrNormal; null: not reported")


class LoadControlStateOut(_Response):
    """oadrLoadControlState: each kind null when the payload did not carry it."""

    capacity: LoadControlValueOut | None = Field(None, description="oadrCapacity")
    level_offset: LoadControlValueOut | None = Field(None, description="oadrLevelOffset")
    percent_offset: LoadControlValueOut | None = Field(None, description="oadrPercentOffset [%]")
    set_point: LoadControlValueOut | None = Field(None, description="oadrSetPoint")


class ResourceStatusOut(_Response):
    """The newest standard 2.0b status (oadrPayloadResourceStatus) of one rID, whole."""

    r_id: str
    resource_id: str | None = Field(
        description="the resource the VEN's METADATA names for the rID (reportDataSource); null: none"
    )
    updated_at: datetime = Field(description="dtstart of the report interval that carried the status")
    online: bool = Field(description="oadrOnline")
    manual_override: bool = Field(description="oadrManualOverride")
    load_control_state: LoadControlStateOut | None = Field(
        None, description="oadrLoadControlState; null: the status carried none"
    )


class SiteStatusOut(_Response):
    """The VEN's newest TELEMETRY_STATUS: per device in our agent's float form (null: not
    reported for it), and per rID in the standard oadrPayloadResourceStatus form."""

    ven_id: str
    site_id: str
    updated_at: datetime = Field(description="the newest time of any device or resource below")
    devices: list[DeviceStatusOut] = Field(
        description="our agent's `{device}.{field}` float values (docs/openadr-mapping.md)"
    )
    resources: list[ResourceStatusOut] = Field(
        description="the standard 2.0b form, one per rID, ordered by rID (docs/vtn.md)"
    )


# ---- Misc ---------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    vtn_id: str
    leader: bool = Field(
        description="this instance runs the planning loop and the once-only jobs (one of several "
        "instances on one database is elected)"
    )


class FieldError(BaseModel):
    field: str = Field(description="the offending field, e.g. `intervals[0].start`, or `body`")
    reason: str


class ErrorBody(BaseModel):
    """Every error the API returns."""

    status: int
    error: str = Field(description="short code, e.g. not_found, conflict, invalid_input, unauthorized")
    message: str
    errors: list[FieldError] = Field(default_factory=list)
