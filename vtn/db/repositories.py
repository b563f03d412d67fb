"""Repositories: the only code that writes SQL. Each wraps the unit of work's session.

They return ORM rows; services turn them into the plain dataclasses of vtn.services.types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vtn.db.tables import (
    Event,
    EventResponse,
    EventTarget,
    Opt,
    OutboxMessage,
    ReportRegistration,
    ReportRequest,
    ReportValue,
    Ven,
    as_utc,
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class VenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ven_id: str) -> Ven | None:
        return await self.session.get(Ven, ven_id)

    async def by_name(self, ven_name: str) -> Ven | None:
        result = await self.session.execute(select(Ven).where(Ven.ven_name == ven_name))
        return result.scalar_one_or_none()

    def add(self, ven: Ven) -> None:
        self.session.add(ven)

    async def all(self) -> Sequence[Ven]:
        return (await self.session.execute(select(Ven).order_by(Ven.created_at, Ven.ven_id))).scalars().all()

    async def existing_ids(self, ven_ids: Iterable[str]) -> set[str]:
        wanted = list(ven_ids)
        rows = await self.session.execute(select(Ven.ven_id).where(Ven.ven_id.in_(wanted)))
        return set(rows.scalars().all())

    async def registrations(self) -> dict[str, str]:
        """venID -> registrationID of every registered VEN."""
        rows = await self.session.execute(
            select(Ven.ven_id, Ven.registration_id).where(Ven.registration_id.is_not(None))
        )
        return {ven_id: reg_id for ven_id, reg_id in rows.all() if reg_id is not None}

    async def set_last_poll(self, polls: dict[str, datetime]) -> None:
        """One executemany UPDATE by primary key for the whole batch."""
        if polls:
            rows = [{"ven_id": ven_id, "last_poll_at": at} for ven_id, at in polls.items()]
            await self.session.execute(update(Ven), rows)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def enqueue(
        self, ven_id: str, message_type: str, payload: dict[str, Any], now: datetime
    ) -> OutboxMessage:
        message = OutboxMessage(ven_id=ven_id, message_type=message_type, payload=payload, created_at=now)
        self.session.add(message)
        return message

    def _pending(self, ven_id: str) -> Any:
        return select(OutboxMessage).where(
            OutboxMessage.ven_id == ven_id, OutboxMessage.delivered_at.is_(None)
        )

    async def next_pending(self, ven_id: str) -> OutboxMessage | None:
        """The oldest undelivered message, locked so a second worker skips it (PostgreSQL)."""
        query = self._pending(ven_id).order_by(OutboxMessage.id).limit(1)
        if _dialect(self.session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def claim(self, message: OutboxMessage, now: datetime) -> bool:
        """Mark `message` delivered if it still is not, then re-read it; False if it went out meanwhile.

        The conditional UPDATE takes the write lock first (SQLite has no SELECT ... FOR UPDATE), so
        the payload read after it includes any fold (`merge_payload`) committed before, and a fold
        attempted after it finds the message delivered and queues a new one.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.delivered_at.is_(None))
            .values(delivered_at=now)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await self.session.refresh(message)
        return True

    async def last_pending(self, ven_id: str) -> OutboxMessage | None:
        query = self._pending(ven_id).order_by(OutboxMessage.id.desc()).limit(1)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def merge_payload(self, message_id: int, payload: dict[str, Any]) -> bool:
        """Replace a message's payload if it is still undelivered; False if it went out meanwhile.

        The condition is re-checked under the row lock, so a poll delivering the message in
        another transaction can never swallow the change.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.delivered_at.is_(None))
            .values(payload=payload)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def prune_delivered(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < before
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def pending_ven_ids(self) -> set[str]:
        query = select(OutboxMessage.ven_id).where(OutboxMessage.delivered_at.is_(None)).distinct()
        return set((await self.session.execute(query)).scalars().all())

    async def pending(self, ven_id: str) -> Sequence[OutboxMessage]:
        query = self._pending(ven_id).order_by(OutboxMessage.id)
        return (await self.session.execute(query)).scalars().all()

    async def delivered_since(
        self, ven_id: str, message_type: str, since: datetime
    ) -> Sequence[OutboxMessage]:
        query = select(OutboxMessage).where(
            OutboxMessage.ven_id == ven_id,
            OutboxMessage.message_type == message_type,
            OutboxMessage.delivered_at >= since,
        )
        return (await self.session.execute(query.order_by(OutboxMessage.id))).scalars().all()

    async def discard_pending(self, ven_id: str) -> None:
        await self.session.execute(
            delete(OutboxMessage).where(OutboxMessage.ven_id == ven_id, OutboxMessage.delivered_at.is_(None))
        )


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, event_id: str) -> Event | None:
        return await self.session.get(Event, event_id)

    def add(self, event: Event) -> None:
        self.session.add(event)

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

    async def all(self) -> Sequence[Event]:
        return (
            (await self.session.execute(select(Event).order_by(Event.dtstart, Event.event_id)))
            .scalars()
            .all()
        )

    async def live_for_ven(self, ven_id: str) -> Sequence[Event]:
        """Events targeting the VEN that are not cancelled."""
        query = (
            select(Event)
            .join(EventTarget, EventTarget.event_id == Event.event_id)
            .where(EventTarget.ven_id == ven_id, Event.cancelled.is_(False))
        )
        return (await self.session.execute(query)).scalars().all()

    async def get_many(self, event_ids: Sequence[str]) -> Sequence[Event]:
        if not event_ids:
            return []
        query = select(Event).where(Event.event_id.in_(list(event_ids)))
        return (await self.session.execute(query)).scalars().all()

    async def live_for_vens(self, ven_ids: Sequence[str], market_context: str) -> Sequence[tuple[Event, str]]:
        query = (
            select(Event, EventTarget.ven_id)
            .join(EventTarget, EventTarget.event_id == Event.event_id)
            .where(
                EventTarget.ven_id.in_(list(ven_ids)),
                Event.market_context == market_context,
                Event.cancelled.is_(False),
            )
        )
        return [(event, ven_id) for event, ven_id in (await self.session.execute(query)).all()]

    async def responses(self, event_ids: Sequence[str]) -> Sequence[EventResponse]:
        query = select(EventResponse).where(EventResponse.event_id.in_(list(event_ids)))
        return (await self.session.execute(query)).scalars().all()

    async def record_response(
        self, ven_id: str, event_id: str, modification_number: int, opt_type: str, code: str, now: datetime
    ) -> None:
        key = (ven_id, event_id, modification_number)
        row = await self.session.get(EventResponse, key)
        if row is None:
            self.session.add(
                EventResponse(
                    ven_id=ven_id,
                    event_id=event_id,
                    modification_number=modification_number,
                    opt_type=opt_type,
                    response_code=code,
                    received_at=now,
                )
            )
        else:
            row.opt_type, row.response_code, row.received_at = opt_type, code, now


class OptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ven_id: str, opt_id: str) -> Opt | None:
        return await self.session.get(Opt, (ven_id, opt_id))

    def add(self, opt: Opt) -> None:
        self.session.add(opt)

    async def for_ven(self, ven_id: str) -> Sequence[Opt]:
        query = select(Opt).where(Opt.ven_id == ven_id).order_by(Opt.created_at, Opt.opt_id)
        return (await self.session.execute(query)).scalars().all()

    async def live_for_events(self, event_ids: Sequence[str]) -> Sequence[Opt]:
        query = (
            select(Opt)
            .where(Opt.event_id.in_(list(event_ids)), Opt.cancelled_at.is_(None))
            .order_by(Opt.created_at)
        )
        return (await self.session.execute(query)).scalars().all()


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace_registrations(self, ven_id: str, registrations: Sequence[ReportRegistration]) -> None:
        await self.session.execute(delete(ReportRegistration).where(ReportRegistration.ven_id == ven_id))
        await self.session.flush()
        self.session.add_all(registrations)

    async def registrations(self, ven_id: str) -> Sequence[ReportRegistration]:
        query = select(ReportRegistration).where(ReportRegistration.ven_id == ven_id)
        return (await self.session.execute(query)).scalars().all()

    def add_request(self, request: ReportRequest) -> None:
        self.session.add(request)

    async def get_request(self, report_request_id: str) -> ReportRequest | None:
        return await self.session.get(ReportRequest, report_request_id)

    async def live_requests(self, ven_id: str) -> Sequence[ReportRequest]:
        query = (
            select(ReportRequest)
            .where(ReportRequest.ven_id == ven_id, ReportRequest.cancelled_at.is_(None))
            .order_by(ReportRequest.created_at)
        )
        return (await self.session.execute(query)).scalars().all()

    async def add_values(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert report values; a (ven, request, rID, dtstart) already stored is skipped."""
        if not rows:
            return
        dialect = _dialect(self.session)
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(ReportValue).on_conflict_do_nothing(
            index_elements=["ven_id", "report_request_id", "r_id", "dtstart"]
        )
        # Rows as parameters (executemany), not as one VALUES clause: the statement is then the
        # same for every report and compiled once (a 500-row VALUES clause took ~0.25 s of the
        # event loop to compile, while the session held SQLite's write lock).
        await self.session.execute(statement, list(rows))

    async def replace_values(self, ven_id: str, report_name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Replace every stored value of one of the VEN's reports (a report sent as a snapshot)."""
        await self.session.execute(
            delete(ReportValue).where(ReportValue.ven_id == ven_id, ReportValue.report_name == report_name)
        )
        await self.add_values(rows)

    async def values_of(self, ven_id: str, report_name: str) -> Sequence[ReportValue]:
        query = select(ReportValue).where(
            ReportValue.ven_id == ven_id, ReportValue.report_name == report_name
        )
        return (
            (await self.session.execute(query.order_by(ReportValue.r_id, ReportValue.dtstart)))
            .scalars()
            .all()
        )

    async def latest_values(self, ven_id: str, report_name: str, window: timedelta) -> Sequence[ReportValue]:
        """The newest value (by dtstart) of each rID of one of the VEN's reports, among the values
        no older than `window` before its newest one (bounds the scan of a long history)."""
        of_report = (ReportValue.ven_id == ven_id, ReportValue.report_name == report_name)
        newest_time = as_utc(
            await self.session.scalar(select(func.max(ReportValue.dtstart)).where(*of_report))
        )
        if newest_time is None:
            return []
        recent = (*of_report, ReportValue.dtstart >= newest_time - window)
        newest = (
            select(ReportValue.r_id, func.max(ReportValue.dtstart).label("dtstart"))
            .where(*recent)
            .group_by(ReportValue.r_id)
            .subquery()
        )
        query = (
            select(ReportValue)
            .join(newest, (ReportValue.r_id == newest.c.r_id) & (ReportValue.dtstart == newest.c.dtstart))
            .where(*recent)
            .order_by(ReportValue.r_id, ReportValue.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def values(
        self, ven_id: str, since: datetime | None, until: datetime | None
    ) -> Sequence[ReportValue]:
        query = select(ReportValue).where(ReportValue.ven_id == ven_id)
        if since is not None:
            query = query.where(ReportValue.dtstart >= since)
        if until is not None:
            query = query.where(ReportValue.dtstart < until)
        query = query.order_by(ReportValue.dtstart, ReportValue.r_id, ReportValue.id)
        return (await self.session.execute(query)).scalars().all()
