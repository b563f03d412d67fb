"""The VTN's tables: every piece of OpenADR protocol state lives here, so restarts lose nothing.

Timestamps are tz-aware UTC (`DateTime(timezone=True)`); SQLite hands them back naive, so
repositories pass every value through `as_utc` when they read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets BIGINT for large tables.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite drops the zone; every stored time is UTC, so put it back."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class Ven(Base):
    """A VEN: pre-provisioned by an operator (ven_name, site) and later registered over OpenADR."""

    __tablename__ = "vens"

    ven_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ven_name: Mapped[str] = mapped_column(String(128), unique=True)
    site_id: Mapped[str] = mapped_column(String(128), index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    registration_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    registered_at: Mapped[datetime | None]
    profile_name: Mapped[str | None] = mapped_column(String(8))
    transport_name: Mapped[str | None] = mapped_column(String(16))
    report_only: Mapped[bool] = mapped_column(Boolean, default=False)
    xml_signature: Mapped[bool] = mapped_column(Boolean, default=False)  # what the VEN said at registration
    # Must this VEN sign its messages: required | optional | off; None = the VTN's xml_signatures setting.
    xml_signatures: Mapped[str | None] = mapped_column(String(8))
    http_pull_model: Mapped[bool] = mapped_column(Boolean, default=True)
    last_poll_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A VTN-initiated message for the VEN's polls (oldest first), delivered at least once.

    It goes out in a poll reply (`sent_at`, `send_count`, the same `request_id` every time) and
    again until the VEN acknowledges it (docs/vtn.md). `delivered_at` marks it done: acknowledged
    (`acked_at`), no longer applicable, or given up after `outbox_max_sends` sends.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "ven_id", "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]  # the last time it went out
    send_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    written_at: Mapped[datetime | None]  # the reply of the last send was written out whole
    acked_at: Mapped[datetime | None]


class Event(Base):
    """A DR event. `intervals` is a list of {start (ISO), duration_seconds, value}."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    modification_number: Mapped[int] = mapped_column(Integer, default=0)
    market_context: Mapped[str] = mapped_column(String(256))
    signal_name: Mapped[str] = mapped_column(String(64))
    signal_type: Mapped[str] = mapped_column(String(32))
    signal_id: Mapped[str] = mapped_column(String(64))
    units: Mapped[dict[str, Any] | None]
    intervals: Mapped[list[Any]]
    dtstart: Mapped[datetime]
    duration_seconds: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    ramp_up_seconds: Mapped[int] = mapped_column(Integer, default=0)
    start_after_seconds: Mapped[int] = mapped_column(Integer, default=0)
    response_required: Mapped[str] = mapped_column(String(16), default="always")
    test_event: Mapped[bool] = mapped_column(Boolean, default=False)
    vtn_comment: Mapped[str | None] = mapped_column(Text)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventTarget(Base):
    __tablename__ = "event_targets"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)


