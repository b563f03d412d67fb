"""The repositories the use cases need, as ports: one Protocol per repository.

Each names only the methods some use case calls, and takes and returns records
(aggregator/records.py), never ORM rows. vtn/db/repos implements them on SQLAlchemy;
tests/unit/aggregator/fakes.py in memory. A new use case adds the methods it needs here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from aggregator.inputs import WindowKind
from aggregator.meter_records import ValueBucket
from aggregator.notification_records import DeliveryState, NotificationRecord, WebhookRecord
from aggregator.openadr3_notification_records import Destination, Oa3NotificationRecord, RenderedObject
from aggregator.openadr3_records import AccessTokenRecord, ClientRecord, Oa3Object, ObjectType
from aggregator.ports import RunRecord
from aggregator.records import (
    DispatchRecord,
    EventRecord,
    EventResponseRecord,
    ImbalanceRecord,
    OptRecord,
    OutboxRecord,
    PreferencesRecord,
    PriceRecord,
    ReportRegistrationRecord,
    ReportRequestRecord,
    ReportValueRecord,
    RequestRecord,
    VenRecord,
)
from aggregator.settlement_records import ProgramTermsRecord, StatementRecord
from aggregator.solar_records import IrradianceRecord, PvParametersRecord


class VenRepository(Protocol):
    async def get(self, ven_id: str) -> VenRecord | None: ...

    async def by_name(self, ven_name: str) -> VenRecord | None: ...

    def add(self, ven: VenRecord) -> None:
        """A new VEN, stored when the unit of work commits (ven_name is unique: a taken one fails then)."""
        ...

    async def save(self, ven: VenRecord) -> None:
        """Write what changed on the VEN since this unit of work read it."""
        ...

    async def all(self) -> list[VenRecord]:
        """Every VEN, by created_at, then venID."""
        ...

    async def existing_ids(self, ven_ids: Iterable[str]) -> set[str]:
        """Those of the venIDs that are stored."""
        ...

    async def registered(self) -> list[VenRecord]:
        """Every VEN that is registered now, by venID."""
        ...

    async def of_site(self, site_id: str) -> list[VenRecord]:
        """The site's VENs, the newest (created_at, then venID) first."""
        ...

    async def remove(self, ven_id: str) -> bool:
        """Forget the VEN and everything stored of it (its events' targets, outbox, reports...);
        False if there was no such VEN."""
        ...


class EventRepository(Protocol):
    """DR events, the VENs each targets, and the VENs' oadrCreatedEvent answers."""

    async def get(self, event_id: str) -> EventRecord | None: ...

    async def get_many(self, event_ids: Sequence[str]) -> list[EventRecord]:
        """The stored ones among the events, in no particular order."""
        ...

    async def all(self) -> list[EventRecord]:
        """Every event, cancelled ones included, by dtstart, then eventID."""
        ...

    def add(self, event: EventRecord) -> None:
        """A new event, stored when the unit of work commits."""
        ...

    async def save(self, event: EventRecord) -> None:
        """An event read in this unit of work, changed (a replaced copy)."""
        ...

    async def set_targets(self, event_id: str, ven_ids: Iterable[str]) -> None:
        """The VENs the event targets from now on (replacing the ones before)."""
        ...

    async def targets(self, event_ids: Sequence[str]) -> dict[str, list[str]]:
        """eventID -> the venIDs it targets, in venID order (an entry for every eventID asked)."""
        ...

    async def live_for_vens(
        self, ven_ids: Sequence[str], market_context: str
    ) -> list[tuple[EventRecord, str]]:
        """(event, venID) for each live (not cancelled) event of the context targeting the VENs."""
        ...

    async def responses(self, event_ids: Sequence[str]) -> list[EventResponseRecord]:
        """Every oadrCreatedEvent answer stored for the events, any modification."""
        ...

    async def record_response(
        self, ven_id: str, event_id: str, modification_number: int, opt_type: str, code: str, now: datetime
    ) -> None:
        """Store the VEN's answer to one modification, replacing an earlier answer to it."""
        ...

    async def live_for_ven(self, ven_id: str) -> list[EventRecord]:
        """Events targeting the VEN that are not cancelled, in no particular order."""
        ...

    async def answered(self, ven_id: str, event_ids: Sequence[str]) -> dict[str, int]:
        """eventID -> the highest modificationNumber the VEN answered (oadrCreatedEvent)."""
        ...

    async def windows(self, event_ids: Sequence[str]) -> dict[str, tuple[datetime, int]]:
        """eventID -> (dtstart, duration in seconds) of the stored ones among the events."""
        ...


