"""In-memory implementations of the aggregator's ports (aggregator/repositories.py, uow.py).

As in cosmicpython's tests/unit: dict-backed repositories and a unit of work that, like the
real one (vtn/db/uow.py), keeps what a use case changed only if it commits. The state a test
sets up and inspects is the committed state, `FakeUnitOfWork.stored`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from aggregator.ports import PollNotifier
from aggregator.records import EventRecord, OptRecord, OutboxRecord, VenRecord
from aggregator.uow import UnitOfWork


@dataclass
class Stored:
    """What the fake database holds: records by key."""

    vens: dict[str, VenRecord] = field(default_factory=dict)
    events: dict[str, EventRecord] = field(default_factory=dict)
    opts: dict[tuple[str, str], OptRecord] = field(default_factory=dict)
    outbox: dict[int, OutboxRecord] = field(default_factory=dict)

    def copy(self) -> Stored:
        # The records are frozen: a copy of each dict is a snapshot.
        return Stored(**{f.name: dict(getattr(self, f.name)) for f in fields(self)})


class FakeVenRepository:
    def __init__(self, vens: dict[str, VenRecord]) -> None:
        self._vens = vens

    async def get(self, ven_id: str) -> VenRecord | None:
        return self._vens.get(ven_id)


class FakeEventRepository:
    def __init__(self, events: dict[str, EventRecord]) -> None:
        self._events = events

    async def get(self, event_id: str) -> EventRecord | None:
        return self._events.get(event_id)


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


@dataclass
class FakeNotifier:
    """Records what use cases told the poll path (aggregator/ports.py PollNotifier)."""

    pending: list[str] = field(default_factory=list)
    registrations: dict[str, str | None] = field(default_factory=dict)

    def mark_pending(self, ven_ids: Iterable[str]) -> None:
        self.pending.extend(ven_ids)

    def set_registration(self, ven_id: str, registration_id: str | None) -> None:
        self.registrations[ven_id] = registration_id


class FakeUnitOfWork:
    """Entering works on a copy of `stored`; `commit()` makes the copy the stored state."""

    def __init__(
        self,
        vens: Iterable[VenRecord] = (),
        events: Iterable[EventRecord] = (),
        opts: Iterable[OptRecord] = (),
        outbox: Iterable[OutboxRecord] = (),
    ) -> None:
        self.stored = Stored(
            vens={v.ven_id: v for v in vens},
            events={e.event_id: e for e in events},
            opts={(o.ven_id, o.opt_id): o for o in opts},
            outbox={m.id: m for m in outbox},
        )
        self.committed = False  # did any use case commit (cosmicpython's FakeUnitOfWork.committed)
        self._open(self.stored.copy())

    def _open(self, working: Stored) -> None:
        self._working = working
        self.vens = FakeVenRepository(working.vens)
        self.events = FakeEventRepository(working.events)
        self.opts = FakeOptRepository(working.opts)
        self.outbox = FakeOutboxRepository(working.outbox)

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
