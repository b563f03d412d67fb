"""The repositories the use cases need, as ports: one Protocol per repository.

Each names only the methods some use case calls, and takes and returns records
(aggregator/records.py), never ORM rows. vtn/db/repos implements them on SQLAlchemy;
tests/unit/aggregator/fakes.py in memory. A new use case adds the methods it needs here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

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
