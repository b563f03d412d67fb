"""Plain values the services hand to the edges (OpenADR and REST). All times are tz-aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from aggregator.records import EventInterval

IntervalSpec = EventInterval  # an event interval as given (REST, planner) and as stored


class EventStatus(StrEnum):
    FAR = "far"
    NEAR = "near"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OptType(StrEnum):
    OPT_IN = "optIn"
    OPT_OUT = "optOut"


@dataclass(frozen=True, slots=True)
class VenInfo:
    ven_id: str
    ven_name: str
    site_id: str
    fingerprint: str | None
    registration_id: str | None
    registered: bool
    registered_at: datetime | None
    last_poll_at: datetime | None
    online: bool  # polled within 3 poll intervals
    xml_signatures: str | None = None  # required | optional | off; None: the VTN's setting


@dataclass(frozen=True, slots=True)
class EventSpec:
    ven_ids: tuple[str, ...] | list[str]
    signal_name: str
    signal_type: str
    intervals: tuple[IntervalSpec, ...]
    market_context: str | None = None
    priority: int = 0
    ramp_up_seconds: int = 0
    response_required: str = "always"
    start_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class EventPatch:
    """Fields to change; None leaves a field unchanged."""

    ven_ids: tuple[str, ...] | list[str] | None = None
    signal_name: str | None = None
    signal_type: str | None = None
    intervals: tuple[IntervalSpec, ...] | None = None
    market_context: str | None = None
    priority: int | None = None
    ramp_up_seconds: int | None = None
    response_required: str | None = None
    start_after_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    event_id: str
    modification_number: int
    status: str  # EventStatus value
    ven_ids: tuple[str, ...]
    signal_name: str
    signal_type: str
    intervals: tuple[IntervalSpec, ...]
    market_context: str
    priority: int
    ramp_up_seconds: int
    response_required: str
    created_at: datetime
    modified_at: datetime
    # ven_id -> "optIn"/"optOut": the effective answer to the current modification
    responses: dict[str, str] = field(default_factory=dict)
    start_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    report_request_id: str
    report_name: str
    r_id: str
    dtstart: datetime
    duration_seconds: int
    value: float
