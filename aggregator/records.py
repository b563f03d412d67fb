"""What the VTN stores, as plain values: the records its repositories return and take.

The repositories (vtn/db) turn table rows into these and back, so no ORM row leaves the
database adapter. Times are tz-aware UTC; series are labelled by their slot start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aggregator.inputs import WindowKind

# ---- REST bearer tokens -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored REST token's metadata (its hash stays in the database)."""

    id: int
    role: str  # operator | market | customer
    name: str | None
    site_id: str | None  # the only site a customer token may see
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


# ---- VENs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenRecord:
    """A VEN: provisioned by an operator (name, site), later registered over OpenADR."""

    ven_id: str
    ven_name: str
    site_id: str
    created_at: datetime
    fingerprint: str | None = None
    registration_id: str | None = None  # None: not registered
    registered_at: datetime | None = None
    profile_name: str | None = None
    transport_name: str | None = None
    report_only: bool = False
    xml_signature: bool = False  # what the VEN said at registration
    xml_signatures: str | None = None  # must it sign: required | optional | off; None: the VTN's setting
    http_pull_model: bool = True
    last_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VenCredentials:
    """What a VEN was provisioned with that authenticates it (checked on every message)."""

    ven_id: str
    ven_name: str
    fingerprint: str | None
    xml_signatures: str | None  # required | optional | off; None: the VTN's setting


# ---- the outbox ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A VTN-initiated message for the VEN's polls, delivered at least once (aggregator/outbox.py).

    Pending until `delivered_at` (done: acknowledged, no longer applicable, or given up); it goes
    out in a poll reply (`sent_at`, `send_count`, the same `request_id` every time) and again
    until the VEN acknowledges it (`acked_at`). `written_at`: the last send's reply was written
    out whole."""

    id: int
    ven_id: str
    message_type: str
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None = None
    request_id: str | None = None
    sent_at: datetime | None = None
    send_count: int = 0
    written_at: datetime | None = None
    acked_at: datetime | None = None


# ---- DR events, the VENs' answers, their opts ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventInterval:
    """One interval of an event's signal: `value` from `start` for `duration_seconds`."""

    start: datetime
    duration_seconds: int
    value: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A DR event as stored; every change raises `modification_number` (OpenADR)."""

    event_id: str
    modification_number: int
    market_context: str
    signal_name: str
    signal_type: str
    signal_id: str
    intervals: tuple[EventInterval, ...]
    dtstart: datetime
    duration_seconds: int
    created_at: datetime
    modified_at: datetime
    priority: int = 0
    ramp_up_seconds: int = 0
    start_after_seconds: int = 0
    response_required: str = "always"  # always | never
    units: dict[str, Any] | None = None
    test_event: bool = False
    vtn_comment: str | None = None
    cancelled: bool = False

    @property
    def end(self) -> datetime:
        return self.dtstart + timedelta(seconds=self.duration_seconds)


@dataclass(frozen=True, slots=True)
class EventResponseRecord:
    """A VEN's oadrCreatedEvent answer to one modification of one event."""

    ven_id: str
    event_id: str
    modification_number: int
    opt_type: str  # optIn | optOut
    response_code: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OptWindow:
    """A window of an availability schedule."""

    start: datetime
    duration_seconds: int


@dataclass(frozen=True, slots=True)
class OptRecord:
    """An EiOpt: an availability schedule, or an opt in or out of one event. optIDs are the VEN's."""

    ven_id: str
    opt_id: str
    opt_type: str  # optIn | optOut
    opt_reason: str
    created_at: datetime
    market_context: str | None = None
    event_id: str | None = None
    modification_number: int | None = None
    resource_ids: tuple[str, ...] = ()
    windows: tuple[OptWindow, ...] = ()
    cancelled_at: datetime | None = None


# ---- reports: what a VEN offers, what the VTN asked for, the values -----------------------------


@dataclass(frozen=True, slots=True)
class ReportRegistrationRecord:
    """A report the VEN offers (one oadrReport of its oadrRegisterReport METADATA).

    `descriptions`: one entry per rID, {"r_id", "report_type", "reading_type", "resource_id",
    "units", "sampling": {"min_period_seconds", "max_period_seconds"}}."""

    ven_id: str
    report_specifier_id: str
    report_name: str  # as sent, e.g. METADATA_TELEMETRY_USAGE
    descriptions: tuple[dict[str, Any], ...]
    created_at: datetime
    report_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRequestRecord:
    """A report the VTN asked a VEN for (oadrCreateReport).

    `r_ids`: the specifierPayloads asked for, {"r_id", "reading_type"} each."""

    report_request_id: str
    ven_id: str
    report_specifier_id: str
    report_name: str
    r_ids: tuple[dict[str, Any], ...]
    granularity_seconds: int
    report_back_seconds: int
    created_at: datetime
    acknowledged_at: datetime | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportRequestOwner:
    """Who a report request belongs to and what it asked for (all a report's values need)."""

    report_request_id: str
    ven_id: str
    report_name: str
    r_ids: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ReportValueRecord:
    """One stored value of an oadrUpdateReport: `value` of rID `r_id` over the interval from `dtstart`."""

    ven_id: str
    report_request_id: str
    report_name: str
    r_id: str
    dtstart: datetime
    duration_seconds: int
    value: float
    received_at: datetime


# ---- the closed loop's market inputs and dispatch -------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """Day-ahead prices [EUR/kWh] per slot from `start`, as a market party sent them."""

    id: int
    start: datetime
    resolution_minutes: int
    import_eur_per_kwh: tuple[float, ...]
    export_eur_per_kwh: tuple[float, ...]
    capacity_eur_per_kw_month: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImbalanceRecord:
    """Imbalance prices [EUR/kWh] against a nominated portfolio net import [kW] per slot."""

    id: int
    start: datetime
    resolution_minutes: int
    imbalance_eur_per_kwh: tuple[float, ...]
    nominated_net_kw: tuple[float, ...] | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A DR request: a cap or floor on the portfolio's net import `power_kw` [kW] over [start, end)."""

    request_id: str
    kind: WindowKind
    start: datetime
    end: datetime
    power_kw: float
    reason: str
    created_at: datetime
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """The LOAD_DISPATCH event that carries a VEN's current schedule [kW per slot from `start`]."""

    ven_id: str
    event_id: str
    run_id: str
    start: datetime
    resolution_minutes: int
    setpoint_kw: tuple[float, ...]
    updated_at: datetime


# ---- a household's preferences (aggregator/preferences.py) -------------------------------------


@dataclass(frozen=True, slots=True)
class PreferencesRecord:
    """What a household set in its app, as stored; the values are checked by the use case."""

    site_id: str
    charge_mode: str  # smart | solar | boost | off
    updated_at: datetime
    ev_target_kwh: float | None = None
    departure_local: str | None = None  # "HH:MM" in the site's time zone
    departure_by_weekday: dict[str, str] | None = None  # {"mon": "07:30", ...}
    solar_min_kwh: float | None = None
    battery_reserve_percent: float | None = None
    max_peak_kw: float | None = None
    notify_url: str | None = None
    charging_action: str | None = None  # start | stop
    charging_action_at: datetime | None = None
