"""In-memory implementations of the aggregator's ports (aggregator/repositories.py, uow.py).

As in cosmicpython's tests/unit: dict-backed repositories and a unit of work that, like the
real one (vtn/db/uow.py), keeps what a use case changed only if it commits. The state a test
sets up and inspects is the committed state, `FakeUnitOfWork.stored`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from fake_oa3_notifications import FakeOa3NotificationRepository

from aggregator.inputs import WindowKind
from aggregator.meter_records import ValueBucket
from aggregator.notification_records import DeliveryState, NotificationRecord, WebhookRecord
from aggregator.openadr3_notification_records import Oa3NotificationRecord
from aggregator.openadr3_records import AccessTokenRecord, ClientRecord, Oa3Object, ObjectType
from aggregator.ports import PollNotifier, RecentPolls, RunRecord
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
from aggregator.uow import UnitOfWork


@dataclass
class Stored:
    """What the fake database holds: records by key."""

    vens: dict[str, VenRecord] = field(default_factory=dict)
    events: dict[str, EventRecord] = field(default_factory=dict)
    event_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # eventID -> venIDs
    # (venID, eventID, modificationNumber) -> the VEN's oadrCreatedEvent answer
    event_responses: dict[tuple[str, str, int], EventResponseRecord] = field(default_factory=dict)
    opts: dict[tuple[str, str], OptRecord] = field(default_factory=dict)
    outbox: dict[int, OutboxRecord] = field(default_factory=dict)
    report_registrations: dict[tuple[str, str], ReportRegistrationRecord] = field(default_factory=dict)
    report_requests: dict[str, ReportRequestRecord] = field(default_factory=dict)
    report_values: dict[int, ReportValueRecord] = field(default_factory=dict)  # by autoincrement id
    prices: dict[int, PriceRecord] = field(default_factory=dict)  # by autoincrement id
    imbalance: dict[int, ImbalanceRecord] = field(default_factory=dict)  # by autoincrement id
    requests: dict[str, RequestRecord] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    dispatches: dict[str, DispatchRecord] = field(default_factory=dict)  # by venID
    preferences: dict[str, PreferencesRecord] = field(default_factory=dict)  # by siteID
    notifications: dict[str, NotificationRecord] = field(default_factory=dict)
    webhooks: dict[str, WebhookRecord] = field(default_factory=dict)  # by site_id
    pv: dict[str, PvParametersRecord] = field(default_factory=dict)  # by site_id
    irradiance: dict[tuple[float, float], IrradianceRecord] = field(default_factory=dict)  # by point
    oa3_clients: dict[str, ClientRecord] = field(default_factory=dict)
    oa3_tokens: dict[str, AccessTokenRecord] = field(default_factory=dict)  # by token hash
    oa3_objects: dict[tuple[ObjectType, str], Oa3Object] = field(default_factory=dict)
    programs: dict[str, ProgramTermsRecord] = field(default_factory=dict)  # by market context
    # (month, market context, site) -> the closed month's statement
    statements: dict[tuple[str, str, str], StatementRecord] = field(default_factory=dict)
    oa3_notifications: dict[str, Oa3NotificationRecord] = field(default_factory=dict)

    def copy(self) -> Stored:
        # The records are frozen: a copy of each dict is a snapshot.
        return Stored(**{f.name: dict(getattr(self, f.name)) for f in fields(self)})


class FakeVenRepository:
    def __init__(self, vens: dict[str, VenRecord], stored: Stored | None = None) -> None:
        self._vens = vens
        self._stored = stored

    async def get(self, ven_id: str) -> VenRecord | None:
        return self._vens.get(ven_id)

    async def existing_ids(self, ven_ids: Iterable[str]) -> set[str]:
        return {v for v in ven_ids if v in self._vens}

    async def by_name(self, ven_name: str) -> VenRecord | None:
        return next((v for v in self._vens.values() if v.ven_name == ven_name), None)

    def add(self, ven: VenRecord) -> None:
        # The real table's keys are ven_id and the unique ven_name: a second add fails at commit there.
        assert ven.ven_id not in self._vens, f"VEN {ven.ven_id} is already stored"
        assert all(v.ven_name != ven.ven_name for v in self._vens.values()), f"{ven.ven_name} is taken"
        self._vens[ven.ven_id] = ven

    async def save(self, ven: VenRecord) -> None:
        assert ven.ven_id in self._vens, f"VEN {ven.ven_id} is not stored"
        self._vens[ven.ven_id] = ven

    async def all(self) -> list[VenRecord]:
        return sorted(self._vens.values(), key=lambda v: (v.created_at, v.ven_id))

    async def registered(self) -> list[VenRecord]:
        registered = [v for v in self._vens.values() if v.registration_id is not None]
        return sorted(registered, key=lambda v: v.ven_id)

    async def of_site(self, site_id: str) -> list[VenRecord]:
        mine = [v for v in self._vens.values() if v.site_id == site_id]
        return sorted(mine, key=lambda v: (v.created_at, v.ven_id), reverse=True)

    async def remove(self, ven_id: str) -> bool:
        """As the database's ON DELETE CASCADE: the VEN's targets, messages, values, 3.1 objects."""
        if self._vens.pop(ven_id, None) is None:
            return False
        stored = self._stored
        if stored is not None:
            for event_id, ven_ids in list(stored.event_targets.items()):
                stored.event_targets[event_id] = tuple(v for v in ven_ids if v != ven_id)
            for name in ("outbox", "report_values"):
                table = getattr(stored, name)
                for key in [k for k, m in table.items() if m.ven_id == ven_id]:
                    del table[key]
            for key in [k for k, o in stored.oa3_objects.items() if o.ven_id == ven_id]:
                del stored.oa3_objects[key]
        return True


class FakeEventRepository:
    def __init__(self, stored: Stored) -> None:
        self._events = stored.events
        self._targets = stored.event_targets
        self._responses = stored.event_responses

    async def get(self, event_id: str) -> EventRecord | None:
        return self._events.get(event_id)

    async def get_many(self, event_ids: Sequence[str]) -> list[EventRecord]:
        return [self._events[i] for i in dict.fromkeys(event_ids) if i in self._events]

    async def all(self) -> list[EventRecord]:
        return sorted(self._events.values(), key=lambda e: (e.dtstart, e.event_id))

    def add(self, event: EventRecord) -> None:
        assert event.event_id not in self._events, f"event {event.event_id} is already stored"
        self._events[event.event_id] = event

    async def save(self, event: EventRecord) -> None:
        assert event.event_id in self._events, f"event {event.event_id} is not stored"
        self._events[event.event_id] = event

    async def set_targets(self, event_id: str, ven_ids: Iterable[str]) -> None:
        # The real table's primary key is (event_id, ven_id): a VEN named twice fails there.
        targets = tuple(ven_ids)
        assert len(set(targets)) == len(targets), f"a VEN is named twice: {targets}"
        self._targets[event_id] = targets

    async def targets(self, event_ids: Sequence[str]) -> dict[str, list[str]]:
        return {i: sorted(self._targets.get(i, ())) for i in event_ids}

    async def live_for_vens(
        self, ven_ids: Sequence[str], market_context: str
    ) -> list[tuple[EventRecord, str]]:
        return [
            (event, ven_id)
            for event in self._events.values()
            if event.market_context == market_context and not event.cancelled
            for ven_id in self._targets.get(event.event_id, ())
            if ven_id in ven_ids
        ]

    async def responses(self, event_ids: Sequence[str]) -> list[EventResponseRecord]:
        return [r for r in self._responses.values() if r.event_id in event_ids]

    async def record_response(
        self, ven_id: str, event_id: str, modification_number: int, opt_type: str, code: str, now: datetime
    ) -> None:
        key = (ven_id, event_id, modification_number)
        self._responses[key] = EventResponseRecord(ven_id, event_id, modification_number, opt_type, code, now)

    async def live_for_ven(self, ven_id: str) -> list[EventRecord]:
        return [
            e
            for e in self._events.values()
            if not e.cancelled and ven_id in self._targets.get(e.event_id, ())
        ]

    async def answered(self, ven_id: str, event_ids: Sequence[str]) -> dict[str, int]:
        answered: dict[str, int] = {}
        for r in self._responses.values():
            if r.ven_id == ven_id and r.event_id in event_ids:
                answered[r.event_id] = max(
                    answered.get(r.event_id, r.modification_number), r.modification_number
                )
        return answered

    async def windows(self, event_ids: Sequence[str]) -> dict[str, tuple[datetime, int]]:
        return {i: (e.dtstart, e.duration_seconds) for i, e in self._events.items() if i in event_ids}


class FakeOptRepository:
    def __init__(self, opts: dict[tuple[str, str], OptRecord]) -> None:
        self._opts = opts

    async def get(self, ven_id: str, opt_id: str) -> OptRecord | None:
        return self._opts.get((ven_id, opt_id))

    def add(self, opt: OptRecord) -> None:
        # The real table's primary key is (ven_id, opt_id): a second add fails at commit there.
        assert (opt.ven_id, opt.opt_id) not in self._opts, f"opt {opt.opt_id} is already stored"
        self._opts[(opt.ven_id, opt.opt_id)] = opt

    async def save(self, opt: OptRecord) -> None:
        assert (opt.ven_id, opt.opt_id) in self._opts, f"opt {opt.opt_id} is not stored"
        self._opts[(opt.ven_id, opt.opt_id)] = opt

    async def for_ven(self, ven_id: str) -> list[OptRecord]:
        mine = [o for o in self._opts.values() if o.ven_id == ven_id]
        return sorted(mine, key=lambda o: (o.created_at, o.opt_id))

    async def live_for_events(self, event_ids: Sequence[str]) -> list[OptRecord]:
        live = [o for o in self._opts.values() if o.event_id in event_ids and o.cancelled_at is None]
        return sorted(live, key=lambda o: o.created_at)


class FakeOutboxRepository:
    def __init__(self, messages: dict[int, OutboxRecord]) -> None:
        self._messages = messages

    def enqueue(self, ven_id: str, message_type: str, payload: dict[str, Any], now: datetime) -> None:
        message_id = max(self._messages, default=0) + 1  # the real table's autoincrement
        self._messages[message_id] = OutboxRecord(message_id, ven_id, message_type, dict(payload), now)

    def _pending(self, ven_id: str) -> list[OutboxRecord]:
        mine = [m for m in self._messages.values() if m.ven_id == ven_id and m.delivered_at is None]
        return sorted(mine, key=lambda m: m.id)

    async def last_pending(self, ven_id: str) -> OutboxRecord | None:
        pending = self._pending(ven_id)
        return pending[-1] if pending else None

    async def merge_payload(self, message_id: int, payload: dict[str, Any]) -> bool:
        message = self._messages.get(message_id)
        if message is None or message.delivered_at is not None or message.sent_at is not None:
            return False
        self._messages[message_id] = replace(message, payload=dict(payload))
        return True

    async def sent_since(self, ven_id: str, message_type: str, since: datetime) -> list[OutboxRecord]:
        return [
            m
            for m in sorted(self._messages.values(), key=lambda m: m.id)
            if m.ven_id == ven_id and m.message_type == message_type and m.sent_at and m.sent_at >= since
        ]

    async def prune_delivered(self, before: datetime) -> int:
        done = [
            i for i, m in self._messages.items() if m.delivered_at is not None and m.delivered_at < before
        ]
        for message_id in done:
            del self._messages[message_id]
        return len(done)

    async def discard_pending(self, ven_id: str) -> None:
        for message in self._pending(ven_id):
            del self._messages[message.id]

    async def save(self, message: OutboxRecord) -> None:
        assert message.id in self._messages, f"outbox message {message.id} is not stored"
        self._messages[message.id] = message

    @staticmethod
    def _due(message: OutboxRecord, sent_before: datetime) -> bool:
        return message.delivered_at is None and (message.sent_at is None or message.sent_at <= sent_before)

    async def next_due(self, ven_id: str, sent_before: datetime) -> OutboxRecord | None:
        return next((m for m in self._pending(ven_id) if self._due(m, sent_before)), None)

    async def claim(self, message_id: int, now: datetime, sent_before: datetime) -> OutboxRecord | None:
        message = self._messages.get(message_id)
        if message is None or not self._due(message, sent_before):
            return None
        claimed = replace(message, sent_at=now, send_count=message.send_count + 1, written_at=None)
        self._messages[message_id] = claimed
        return claimed

    async def in_flight(self, ven_id: str) -> list[OutboxRecord]:
        return [m for m in self._pending(ven_id) if m.sent_at is not None]

    async def unsent(self, ven_id: str) -> list[OutboxRecord]:
        return [m for m in self._pending(ven_id) if m.sent_at is None]

    async def finish(self, message_id: int, now: datetime, acknowledged: bool) -> bool:
        message = self._messages.get(message_id)
        if message is None or message.delivered_at is not None:
            return False
        acked_at = now if acknowledged else message.acked_at
        self._messages[message_id] = replace(message, delivered_at=now, acked_at=acked_at)
        return True

    async def absorb(
        self, ven_id: str, message_type: str, keep_id: int, now: datetime
    ) -> list[dict[str, Any]]:
        others = [m for m in self._pending(ven_id) if m.message_type == message_type and m.id != keep_id]
        for message in others:
            self._messages[message.id] = replace(message, delivered_at=now)
        return [dict(m.payload) for m in others]

    async def mark_written(self, message_id: int, send_count: int, at: datetime) -> None:
        message = self._messages.get(message_id)
        if message is not None and message.send_count == send_count and message.delivered_at is None:
            self._messages[message_id] = replace(message, written_at=at)


class FakeReportRepository:
    def __init__(self, stored: Stored) -> None:
        self._registrations = stored.report_registrations
        self._requests = stored.report_requests
        self._values = stored.report_values

    async def replace_registrations(
        self, ven_id: str, registrations: Sequence[ReportRegistrationRecord]
    ) -> None:
        for key in [k for k in self._registrations if k[0] == ven_id]:
            del self._registrations[key]
        for r in registrations:
            # The real table's primary key is (ven_id, report_specifier_id).
            assert (r.ven_id, r.report_specifier_id) not in self._registrations, r.report_specifier_id
            self._registrations[(r.ven_id, r.report_specifier_id)] = r

    async def registrations(self, ven_id: str) -> list[ReportRegistrationRecord]:
        return [r for (ven, _), r in self._registrations.items() if ven == ven_id]

    def add_request(self, request: ReportRequestRecord) -> None:
        assert request.report_request_id not in self._requests, request.report_request_id
        self._requests[request.report_request_id] = request

    async def get_request(self, report_request_id: str) -> ReportRequestRecord | None:
        return self._requests.get(report_request_id)

    async def live_requests(self, ven_id: str) -> list[ReportRequestRecord]:
        live = [r for r in self._requests.values() if r.ven_id == ven_id and r.cancelled_at is None]
        return sorted(live, key=lambda r: r.created_at)

    async def cancel_request(self, report_request_id: str, now: datetime) -> None:
        request = self._requests.get(report_request_id)
        if request is not None and request.cancelled_at is None:
            self._requests[report_request_id] = replace(request, cancelled_at=now)

    async def acknowledge_request(self, report_request_id: str, now: datetime) -> None:
        request = self._requests.get(report_request_id)
        if request is not None and request.acknowledged_at is None:
            self._requests[report_request_id] = replace(request, acknowledged_at=now)

    async def request_states(self, report_request_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        return {
            r.report_request_id: (r.cancelled_at is not None, r.acknowledged_at is not None)
            for r in self._requests.values()
            if r.report_request_id in report_request_ids
        }

    async def cancel_live_requests(self, ven_id: str, now: datetime) -> None:
        for request in [r for r in self._requests.values() if r.ven_id == ven_id]:
            await self.cancel_request(request.report_request_id, now)

    async def add_values(self, rows: Sequence[dict[str, Any]]) -> None:
        stored = {(v.ven_id, v.report_request_id, v.r_id, v.dtstart) for v in self._values.values()}
        for row in rows:
            key = (row["ven_id"], row["report_request_id"], row["r_id"], row["dtstart"])
            if key in stored:  # the real insert's ON CONFLICT DO NOTHING
                continue
            stored.add(key)
            self._values[max(self._values, default=0) + 1] = ReportValueRecord(**row)

    async def replace_values(self, ven_id: str, report_name: str, rows: Sequence[dict[str, Any]]) -> None:
        for value_id in [
            i for i, v in self._values.items() if v.ven_id == ven_id and v.report_name == report_name
        ]:
            del self._values[value_id]
        await self.add_values(rows)

    async def r_ids_ending(self, report_name: str, suffix: str) -> set[tuple[str, str]]:
        return {
            (v.ven_id, v.r_id)
            for v in self._values.values()
            if v.report_name == report_name and v.r_id.endswith(suffix)
        }

    def _ordered(self) -> list[tuple[int, ReportValueRecord]]:
        return sorted(self._values.items())

    async def values_of(self, ven_id: str, report_name: str) -> list[ReportValueRecord]:
        mine = [v for v in self._values.values() if v.ven_id == ven_id and v.report_name == report_name]
        return sorted(mine, key=lambda v: (v.r_id, v.dtstart))

    async def latest_values(
        self, ven_id: str, report_name: str, window: timedelta
    ) -> list[ReportValueRecord]:
        mine = [(i, v) for i, v in self._ordered() if v.ven_id == ven_id and v.report_name == report_name]
        if not mine:
            return []
        oldest = max(v.dtstart for _, v in mine) - window
        recent = [(i, v) for i, v in mine if v.dtstart >= oldest]
        newest: dict[str, datetime] = {}
        for _, v in recent:
            newest[v.r_id] = max(newest.get(v.r_id, v.dtstart), v.dtstart)
        latest = [(i, v) for i, v in recent if v.dtstart == newest[v.r_id]]
        return [v for _, v in sorted(latest, key=lambda iv: (iv[1].r_id, iv[0]))]

    async def values(
        self, ven_id: str, since: datetime | None, until: datetime | None
    ) -> list[ReportValueRecord]:
        mine = [
            (i, v)
            for i, v in self._ordered()
            if v.ven_id == ven_id
            and (since is None or v.dtstart >= since)
            and (until is None or v.dtstart < until)
        ]
        return [v for _, v in sorted(mine, key=lambda iv: (iv[1].dtstart, iv[1].r_id, iv[0]))]

    async def buckets(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime, bucket: timedelta
    ) -> list[ValueBucket]:
        seconds = int(bucket.total_seconds())
        groups: dict[tuple[str, int], list[ReportValueRecord]] = {}
        for v in self._values.values():
            if v.ven_id == ven_id and v.r_id in r_ids and since <= v.dtstart < until:
                groups.setdefault((v.r_id, int(v.dtstart.timestamp()) // seconds), []).append(v)
        return [
            ValueBucket(
                r_id,
                min(v.dtstart for v in rows),
                max(v.dtstart for v in rows),
                min(v.value for v in rows),
                max(v.value for v in rows),
                len(rows),
            )
            for (r_id, _), rows in sorted(groups.items())
        ]

    async def series(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[ReportValueRecord]:
        wanted = set(r_ids)
        mine = [
            (i, v)
            for i, v in self._ordered()
            if v.ven_id == ven_id and v.r_id in wanted and since <= v.dtstart < until
        ]
        return [v for _, v in sorted(mine, key=lambda iv: (iv[1].r_id, iv[1].dtstart, iv[0]))]


class FakePriceRepository:
    def __init__(self, prices: dict[int, PriceRecord]) -> None:
        self._prices = prices

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        import_eur_per_kwh: Sequence[float],
        export_eur_per_kwh: Sequence[float],
        capacity_eur_per_kw_month: float,
        created_at: datetime,
    ) -> PriceRecord:
        record = PriceRecord(
            id=max(self._prices, default=0) + 1,  # the real table's autoincrement
            start=start,
            resolution_minutes=resolution_minutes,
            import_eur_per_kwh=tuple(float(v) for v in import_eur_per_kwh),
            export_eur_per_kwh=tuple(float(v) for v in export_eur_per_kwh),
            capacity_eur_per_kw_month=capacity_eur_per_kw_month,
            created_at=created_at,
        )
        self._prices[record.id] = record
        return record

    async def latest(self) -> PriceRecord | None:
        return self._prices[max(self._prices)] if self._prices else None

    async def starting_between(self, since: datetime, until: datetime) -> list[PriceRecord]:
        return [self._prices[i] for i in sorted(self._prices) if since <= self._prices[i].start < until]


class FakeImbalanceRepository:
    def __init__(self, signals: dict[int, ImbalanceRecord]) -> None:
        self._signals = signals

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        imbalance_eur_per_kwh: Sequence[float],
        nominated_net_kw: Sequence[float] | None,
        reason: str | None,
        created_at: datetime,
    ) -> ImbalanceRecord:
        nominated = tuple(float(v) for v in nominated_net_kw) if nominated_net_kw is not None else None
        record = ImbalanceRecord(
            id=max(self._signals, default=0) + 1,  # the real table's autoincrement
            start=start,
            resolution_minutes=resolution_minutes,
            imbalance_eur_per_kwh=tuple(float(v) for v in imbalance_eur_per_kwh),
            nominated_net_kw=nominated,
            reason=reason,
            created_at=created_at,
        )
        self._signals[record.id] = record
        return record

    async def latest(self) -> ImbalanceRecord | None:
        return self._signals[max(self._signals)] if self._signals else None


class FakeRequestRepository:
    def __init__(self, requests: dict[str, RequestRecord]) -> None:
        self._requests = requests

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
        record = RequestRecord(request_id or uuid.uuid4().hex, kind, start, end, power_kw, reason, created_at)
        assert record.request_id not in self._requests, f"request {record.request_id} is already stored"
        self._requests[record.request_id] = record
        return record

    async def get(self, request_id: str) -> RequestRecord | None:
        return self._requests.get(request_id)

    async def all(self) -> list[RequestRecord]:
        return sorted(self._requests.values(), key=lambda r: r.created_at)

    async def live(self) -> list[RequestRecord]:
        return [r for r in await self.all() if r.cancelled_at is None]

    async def cancel(self, request_id: str, now: datetime) -> RequestRecord | None:
        request = self._requests.get(request_id)
        if request is None:
            return None
        self._requests[request_id] = replace(request, cancelled_at=now)
        return self._requests[request_id]


RUN_TRIGGER_LENGTH = 64  # planning_runs.trigger is a VARCHAR(64): the real add cuts it there


class FakePreferenceRepository:
    def __init__(self, preferences: dict[str, PreferencesRecord]) -> None:
        self._preferences = preferences

    async def get(self, site_id: str) -> PreferencesRecord | None:
        return self._preferences.get(site_id)

    async def put(self, preferences: PreferencesRecord) -> None:
        self._preferences[preferences.site_id] = preferences

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, PreferencesRecord]:
        return {s: self._preferences[s] for s in site_ids if s in self._preferences}


class FakeRunRepository:
    def __init__(self, runs: dict[str, RunRecord]) -> None:
        self._runs = runs

    def add(self, run: RunRecord) -> None:
        assert run.run_id not in self._runs, f"run {run.run_id} is already stored"
        self._runs[run.run_id] = replace(run, trigger=run.trigger[:RUN_TRIGGER_LENGTH])

    async def get(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def newest(self, limit: int) -> list[RunRecord]:
        return sorted(self._runs.values(), key=lambda r: r.started_at, reverse=True)[:limit]

    async def latest_planned(self) -> RunRecord | None:
        planned = [r for r in self._runs.values() if r.status != "error"]
        return max(planned, key=lambda r: (r.started_at, r.seconds), default=None)

    async def latest_planned_before(self, at: datetime) -> RunRecord | None:
        planned = [r for r in self._runs.values() if r.status != "error" and r.started_at < at]
        return max(planned, key=lambda r: (r.started_at, r.seconds), default=None)


class FakeDispatchRepository:
    def __init__(self, dispatches: dict[str, DispatchRecord]) -> None:
        self._dispatches = dispatches

    async def get(self, ven_id: str) -> DispatchRecord | None:
        return self._dispatches.get(ven_id)

    async def of_vens(self, ven_ids: Sequence[str]) -> dict[str, DispatchRecord]:
        return {v: self._dispatches[v] for v in ven_ids if v in self._dispatches}

    async def all(self) -> dict[str, DispatchRecord]:
        return dict(self._dispatches)

    async def save(self, records: Sequence[DispatchRecord]) -> None:
        for record in records:
            self._dispatches[record.ven_id] = record

    async def remove(self, ven_id: str) -> DispatchRecord | None:
        return self._dispatches.pop(ven_id, None)


class FakeNotificationRepository:
    def __init__(self, notifications: dict[str, NotificationRecord]) -> None:
        self._notifications = notifications

    def add(self, notification: NotificationRecord) -> None:
        assert notification.id not in self._notifications, f"notification {notification.id} is stored"
        self._notifications[notification.id] = notification

    async def of_site(
        self, site_id: str, limit: int, state: DeliveryState | None = None
    ) -> list[NotificationRecord]:
        mine = [
            n
            for n in self._notifications.values()
            if n.site_id == site_id and (state is None or n.state == state)
        ]
        return sorted(mine, key=lambda n: (n.created_at, n.id), reverse=True)[:limit]

    def _due(self, n: NotificationRecord, now: datetime) -> bool:
        return n.state == DeliveryState.PENDING and n.next_attempt_at <= now

    async def due(self, now: datetime, limit: int) -> list[NotificationRecord]:
        due = [n for n in self._notifications.values() if self._due(n, now)]
        return sorted(due, key=lambda n: (n.next_attempt_at, n.created_at, n.id))[:limit]

    async def claim(self, notification_id: str, now: datetime, until: datetime) -> NotificationRecord | None:
        n = self._notifications.get(notification_id)
        if n is None or not self._due(n, now):
            return None
        n = self._notifications[n.id] = replace(n, attempts=n.attempts + 1, next_attempt_at=until)
        return n

    async def prune_delivered(self, before: datetime) -> int:
        old = [
            n.id
            for n in self._notifications.values()
            if n.state == DeliveryState.DELIVERED and n.delivered_at is not None and n.delivered_at < before
        ]
        for notification_id in old:
            del self._notifications[notification_id]
        return len(old)

    async def mark_delivered(self, notification_id: str, now: datetime) -> bool:
        n = self._notifications.get(notification_id)
        if n is None or n.state != DeliveryState.PENDING:
            return False
        self._notifications[n.id] = replace(
            n, state=DeliveryState.DELIVERED, delivered_at=now, last_error=None
        )
        return True

    async def mark_failed(
        self, notification_id: str, attempts: int, error: str, next_attempt_at: datetime
    ) -> bool:
        n = self._notifications.get(notification_id)
        if n is None or n.state != DeliveryState.PENDING or n.attempts != attempts:
            return False
        self._notifications[n.id] = replace(n, last_error=error, next_attempt_at=next_attempt_at)
        return True


class FakeWebhookRepository:
    def __init__(self, webhooks: dict[str, WebhookRecord]) -> None:
        self._webhooks = webhooks

    async def get(self, site_id: str) -> WebhookRecord | None:
        return self._webhooks.get(site_id)

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, WebhookRecord]:
        return {s: self._webhooks[s] for s in site_ids if s in self._webhooks}

    def add(self, webhook: WebhookRecord) -> None:
        assert webhook.site_id not in self._webhooks, f"site {webhook.site_id} has a webhook"
        self._webhooks[webhook.site_id] = webhook

    async def save(self, webhook: WebhookRecord) -> None:
        assert webhook.site_id in self._webhooks, f"site {webhook.site_id} has no webhook"
        self._webhooks[webhook.site_id] = webhook

    async def remove(self, site_id: str) -> bool:
        return self._webhooks.pop(site_id, None) is not None


class FakeSolarRepository:
    def __init__(
        self, pv: dict[str, PvParametersRecord], irradiance: dict[tuple[float, float], IrradianceRecord]
    ) -> None:
        self._pv = pv
        self._irradiance = irradiance

    async def pv_of(self, site_id: str) -> PvParametersRecord | None:
        return self._pv.get(site_id)

    async def put_pv(self, pv: PvParametersRecord) -> None:
        self._pv[pv.site_id] = pv

    async def put_irradiance(self, forecast: IrradianceRecord) -> None:
        self._irradiance[(forecast.latitude_deg, forecast.longitude_deg)] = forecast

    async def irradiance_forecasts(self) -> list[IrradianceRecord]:
        return list(self._irradiance.values())


class FakeClientRepository:
    def __init__(self, stored: Stored) -> None:
        self._clients = stored.oa3_clients
        self._tokens = stored.oa3_tokens

    def add(self, client: ClientRecord) -> None:
        assert client.client_id not in self._clients, f"client {client.client_id} is already stored"
        self._clients[client.client_id] = client

    async def get(self, client_id: str) -> ClientRecord | None:
        return self._clients.get(client_id)

    async def save(self, client: ClientRecord) -> None:
        assert client.client_id in self._clients, f"client {client.client_id} is not stored"
        self._clients[client.client_id] = client

    async def of_ven_name(self, ven_name: str) -> list[ClientRecord]:
        mine = [c for c in self._clients.values() if c.ven_name == ven_name]
        return sorted(mine, key=lambda c: (c.created_at, c.client_id))

    def add_token(self, token: AccessTokenRecord) -> None:
        self._tokens[token.token_hash] = token

    async def token(self, token_hash: str) -> AccessTokenRecord | None:
        return self._tokens.get(token_hash)

    async def prune_tokens(self, before: datetime) -> int:
        old = [h for h, t in self._tokens.items() if t.expires_at < before]
        for token_hash in old:
            del self._tokens[token_hash]
        return len(old)


class FakeOa3ObjectRepository:
    """As the table: (type, id) is the key, (type, unique_key) and market_context are unique."""

    def __init__(self, objects: dict[tuple[ObjectType, str], Oa3Object]) -> None:
        self._objects = objects

    def _check_unique(self, obj: Oa3Object) -> None:
        for key, other in self._objects.items():
            if key == (obj.object_type, obj.object_id):
                continue
            same_key = obj.unique_key is not None and (other.object_type, other.unique_key) == (
                obj.object_type,
                obj.unique_key,
            )
            same_context = obj.market_context is not None and other.market_context == obj.market_context
            assert not same_key and not same_context, f"{obj.object_type} {obj.object_id} breaks a unique key"

    def add(self, obj: Oa3Object) -> None:
        assert (obj.object_type, obj.object_id) not in self._objects, f"{obj.object_id} is already stored"
        self._check_unique(obj)
        self._objects[(obj.object_type, obj.object_id)] = obj

    async def get(self, object_type: ObjectType, object_id: str) -> Oa3Object | None:
        return self._objects.get((object_type, object_id))

    async def get_many(self, object_type: ObjectType, object_ids: Sequence[str]) -> dict[str, Oa3Object]:
        return {i: self._objects[(object_type, i)] for i in object_ids if (object_type, i) in self._objects}

    async def save(self, obj: Oa3Object) -> None:
        old = self._objects.get((obj.object_type, obj.object_id))
        if old is not None:  # the table's UPDATE: a missing row changes nothing
            self._check_unique(obj)
            self._objects[(obj.object_type, obj.object_id)] = replace(obj, created_at=old.created_at)

    async def remove(self, object_type: ObjectType, object_id: str) -> bool:
        return self._objects.pop((object_type, object_id), None) is not None

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
        given = {
            "ven_id": ven_id,
            "program_id": program_id,
            "event_id": event_id,
            "client_id": client_id,
            "unique_key": unique_key,
            "market_context": market_context,
        }
        found = [
            o
            for o in self._objects.values()
            if o.object_type == object_type and all(v is None or getattr(o, k) == v for k, v in given.items())
        ]
        return sorted(found, key=lambda o: (o.created_at, o.object_id))


class FakeProgramRepository:
    def __init__(self, programs: dict[str, ProgramTermsRecord]) -> None:
        self._programs = programs

    async def get(self, market_context: str) -> ProgramTermsRecord | None:
        return self._programs.get(market_context)

    async def all(self) -> list[ProgramTermsRecord]:
        return [self._programs[k] for k in sorted(self._programs)]

    async def put(self, terms: ProgramTermsRecord) -> None:
        self._programs[terms.market_context] = terms


class FakeStatementRepository:
    def __init__(self, statements: dict[tuple[str, str, str], StatementRecord]) -> None:
        self._statements = statements

    async def of_month(self, month: str) -> list[StatementRecord]:
        return [v for k, v in sorted(self._statements.items()) if k[0] == month]

    async def add_new(self, statements: Sequence[StatementRecord]) -> None:
        for s in statements:
            self._statements.setdefault((s.month, s.market_context, s.site_id), s)


@dataclass
class FakeNotifier:
    """Records what use cases told the poll path (aggregator/ports.py PollNotifier)."""

    pending: list[str] = field(default_factory=list)
    registrations: dict[str, str | None] = field(default_factory=dict)

    def mark_pending(self, ven_ids: Iterable[str]) -> None:
        self.pending.extend(ven_ids)

    def set_registration(self, ven_id: str, registration_id: str | None) -> None:
        self.registrations[ven_id] = registration_id


@dataclass
class FakeRecentPolls:
    """Poll times a process holds unwritten (aggregator/ports.py RecentPolls)."""

    polls: dict[str, datetime] = field(default_factory=dict)

    def last_poll(self, ven_id: str) -> datetime | None:
        return self.polls.get(ven_id)


class FakeUnitOfWork:
    """Entering works on a copy of `stored`; `commit()` makes the copy the stored state."""

    def __init__(
        self,
        vens: Iterable[VenRecord] = (),
        events: Iterable[EventRecord] = (),
        event_targets: Iterable[tuple[str, Sequence[str]]] = (),
        event_responses: Iterable[EventResponseRecord] = (),
        opts: Iterable[OptRecord] = (),
        outbox: Iterable[OutboxRecord] = (),
        report_registrations: Iterable[ReportRegistrationRecord] = (),
        report_requests: Iterable[ReportRequestRecord] = (),
        report_values: Iterable[ReportValueRecord] = (),
        prices: Iterable[PriceRecord] = (),
        imbalance: Iterable[ImbalanceRecord] = (),
        requests: Iterable[RequestRecord] = (),
        runs: Iterable[RunRecord] = (),
        dispatches: Iterable[DispatchRecord] = (),
        preferences: Iterable[PreferencesRecord] = (),
        notifications: Iterable[NotificationRecord] = (),
        webhooks: Iterable[WebhookRecord] = (),
        pv: Iterable[PvParametersRecord] = (),
        irradiance: Iterable[IrradianceRecord] = (),
        programs: Iterable[ProgramTermsRecord] = (),
    ) -> None:
        self.stored = Stored(
            vens={v.ven_id: v for v in vens},
            events={e.event_id: e for e in events},
            event_targets={event_id: tuple(ven_ids) for event_id, ven_ids in event_targets},
            event_responses={(r.ven_id, r.event_id, r.modification_number): r for r in event_responses},
            opts={(o.ven_id, o.opt_id): o for o in opts},
            outbox={m.id: m for m in outbox},
            report_registrations={(r.ven_id, r.report_specifier_id): r for r in report_registrations},
            report_requests={r.report_request_id: r for r in report_requests},
            report_values=dict(enumerate(report_values, start=1)),
            prices={p.id: p for p in prices},
            imbalance={i.id: i for i in imbalance},
            requests={r.request_id: r for r in requests},
            runs={r.run_id: r for r in runs},
            dispatches={d.ven_id: d for d in dispatches},
            preferences={p.site_id: p for p in preferences},
            notifications={n.id: n for n in notifications},
            webhooks={w.site_id: w for w in webhooks},
            pv={p.site_id: p for p in pv},
            irradiance={(i.latitude_deg, i.longitude_deg): i for i in irradiance},
            programs={p.market_context: p for p in programs},
        )
        self.committed = False  # did any use case commit (cosmicpython's FakeUnitOfWork.committed)
        self._open(self.stored.copy())

    def _open(self, working: Stored) -> None:
        self._working = working
        self.vens = FakeVenRepository(working.vens, working)
        self.events = FakeEventRepository(working)
        self.opts = FakeOptRepository(working.opts)
        self.outbox = FakeOutboxRepository(working.outbox)
        self.reports = FakeReportRepository(working)
        self.prices = FakePriceRepository(working.prices)
        self.imbalance = FakeImbalanceRepository(working.imbalance)
        self.requests = FakeRequestRepository(working.requests)
        self.runs = FakeRunRepository(working.runs)
        self.dispatches = FakeDispatchRepository(working.dispatches)
        self.preferences = FakePreferenceRepository(working.preferences)
        self.notifications = FakeNotificationRepository(working.notifications)
        self.webhooks = FakeWebhookRepository(working.webhooks)
        self.solar = FakeSolarRepository(working.pv, working.irradiance)
        self.clients = FakeClientRepository(working)
        self.oa3 = FakeOa3ObjectRepository(working.oa3_objects)
        self.programs = FakeProgramRepository(working.programs)
        self.statements = FakeStatementRepository(working.statements)
        self.oa3_notifications = FakeOa3NotificationRepository(working.oa3_notifications)

    async def __aenter__(self) -> Self:
        self._open(self.stored.copy())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever was not committed is dropped with the working copy.
        self._open(self.stored.copy())

    async def commit(self) -> None:
        self.stored = self._working.copy()
        self.committed = True


def _conforms(uow: FakeUnitOfWork, notifier: FakeNotifier) -> tuple[UnitOfWork, PollNotifier]:
    """mypy checks here that the fakes implement the ports (the tests would also pass a duck)."""
    return uow, notifier


def _polls_conform(polls: FakeRecentPolls) -> RecentPolls:
    return polls
