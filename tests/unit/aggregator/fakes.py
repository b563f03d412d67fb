"""In-memory implementations of the aggregator's ports (aggregator/repositories.py, uow.py).

As in cosmicpython's tests/unit: dict-backed repositories and a unit of work that, like the
real one (vtn/db/uow.py), keeps what a use case changed only if it commits. The state a test
sets up and inspects is the committed state, `FakeUnitOfWork.stored`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from aggregator.ports import PollNotifier, RecentPolls
from aggregator.records import (
    EventRecord,
    EventResponseRecord,
    OptRecord,
    OutboxRecord,
    ReportRegistrationRecord,
    ReportRequestRecord,
    ReportValueRecord,
    VenRecord,
)
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

    def copy(self) -> Stored:
        # The records are frozen: a copy of each dict is a snapshot.
        return Stored(**{f.name: dict(getattr(self, f.name)) for f in fields(self)})


class FakeVenRepository:
    def __init__(self, vens: dict[str, VenRecord]) -> None:
        self._vens = vens

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
        )
        self.committed = False  # did any use case commit (cosmicpython's FakeUnitOfWork.committed)
        self._open(self.stored.copy())

    def _open(self, working: Stored) -> None:
        self._working = working
        self.vens = FakeVenRepository(working.vens)
        self.events = FakeEventRepository(working)
        self.opts = FakeOptRepository(working.opts)
        self.outbox = FakeOutboxRepository(working.outbox)
        self.reports = FakeReportRepository(working)

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