class EventResponse(Base):
    """A VEN's oadrCreatedEvent answer to one modification of one event."""

    __tablename__ = "event_responses"

    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True)
    modification_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    opt_type: Mapped[str] = mapped_column(String(16))
    response_code: Mapped[str] = mapped_column(String(8), default="200")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Opt(Base):
    """An EiOpt schedule or event-scoped opt. optIDs are the VEN's, so they are unique per VEN."""

    __tablename__ = "opts"

    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)
    opt_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opt_type: Mapped[str] = mapped_column(String(16))
    opt_reason: Mapped[str] = mapped_column(String(64))
    market_context: Mapped[str | None] = mapped_column(String(256))
    event_id: Mapped[str | None] = mapped_column(String(64))
    modification_number: Mapped[int | None] = mapped_column(Integer)
    resource_ids: Mapped[list[Any] | None]
    # Availability windows: [{"start": ISO, "duration_seconds": n}]
    windows: Mapped[list[Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]


class ReportRegistration(Base):
    """A report the VEN offers (from its oadrRegisterReport METADATA)."""

    __tablename__ = "report_registrations"

    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)
    report_specifier_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_name: Mapped[str] = mapped_column(String(64))
    report_request_id: Mapped[str | None] = mapped_column(String(64))
    # One entry per rID: {"r_id", "report_type", "reading_type", "resource_id", "units", "sampling"}
    descriptions: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportRequest(Base):
    """A report the VTN asked a VEN for (oadrCreateReport); cancelled with oadrCancelReport."""

    __tablename__ = "report_requests"

    report_request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), index=True)
    report_specifier_id: Mapped[str] = mapped_column(String(128))
    report_name: Mapped[str] = mapped_column(String(64))
    r_ids: Mapped[list[Any]]
    granularity_seconds: Mapped[int] = mapped_column(Integer)
    report_back_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class ReportValue(Base):
    """One value of an oadrUpdateReport. The unique key makes a re-sent report idempotent."""

    __tablename__ = "report_values"
    __table_args__ = (
        UniqueConstraint("ven_id", "report_request_id", "r_id", "dtstart", name="uq_report_values_sample"),
        Index("ix_report_values_ven_time", "ven_id", "dtstart"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"))
    report_request_id: Mapped[str] = mapped_column(String(64))
    report_name: Mapped[str] = mapped_column(String(64))
    # An rID (at most 128 characters: vtn/openadr/limits.py), or for a field of a resource
    # status the rID and the field's path, at most 30 more (`.../oadrPercentOffset/oadrCurrent`,
    # aggregator/resource_status.py).
    r_id: Mapped[str] = mapped_column(String(158))
    dtstart: Mapped[datetime]
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignatureNonce(Base):
    """A ReplayProtect nonce already accepted in a signed message; shared by every VTN process.

    The primary key makes claiming a nonce atomic across processes. Rows whose `signed_at` has
    left the replay window are pruned (a replay of them is refused by its timestamp anyway).
    """

    __tablename__ = "signature_nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    ven_id: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A REST bearer token. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128))
    site_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# ---- The aggregator's closed loop (market inputs, planning runs, dispatch) --------------------


class PriceSeries(Base):
    """Day-ahead import/export prices [EUR/kWh] per slot from `start`; the newest covering a slot wins."""

    __tablename__ = "price_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    start: Mapped[datetime]
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    import_eur_per_kwh: Mapped[list[Any]]
    export_eur_per_kwh: Mapped[list[Any]]
    capacity_eur_per_kw_month: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImbalanceSignal(Base):
    """Imbalance prices [EUR/kWh] against a nominated portfolio net import [kW] per slot."""

    __tablename__ = "imbalance_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    start: Mapped[datetime]
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    imbalance_eur_per_kwh: Mapped[list[Any]]
    nominated_net_kw: Mapped[list[Any] | None]
    reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortfolioRequest(Base):
    """A DR request: a cap or floor on the portfolio's net import [kW] over [start, end)."""

    __tablename__ = "portfolio_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # cap | floor
    start: Mapped[datetime]
    end: Mapped[datetime]
    power_kw: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]


class PlanningRun(Base):
    """One portfolio planning run: why it ran, what went in, what came out, how long it took."""

    __tablename__ = "planning_runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16))
    solver: Mapped[str] = mapped_column(String(64))
    gap: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]]
    plan: Mapped[dict[str, Any] | None]
    dispatch: Mapped[dict[str, Any] | None]


