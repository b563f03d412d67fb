"""DR events, the VENs each targets, and the VENs' oadrCreatedEvent answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import EventInterval, EventRecord, EventResponseRecord
from vtn.db.repos import Seen, insert_on_conflict, utc
from vtn.db.tables import Event, EventResponse, EventTarget


def _intervals(stored: list[Any]) -> tuple[EventInterval, ...]:
    """Intervals are stored as JSON: [{start (ISO), duration_seconds, value}]."""
    return tuple(
        EventInterval(datetime.fromisoformat(i["start"]), int(i["duration_seconds"]), float(i["value"]))
        for i in stored
    )


def event_record(row: Event) -> EventRecord:
    return EventRecord(
        event_id=row.event_id,
        modification_number=row.modification_number,
        market_context=row.market_context,
        signal_name=row.signal_name,
        signal_type=row.signal_type,
        signal_id=row.signal_id,
        intervals=_intervals(row.intervals),
        dtstart=utc(row.dtstart),
        duration_seconds=row.duration_seconds,
        created_at=utc(row.created_at),
        modified_at=utc(row.modified_at),
        priority=row.priority,
        ramp_up_seconds=row.ramp_up_seconds,
        start_after_seconds=row.start_after_seconds,
        response_required=row.response_required,
        units=row.units,
        test_event=row.test_event,
        vtn_comment=row.vtn_comment,
        cancelled=row.cancelled,
    )


def _columns(record: EventRecord) -> dict[str, Any]:
    return {
        "event_id": record.event_id,
        "modification_number": record.modification_number,
        "market_context": record.market_context,
        "signal_name": record.signal_name,
        "signal_type": record.signal_type,
        "signal_id": record.signal_id,
        "intervals": [
            {"start": i.start.isoformat(), "duration_seconds": i.duration_seconds, "value": i.value}
            for i in record.intervals
        ],
        "dtstart": record.dtstart,
        "duration_seconds": record.duration_seconds,
        "created_at": record.created_at,
        "modified_at": record.modified_at,
        "priority": record.priority,
        "ramp_up_seconds": record.ramp_up_seconds,
        "start_after_seconds": record.start_after_seconds,
        "response_required": record.response_required,
        "units": record.units,
        "test_event": record.test_event,
        "vtn_comment": record.vtn_comment,
        "cancelled": record.cancelled,
    }


def _response(row: EventResponse) -> EventResponseRecord:
    return EventResponseRecord(
        row.ven_id,
        row.event_id,
        row.modification_number,
        row.opt_type,
        row.response_code,
        utc(row.received_at),
    )


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen: Seen[str, EventRecord] = Seen()

    def _record(self, row: Event) -> EventRecord:
        return self._seen.remember(row.event_id, row, event_record(row))

    async def get(self, event_id: str) -> EventRecord | None:
        row = await self.session.get(Event, event_id)
        return None if row is None else self._record(row)

    def add(self, event: EventRecord) -> None:
        row = Event(**_columns(event))
        self.session.add(row)
        self._seen.remember(event.event_id, row, event)

    async def save(self, event: EventRecord) -> None:
        """Write what changed on the event since this unit of work read it."""
        await self._seen.save(self.session, Event, event.event_id, event, _columns)

    async def set_targets(self, event_id: str, ven_ids: Iterable[str]) -> None:
        await self.session.execute(delete(EventTarget).where(EventTarget.event_id == event_id))
        for ven_id in ven_ids:
            self.session.add(EventTarget(event_id=event_id, ven_id=ven_id))

    async def targets(self, event_ids: Sequence[str]) -> dict[str, list[str]]:
        rows = await self.session.execute(
            select(EventTarget.event_id, EventTarget.ven_id)
            .where(EventTarget.event_id.in_(list(event_ids)))
            .order_by(EventTarget.ven_id)
        )
        found: dict[str, list[str]] = {event_id: [] for event_id in event_ids}
        for event_id, ven_id in rows.all():
            found[event_id].append(ven_id)
        return found

    async def all(self) -> list[EventRecord]:
        query = select(Event).order_by(Event.dtstart, Event.event_id)
        return [self._record(row) for row in await self.session.scalars(query)]

    async def live_for_ven(self, ven_id: str) -> list[EventRecord]:
        """Events targeting the VEN that are not cancelled."""
        query = (
            select(Event)
            .join(EventTarget, EventTarget.event_id == Event.event_id)
            .where(EventTarget.ven_id == ven_id, Event.cancelled.is_(False))
        )
        return [self._record(row) for row in await self.session.scalars(query)]

    async def get_many(self, event_ids: Sequence[str]) -> list[EventRecord]:
        if not event_ids:
            return []
        query = select(Event).where(Event.event_id.in_(list(event_ids)))
        return [self._record(row) for row in await self.session.scalars(query)]

    async def live_for_vens(
        self, ven_ids: Sequence[str], market_context: str
    ) -> list[tuple[EventRecord, str]]:
        """(event, venID) for each live (not cancelled) event of the context targeting the VENs."""
        query = (
            select(Event, EventTarget.ven_id)
            .join(EventTarget, EventTarget.event_id == Event.event_id)
            .where(
                EventTarget.ven_id.in_(list(ven_ids)),
                Event.market_context == market_context,
                Event.cancelled.is_(False),
            )
        )
        return [(self._record(event), ven_id) for event, ven_id in (await self.session.execute(query)).all()]

    async def responses(self, event_ids: Sequence[str]) -> list[EventResponseRecord]:
        query = select(EventResponse).where(EventResponse.event_id.in_(list(event_ids)))
        return [_response(row) for row in await self.session.scalars(query)]

    async def answered(self, ven_id: str, event_ids: Sequence[str]) -> dict[str, int]:
        """eventID -> the highest modificationNumber the VEN answered (oadrCreatedEvent)."""
        if not event_ids:
            return {}
        query = (
            select(EventResponse.event_id, func.max(EventResponse.modification_number))
            .where(EventResponse.ven_id == ven_id, EventResponse.event_id.in_(list(event_ids)))
            .group_by(EventResponse.event_id)
        )
        return {event_id: int(number) for event_id, number in (await self.session.execute(query)).all()}

    async def windows(self, event_ids: Sequence[str]) -> dict[str, tuple[datetime, int]]:
        """eventID -> (dtstart, duration in seconds). Columns only: no event row enters the
        session, so the events a poll renders later in it are read fresh."""
        if not event_ids:
            return {}
        query = select(Event.event_id, Event.dtstart, Event.duration_seconds).where(
            Event.event_id.in_(list(event_ids))
        )
        rows = (await self.session.execute(query)).all()
        return {event_id: (utc(start), int(duration)) for event_id, start, duration in rows}

    async def record_response(
        self, ven_id: str, event_id: str, modification_number: int, opt_type: str, code: str, now: datetime
    ) -> None:
        # One upsert, not a read and then an insert: a VEN that answers a resent distribute while
        # its first answer is still being stored would otherwise fail one of the two (unique key).
        answer = {"opt_type": opt_type, "response_code": code, "received_at": now}
        statement = (
            insert_on_conflict(self.session)(EventResponse)
            .values(ven_id=ven_id, event_id=event_id, modification_number=modification_number, **answer)
            .on_conflict_do_update(index_elements=["ven_id", "event_id", "modification_number"], set_=answer)
        )
        await self.session.execute(statement)
