"""The outbox repository: it still returns ORM rows (the other aggregates, in vtn/db/repos/,
return records). Wraps the unit of work's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vtn.db.tables import (
    Event,
    EventResponse,
    OutboxMessage,
    ReportRequest,
    as_utc,
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class OutboxRepository:
    """The outbox. A message is pending until it is done (`delivered_at` set): waiting for its first
    send, or sent and not yet acknowledged (in flight)."""

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

    @staticmethod
    def _due(sent_before: datetime) -> Any:
        return or_(OutboxMessage.sent_at.is_(None), OutboxMessage.sent_at <= sent_before)

    async def next_due(self, ven_id: str, sent_before: datetime) -> OutboxMessage | None:
        """The oldest pending message that never went out or last went out at or before
        `sent_before`, locked so a second worker skips it (PostgreSQL)."""
        query = self._pending(ven_id).where(self._due(sent_before)).order_by(OutboxMessage.id).limit(1)
        if _dialect(self.session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def claim(self, message: OutboxMessage, now: datetime, sent_before: datetime) -> bool:
        """Count a send of `message` if it is still pending and due, then re-read it; False if
        another worker sent it (or it was done) meanwhile.

        The conditional UPDATE takes the write lock first (SQLite has no SELECT ... FOR UPDATE), so
        the payload read after it includes any fold (`merge_payload`) committed before, and a fold
        attempted after it finds the message sent and queues a new one.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.delivered_at.is_(None),
                self._due(sent_before),
            )
            .values(sent_at=now, send_count=OutboxMessage.send_count + 1, written_at=None)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await self.session.refresh(message)
        return True

    async def in_flight(self, ven_id: str) -> Sequence[OutboxMessage]:
        """Pending messages that went out at least once: they wait for the VEN's acknowledgement."""
        query = self._pending(ven_id).where(OutboxMessage.sent_at.is_not(None)).order_by(OutboxMessage.id)
        return (await self.session.execute(query)).scalars().all()

    async def finish(self, message_id: int, now: datetime, acknowledged: bool) -> bool:
        """Mark a message done if it still is pending; False if it was done already."""
        values: dict[str, Any] = {"delivered_at": now}
        if acknowledged:
            values["acked_at"] = now
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.delivered_at.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def absorb(
        self, ven_id: str, message_type: str, keep_id: int, now: datetime
    ) -> list[dict[str, Any]]:
        """Mark every other pending message of the type done; their payloads (a distribute
        rendered now carries all they would). Their rows stay locked until the commit, so a fold
        into one of them waits and then queues a new message. On PostgreSQL a row another
        transaction holds (a fold in progress, a second worker sending it) is left pending: it
        goes out later, and two workers never wait on each other's rows."""
        others = select(OutboxMessage.id).where(
            OutboxMessage.ven_id == ven_id,
            OutboxMessage.message_type == message_type,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.id != keep_id,
        )
        if _dialect(self.session) == "postgresql":
            others = others.with_for_update(skip_locked=True)
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(others.scalar_subquery()))
            .values(delivered_at=now)
            .returning(OutboxMessage.payload)
            .execution_options(synchronize_session=False)
        )
        return [dict(payload) for payload in result.scalars().all()]

    async def mark_written(self, message_id: int, send_count: int, at: datetime) -> None:
        """The reply carrying send number `send_count` of the message was written out whole."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.send_count == send_count,
                OutboxMessage.delivered_at.is_(None),
            )
            .values(written_at=at)
            .execution_options(synchronize_session=False)
        )

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

    async def event_windows(self, event_ids: Sequence[str]) -> dict[str, tuple[datetime, int]]:
        """eventID -> (dtstart, duration in seconds). Columns only: no event row enters the
        session, so the events a poll renders later in it are read fresh."""
        if not event_ids:
            return {}
        query = select(Event.event_id, Event.dtstart, Event.duration_seconds).where(
            Event.event_id.in_(list(event_ids))
        )
        found = {}
        for event_id, start, duration in (await self.session.execute(query)).all():
            start_utc = as_utc(start)
            assert start_utc is not None
            found[event_id] = (start_utc, int(duration))
        return found

    async def request_states(self, report_request_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """reportRequestID -> (cancelled, acknowledged by the VEN). Columns only, as above."""
        if not report_request_ids:
            return {}
        query = select(
            ReportRequest.report_request_id, ReportRequest.cancelled_at, ReportRequest.acknowledged_at
        ).where(ReportRequest.report_request_id.in_(list(report_request_ids)))
        rows = (await self.session.execute(query)).all()
        return {rid: (cancelled is not None, acked is not None) for rid, cancelled, acked in rows}

    async def last_pending(self, ven_id: str) -> OutboxMessage | None:
        query = self._pending(ven_id).order_by(OutboxMessage.id.desc()).limit(1)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def merge_payload(self, message_id: int, payload: dict[str, Any]) -> bool:
        """Replace a message's payload if it has not gone out yet; False if it has.

        The condition is re-checked under the row lock, so a poll sending the message in
        another transaction can never swallow the change.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.sent_at.is_(None),
            )
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

    async def unsent(self, ven_id: str) -> Sequence[OutboxMessage]:
        """Pending messages that have not gone out yet."""
        query = self._pending(ven_id).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
        return (await self.session.execute(query)).scalars().all()

    async def sent_since(self, ven_id: str, message_type: str, since: datetime) -> Sequence[OutboxMessage]:
        """Messages of the type that went out (at least once) since `since`, done or not."""
        query = select(OutboxMessage).where(
            OutboxMessage.ven_id == ven_id,
            OutboxMessage.message_type == message_type,
            OutboxMessage.sent_at >= since,
        )
        return (await self.session.execute(query.order_by(OutboxMessage.id))).scalars().all()

    async def discard_pending(self, ven_id: str) -> None:
        await self.session.execute(
            delete(OutboxMessage).where(OutboxMessage.ven_id == ven_id, OutboxMessage.delivered_at.is_(None))
        )
