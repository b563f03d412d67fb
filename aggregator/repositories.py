"""The repositories the use cases need, as ports: one Protocol per repository.

Each names only the methods some use case calls, and takes and returns records
(aggregator/records.py), never ORM rows. vtn/db/repos implements them on SQLAlchemy;
tests/unit/aggregator/fakes.py in memory. A new use case adds the methods it needs here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from aggregator.records import EventRecord, OptRecord, OutboxRecord, VenRecord


class VenRepository(Protocol):
    async def get(self, ven_id: str) -> VenRecord | None: ...


class EventRepository(Protocol):
    async def get(self, event_id: str) -> EventRecord | None: ...


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