class OptRepository(Protocol):
    """EiOpt records, keyed by (VEN, optID): optIDs are the VEN's, unique per VEN."""

    async def get(self, ven_id: str, opt_id: str) -> OptRecord | None: ...

    def add(self, opt: OptRecord) -> None:
        """A new opt, stored when the unit of work commits."""
        ...

    async def save(self, opt: OptRecord) -> None:
        """An opt read in this unit of work, changed (the records are frozen: a replaced copy)."""
        ...

    async def for_ven(self, ven_id: str) -> list[OptRecord]:
        """The VEN's opts, cancelled ones included, oldest first."""
        ...

    async def live_for_events(self, event_ids: Sequence[str]) -> list[OptRecord]:
        """The event-scoped opts of the events that are not cancelled, oldest first."""
        ...


class OutboxRepository(Protocol):
    """The per-VEN outbox (aggregator/outbox.py). A message is pending until `delivered_at` is set."""

    def enqueue(self, ven_id: str, message_type: str, payload: dict[str, Any], now: datetime) -> None:
        """A new message, stored when the unit of work commits (its id is assigned then)."""
        ...

    async def last_pending(self, ven_id: str) -> OutboxRecord | None: ...

    async def merge_payload(self, message_id: int, payload: dict[str, Any]) -> bool:
        """Replace a message's payload if it has not gone out yet; False if it has."""
        ...

    async def sent_since(self, ven_id: str, message_type: str, since: datetime) -> list[OutboxRecord]:
        """Messages of the type that went out (at least once) since `since`, done or not."""
        ...

    async def prune_delivered(self, before: datetime) -> int:
        """Delete the messages done before `before`; how many."""
        ...

    async def discard_pending(self, ven_id: str) -> None:
        """Delete the VEN's messages that are not done (its registration ended)."""
        ...

    async def save(self, message: OutboxRecord) -> None:
        """Write what changed on a message read in this unit of work (its requestID, its payload)."""
        ...

    async def next_due(self, ven_id: str, sent_before: datetime) -> OutboxRecord | None:
        """The oldest pending message that never went out or last went out at or before
        `sent_before` (a second worker skips the one this unit of work holds)."""
        ...

    async def claim(self, message_id: int, now: datetime, sent_before: datetime) -> OutboxRecord | None:
        """Count a send of the message if it is still pending and due, and return it as it is
        then; None if another worker sent it (or it was done) meanwhile."""
        ...

    async def in_flight(self, ven_id: str) -> list[OutboxRecord]:
        """Pending messages that went out at least once, by id: they wait for the VEN's acknowledgement."""
        ...

    async def unsent(self, ven_id: str) -> list[OutboxRecord]:
        """Pending messages that have not gone out yet, by id."""
        ...

    async def finish(self, message_id: int, now: datetime, acknowledged: bool) -> bool:
        """Mark a message done if it still is pending; False if it was done already."""
        ...

    async def absorb(
        self, ven_id: str, message_type: str, keep_id: int, now: datetime
    ) -> list[dict[str, Any]]:
        """Mark every other pending message of the VEN and type done; their payloads."""
        ...

    async def mark_written(self, message_id: int, send_count: int, at: datetime) -> None:
        """The reply carrying send `send_count` of the message (still pending) was written out whole."""
        ...