class VenDispatch(Base):
    """The LOAD_DISPATCH event that carries a VEN's current schedule (modified on every re-plan)."""

    __tablename__ = "ven_dispatch"

    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    setpoint_kw: Mapped[list[Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SitePreferences(Base):
    """What a household set in its app (aggregator/preferences.py); one row per site, kept when
    its VEN is re-provisioned."""

    __tablename__ = "site_preferences"

    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    charge_mode: Mapped[str] = mapped_column(String(8))  # smart | solar | boost | off
    ev_target_kwh: Mapped[float | None] = mapped_column(Float)
    departure_local: Mapped[str | None] = mapped_column(String(5))  # HH:MM, the site's time zone
    departure_by_weekday: Mapped[dict[str, Any] | None]  # {"mon": "07:30", ...}
    solar_min_kwh: Mapped[float | None] = mapped_column(Float)
    battery_reserve_percent: Mapped[float | None] = mapped_column(Float)
    max_peak_kw: Mapped[float | None] = mapped_column(Float)
    notify_url: Mapped[str | None] = mapped_column(String(2048))
    charging_action: Mapped[str | None] = mapped_column(String(8))  # start | stop (POST .../charging)
    charging_action_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteNotification(Base):
    """A notification for a household's webhook, kept until its receiver acknowledges it (2xx);
    `id` is the receiver's idempotency key (aggregator/notifications.py)."""

    __tablename__ = "site_notifications"
    __table_args__ = (
        Index("ix_site_notifications_due", "state", "next_attempt_at"),
        Index("ix_site_notifications_site", "site_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime]  # while an attempt is in flight: the end of its claim
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class SiteWebhook(Base):
    """Where a site's notifications go, and the secret that signs them (HMAC-SHA256: the secret
    itself is needed to sign, so it is stored as is)."""

    __tablename__ = "site_webhooks"

    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class SitePv(Base):
    """A site's PV array, for the pvlib solar forecast (aggregator/solar_forecast.py); one per site."""

    __tablename__ = "site_pv"

    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    latitude_deg: Mapped[float] = mapped_column(Float)
    longitude_deg: Mapped[float] = mapped_column(Float)
    peak_power_kw: Mapped[float] = mapped_column(Float)
    tilt_deg: Mapped[float] = mapped_column(Float)
    azimuth_deg: Mapped[float] = mapped_column(Float)  # clockwise from north: 180 = south
    losses_percent: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]


class IrradianceForecast(Base):
    """The latest irradiance forecast of a point (the market integration's PUT /weather/irradiance):
    a new one for the same point replaces it."""

    __tablename__ = "irradiance_forecasts"
    __table_args__ = (UniqueConstraint("latitude_deg", "longitude_deg"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    latitude_deg: Mapped[float] = mapped_column(Float)
    longitude_deg: Mapped[float] = mapped_column(Float)
    start: Mapped[datetime]
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    ghi_w_per_m2: Mapped[list[Any]]
    temp_air_c: Mapped[list[Any] | None]
    received_at: Mapped[datetime]


# ---- The OpenADR 3.1 face (aggregator/openadr3.py) ---------------------------------------------


class Oa3Client(Base):
    """An OAuth2 client of the 3.1 face; only the SHA-256 of its secret is stored."""

    __tablename__ = "oa3_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(8))  # bl | ven
    ven_name: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Oa3Token(Base):
    """An access token issued by POST /openadr3/auth/token (its SHA-256) and the scopes it grants."""

    __tablename__ = "oa3_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oa3_clients.client_id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Oa3ObjectRow(Base):
    """A 3.1 object (program, resource, report, subscription; what a 2.0b event or VEN lacks) as
    the spec's JSON in `body`, with the columns it is looked up by."""

    __tablename__ = "oa3_objects"
    __table_args__ = (
        UniqueConstraint("object_type", "unique_key", name="uq_oa3_objects_unique_key"),
        Index("ix_oa3_objects_ven", "object_type", "ven_id"),
    )

    object_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(128))
    # A VEN's objects go with it (its resources, reports, the 3.1 part of it).
    ven_id: Mapped[str | None] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"))
    program_id: Mapped[str | None] = mapped_column(String(128), index=True)
    event_id: Mapped[str | None] = mapped_column(String(128), index=True)
    name: Mapped[str | None] = mapped_column(String(128))
    unique_key: Mapped[str | None] = mapped_column(String(300))
    market_context: Mapped[str | None] = mapped_column(String(256), unique=True)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class HealthCheck(Base):
    """The last time `GET /health` wrote to the database, per VTN id: the write is the check (a
    full disk or a read-only database fails it; a SELECT would still answer)."""

    __tablename__ = "health_checks"

    vtn_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    checked_at: Mapped[datetime]


class ProgramTerms(Base):
    """A DR program's terms (aggregator/settlement.py), one per event market context."""

    __tablename__ = "program_terms"

    market_context: Mapped[str] = mapped_column(String(256), primary_key=True)
    reward_eur_per_kwh: Mapped[float] = mapped_column(Float)
    penalty_eur_per_kwh: Mapped[float] = mapped_column(Float)
    baseline_method: Mapped[str] = mapped_column(String(32))
    committed_kw: Mapped[float | None] = mapped_column(Float)
    reward_cap_eur: Mapped[float | None] = mapped_column(Float)
    penalty_cap_eur: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class SettlementStatement(Base):
    """A closed month's statement of one home in one program, with the inputs it was priced from
    (written once: a re-run of the month prices the same inputs)."""

    __tablename__ = "settlement_statements"
    __table_args__ = (UniqueConstraint("month", "market_context", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    market_context: Mapped[str] = mapped_column(String(256))
    site_id: Mapped[str] = mapped_column(String(128))
    ven_id: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime]
    content: Mapped[dict[str, Any]]


class LoopState(Base):
    """The planning loop's bookkeeping by name (`dayahead`: when the last day-ahead run was
    queued), so the instance that takes the loop over resumes it (vtn/db/loop_state.py)."""

    __tablename__ = "loop_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime | None]


class LoopExclusion(Base):
    """A home the loop stopped steering (aggregator/watch.py), with its load held fixed."""

    __tablename__ = "loop_exclusions"

    ven_id: Mapped[str] = mapped_column(ForeignKey("vens.ven_id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    fixed_kw: Mapped[float] = mapped_column(Float)
    excluded_at: Mapped[datetime]


class ReplanRequest(Base):
    """A re-plan asked of the loop by any instance (a DR request, an imbalance signal, a changed
    preference; `on_demand`: a run whose record the asker waits for). The leader takes the
    pending ones (`done_at` empty) into its next run and marks them done with that run's id."""

    __tablename__ = "replan_requests"
    __table_args__ = (Index("ix_replan_requests_pending", "done_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reason: Mapped[str] = mapped_column(Text)
    on_demand: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None]


class Oa3Notification(Base):
    """An OpenADR 3.1 notification of a change, kept until every destination has it
    (aggregator/openadr3_notifications.py). `rendered` and `destinations` are filled on its first
    delivery round (a DELETE brings `rendered` along); `destinations` then keeps those left."""

    __tablename__ = "oa3_notifications"
    __table_args__ = (Index("ix_oa3_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    rendered: Mapped[dict[str, Any] | None]
    destinations: Mapped[list[Any] | None]
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime]  # while an attempt is in flight: the end of its claim
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