class ReportRepository(Protocol):
    """EiReport: what each VEN offers (METADATA), what the VTN asked it for, the values it sent.

    Value rows are dicts with the fields of ReportValueRecord (inserted as executemany parameters)."""

    async def replace_registrations(
        self, ven_id: str, registrations: Sequence[ReportRegistrationRecord]
    ) -> None:
        """The VEN's METADATA replaces what it offered before."""
        ...

    async def registrations(self, ven_id: str) -> list[ReportRegistrationRecord]: ...

    def add_request(self, request: ReportRequestRecord) -> None:
        """A new report request, stored when the unit of work commits."""
        ...

    async def get_request(self, report_request_id: str) -> ReportRequestRecord | None: ...

    async def live_requests(self, ven_id: str) -> list[ReportRequestRecord]:
        """The VEN's requests not cancelled, oldest first."""
        ...

    async def cancel_request(self, report_request_id: str, now: datetime) -> None:
        """Mark the request cancelled (unless it already is)."""
        ...

    async def acknowledge_request(self, report_request_id: str, now: datetime) -> None:
        """Mark the request acknowledged by the VEN (a first acknowledgement's time is kept)."""
        ...

    async def request_states(self, report_request_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """reportRequestID -> (cancelled, acknowledged by the VEN), for the stored ones."""
        ...

    async def cancel_live_requests(self, ven_id: str, now: datetime) -> None:
        """Cancel every live report request of the VEN (its registration ended, or it re-offered)."""
        ...

    async def add_values(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert report values; a (ven, request, rID, dtstart) already stored is skipped."""
        ...

    async def replace_values(self, ven_id: str, report_name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Replace every stored value of one of the VEN's reports (a report sent as a snapshot)."""
        ...

    async def values_of(self, ven_id: str, report_name: str) -> list[ReportValueRecord]:
        """The values of one of the VEN's reports, by rID, then dtstart."""
        ...

    async def latest_values(
        self, ven_id: str, report_name: str, window: timedelta
    ) -> list[ReportValueRecord]:
        """The newest value (by dtstart) of each rID of one of the VEN's reports, among the values
        no older than `window` before its newest one."""
        ...

    async def values(
        self, ven_id: str, since: datetime | None, until: datetime | None
    ) -> list[ReportValueRecord]:
        """The VEN's values with since <= dtstart < until, by dtstart, then rID, then arrival."""
        ...

    async def series(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[ReportValueRecord]:
        """The VEN's values of the rIDs (any report) with since <= dtstart < until, by rID, then
        dtstart, then arrival (a charger's or a meter's history, without the other devices')."""
        ...

    async def buckets(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime, bucket: timedelta
    ) -> list[ValueBucket]:
        """The VEN's values of the rIDs with since <= dtstart < until, summarised per `bucket`
        (aligned to the epoch, whole seconds), by rID, then time: a month of minute samples in a
        few thousand rows."""
        ...

    async def r_ids_ending(self, report_name: str, suffix: str) -> set[tuple[str, str]]:
        """(venID, rID) of the stored values of `report_name` whose rID ends with `suffix`."""
        ...


# ---- the closed loop: market inputs, planning runs, each home's dispatch event ----------------


class PriceRepository(Protocol):
    """Day-ahead prices, only ever added: the newest (highest id) are the current ones."""

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        import_eur_per_kwh: Sequence[float],
        export_eur_per_kwh: Sequence[float],
        capacity_eur_per_kw_month: float,
        created_at: datetime,
    ) -> PriceRecord:
        """Store new prices (the newest are the current ones); flushed, so the record has its id."""
        ...

    async def latest(self) -> PriceRecord | None: ...

    async def starting_between(self, since: datetime, until: datetime) -> list[PriceRecord]:
        """The prices with since <= start < until, oldest (lowest id) first: of two covering a
        slot, the later one stands."""
        ...


class ImbalanceRepository(Protocol):
    """Imbalance signals, only ever added: the newest (highest id) is the current one."""

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        imbalance_eur_per_kwh: Sequence[float],
        nominated_net_kw: Sequence[float] | None,
        reason: str | None,
        created_at: datetime,
    ) -> ImbalanceRecord:
        """Store a new imbalance signal; flushed, so the record has its id."""
        ...

    async def latest(self) -> ImbalanceRecord | None: ...


class RequestRepository(Protocol):
    """DR requests of the market: caps and floors on the portfolio's net import."""

    async def add(
        self,
        kind: WindowKind,
        start: datetime,
        end: datetime,
        power_kw: float,
        reason: str,
        created_at: datetime,
        request_id: str | None = None,
    ) -> RequestRecord:
        """Store a new request (a fresh requestID unless one is given)."""
        ...

    async def get(self, request_id: str) -> RequestRecord | None: ...

    async def all(self) -> list[RequestRecord]:
        """Every request, cancelled ones included, by created_at."""
        ...

    async def live(self) -> list[RequestRecord]:
        """The requests not cancelled (over or not: the caller knows what time it is), by created_at."""
        ...

    async def cancel(self, request_id: str, now: datetime) -> RequestRecord | None:
        """Mark the request cancelled at `now`; None if there is no such request. The caller checks
        that it is live (a cancelled one would get the new time)."""
        ...


class PreferenceRepository(Protocol):
    """A household's preferences, one per site."""

    async def get(self, site_id: str) -> PreferencesRecord | None: ...

    async def put(self, preferences: PreferencesRecord) -> None:
        """Insert or replace the site's preferences."""
        ...

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, PreferencesRecord]:
        """The stored preferences of these sites, by site (sites without any are left out)."""
        ...


class RunRepository(Protocol):
    """Planning runs: their inputs, plan and dispatch, as recorded."""

    def add(self, run: RunRecord) -> None:
        """Store a run (its trigger cut to the column's length, 64)."""
        ...

    async def get(self, run_id: str) -> RunRecord | None: ...

    async def newest(self, limit: int) -> list[RunRecord]:
        """The `limit` newest runs, newest (by started_at) first."""
        ...

    async def latest_planned(self) -> RunRecord | None:
        """The newest run that did not fail (of two started at once, the longer: it planned)."""
        ...

    async def latest_planned_before(self, at: datetime) -> RunRecord | None:
        """The newest run that did not fail and started before `at` (as latest_planned)."""
        ...


class DispatchRepository(Protocol):
    """Which LOAD_DISPATCH event carries each VEN's schedule, and the schedule it carries."""

    async def get(self, ven_id: str) -> DispatchRecord | None: ...

    async def of_vens(self, ven_ids: Sequence[str]) -> dict[str, DispatchRecord]:
        """venID -> its record, for those of the VENs that have one."""
        ...

    async def all(self) -> dict[str, DispatchRecord]: ...

    async def save(self, records: Sequence[DispatchRecord]) -> None:
        """Insert or replace each VEN's record."""
        ...

    async def remove(self, ven_id: str) -> DispatchRecord | None:
        """Forget the VEN's dispatch event; the record it had, or None."""
        ...


# ---- the customer app: a site's notifications and its webhook (aggregator/notifications.py) -----


class NotificationRepository(Protocol):
    """The durable outbox of the households' webhooks."""

    def add(self, notification: NotificationRecord) -> None:
        """A new notification, stored when the unit of work commits."""
        ...

    async def of_site(
        self, site_id: str, limit: int, state: DeliveryState | None = None
    ) -> list[NotificationRecord]:
        """The site's newest `limit` notifications (of that state, if given), newest first."""
        ...

    async def due(self, now: datetime, limit: int) -> list[NotificationRecord]:
        """Up to `limit` pending notifications whose next attempt is at or before `now`, oldest
        first; on PostgreSQL those another transaction holds are skipped."""
        ...

    async def claim(self, notification_id: str, now: datetime, until: datetime) -> NotificationRecord | None:
        """Count an attempt and hold the notification until `until` (its next_attempt_at), if it is
        still pending and due at `now`; as it is then, or None if another worker claimed it or it
        was delivered meanwhile. One conditional UPDATE: of two claims, one wins."""
        ...

    async def mark_delivered(self, notification_id: str, now: datetime) -> bool:
        """Delivered at `now`, if it was pending; False if it was delivered already."""
        ...

    async def mark_failed(
        self, notification_id: str, attempts: int, error: str, next_attempt_at: datetime
    ) -> bool:
        """Record a failed attempt and when to try again, if it is still pending and its attempt
        `attempts` is the newest (a later claim's outcome is not overwritten)."""
        ...

    async def prune_delivered(self, before: datetime) -> int:
        """Forget the notifications delivered before `before` (pending ones stay); how many."""
        ...


class Oa3NotificationRepository(Protocol):
    """The durable outbox of OpenADR 3.1 notifications (aggregator/openadr3_notifications.py)."""

    def add(self, notification: Oa3NotificationRecord) -> None:
        """A new notification, stored when the unit of work commits."""
        ...

    async def get(self, notification_id: str) -> Oa3NotificationRecord | None: ...

    async def due(self, now: datetime, limit: int) -> list[Oa3NotificationRecord]:
        """Up to `limit` pending notifications due at `now`, oldest first (as NotificationRepository)."""
        ...

    async def claim(
        self, notification_id: str, now: datetime, until: datetime
    ) -> Oa3NotificationRecord | None:
        """Count an attempt and hold it until `until`, if still pending and due; else None.
        One conditional UPDATE: of two claims, one wins."""
        ...

    async def resolve(
        self, notification_id: str, rendered: RenderedObject, destinations: tuple[Destination, ...]
    ) -> None:
        """Store the rendered object and where it goes (its first round)."""
        ...

    async def mark_delivered(self, notification_id: str, now: datetime, note: str | None = None) -> bool:
        """Delivered at `now` (`note`: why nothing was sent, if so), if it was pending."""
        ...

    async def mark_failed(
        self,
        notification_id: str,
        attempts: int,
        error: str,
        next_attempt_at: datetime,
        remaining: tuple[Destination, ...],
    ) -> bool:
        """Only `remaining` still to do, from `next_attempt_at`; if still pending and `attempts`
        is its newest attempt (a later claim's outcome is not overwritten)."""
        ...

    async def prune_delivered(self, before: datetime) -> int:
        """Forget the notifications delivered before `before`; how many."""
        ...


class WebhookRepository(Protocol):
    async def get(self, site_id: str) -> WebhookRecord | None: ...

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, WebhookRecord]:
        """site_id -> its webhook, for those of the sites that have one."""
        ...

    def add(self, webhook: WebhookRecord) -> None:
        """A site's first webhook (site_id is the key: a second add fails at commit)."""
        ...

    async def save(self, webhook: WebhookRecord) -> None:
        """Replace the site's stored webhook (url, secret)."""
        ...

    async def remove(self, site_id: str) -> bool:
        """Forget the site's webhook; False if it had none."""
        ...


class SolarRepository(Protocol):
    """Sites' PV arrays and the regions' latest irradiance forecasts (aggregator/solar_forecast.py)."""

    async def pv_of(self, site_id: str) -> PvParametersRecord | None: ...

    async def put_pv(self, pv: PvParametersRecord) -> None:
        """Replace the site's PV array (one per site)."""
        ...

    async def put_irradiance(self, forecast: IrradianceRecord) -> None:
        """Replace the forecast of the forecast's point (latitude, longitude): the latest wins."""
        ...

    async def irradiance_forecasts(self) -> list[IrradianceRecord]:
        """The latest forecast of every point."""
        ...


# ---- the OpenADR 3.1 face (aggregator/openadr3*.py) ----------------------------------------------


class ClientRepository(Protocol):
    """OAuth2 clients (a hashed secret each) and the access tokens issued to them (hashed too)."""

    def add(self, client: ClientRecord) -> None:
        """A new client, stored when the unit of work commits."""
        ...

    async def get(self, client_id: str) -> ClientRecord | None: ...

    async def save(self, client: ClientRecord) -> None:
        """Write a client read in this unit of work, changed (its VEN's name)."""
        ...

    async def of_ven_name(self, ven_name: str) -> list[ClientRecord]:
        """The clients acting for the VEN of that name, oldest first."""
        ...

    def add_token(self, token: AccessTokenRecord) -> None:
        """A new access token, stored when the unit of work commits."""
        ...

    async def token(self, token_hash: str) -> AccessTokenRecord | None: ...

    async def prune_tokens(self, before: datetime) -> int:
        """Forget the tokens that expired before `before`; how many."""
        ...


class Oa3ObjectRepository(Protocol):
    """The 3.1 objects (aggregator/openadr3_records.py Oa3Object), by (type, id)."""

    def add(self, obj: Oa3Object) -> None:
        """A new object, stored when the unit of work commits (a taken unique key fails then)."""
        ...

    async def get(self, object_type: ObjectType, object_id: str) -> Oa3Object | None: ...

    async def get_many(self, object_type: ObjectType, object_ids: Sequence[str]) -> dict[str, Oa3Object]:
        """id -> object, for the stored ones among the ids."""
        ...

    async def save(self, obj: Oa3Object) -> None:
        """Replace a stored object (every column but its type, id and created_at)."""
        ...

    async def remove(self, object_type: ObjectType, object_id: str) -> bool:
        """Forget the object; False if there was none."""
        ...

    async def find(
        self,
        object_type: ObjectType,
        *,
        ven_id: str | None = None,
        program_id: str | None = None,
        event_id: str | None = None,
        client_id: str | None = None,
        unique_key: str | None = None,
        market_context: str | None = None,
    ) -> list[Oa3Object]:
        """The objects of the type with every given column equal, by created_at, then id."""
        ...


# ---- DR programs and their settlement (aggregator/settlement.py) --------------------------------


class ProgramRepository(Protocol):
    """DR programs' terms, one per market context."""

    async def get(self, market_context: str) -> ProgramTermsRecord | None: ...

    async def all(self) -> list[ProgramTermsRecord]:
        """Every program's terms, by market context."""
        ...

    async def put(self, terms: ProgramTermsRecord) -> None:
        """Insert or replace the program's terms."""
        ...


class StatementRepository(Protocol):
    """The statements of closed months: written once, then only read."""

    async def of_month(self, month: str) -> list[StatementRecord]:
        """The month's statements, by market context, then site."""
        ...

    async def add_new(self, statements: Sequence[StatementRecord]) -> None:
        """Store the statements; one already stored (month, market context, site) is kept as it is."""
        ...
