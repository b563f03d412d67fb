"""The outbox: VTN-initiated messages waiting for, or sent in, the VEN's polls (at least once)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import OutboxRecord
from vtn.db.repos import Seen, utc
from vtn.db.tables import OutboxMessage, as_utc


def outbox_record(row: OutboxMessage) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        ven_id=row.ven_id,
        message_type=row.message_type,
        payload=dict(row.payload),
        created_at=utc(row.created_at),
        delivered_at=as_utc(row.delivered_at),
        request_id=row.request_id,
        sent_at=as_utc(row.sent_at),
        send_count=row.send_count,
        written_at=as_utc(row.written_at),
        acked_at=as_utc(row.acked_at),
    )


def _columns(record: OutboxRecord) -> dict[str, Any]:
    return asdict(record)


class OutboxRepository:
    """A message is pending until it is done (`delivered_at` set): waiting for its first send, or
    sent and not yet acknowledged (in flight)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen: Seen[int, OutboxRecord] = Seen()

    def _record(self, row: OutboxMessage) -> OutboxRecord:
        return self._seen.remember(row.id, row, outbox_record(row))

    async def _one(self, query: Select[OutboxMessage]) -> OutboxRecord | None:
        row = (await self.session.execute(query)).scalar_one_or_none()
        return None if row is None else self._record(row)

    async def _all(self, query: Select[OutboxMessage]) -> list[OutboxRecord]:
        return [self._record(row) for row in (await self.session.execute(query)).scalars().all()]

    def enqueue(self, ven_id: str, message_type: str, payload: dict[str, Any], now: datetime) -> None:
        """Queue a message (its id is assigned when the unit of work flushes)."""
        self.session.add(
            OutboxMessage(ven_id=ven_id, message_type=message_type, payload=payload, created_at=now)
        )

    async def save(self, message: OutboxRecord) -> None:
        """Write what changed on a message read in this unit of work (its requestID, its payload)."""
        await self._seen.save(self.session, OutboxMessage, message.id, message, _columns)

    def _pending(self, ven_id: str) -> Select[OutboxMessage]:
        return select(OutboxMessage).where(
            OutboxMessage.ven_id == ven_id, OutboxMessage.delivered_at.is_(None)
        )

    @staticmethod
    def _due(sent_before: datetime) -> ColumnElement[bool]:
        return or_(OutboxMessage.sent_at.is_(None), OutboxMessage.sent_at <= sent_before)

    async def next_due(self, ven_id: str, sent_before: datetime) -> OutboxRecord | None:
        """The oldest pending message that never went out or last went out at or before
        `sent_before`, locked so a second worker skips it (PostgreSQL)."""
        query = self._pending(ven_id).where(self._due(sent_before)).order_by(OutboxMessage.id).limit(1)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return await self._one(query)

    async def claim(self, message_id: int, now: datetime, sent_before: datetime) -> OutboxRecord | None:
        """Count a send of the message if it is still pending and due, and return it as it is
        then; None if another worker sent it (or it was done) meanwhile.

        The conditional UPDATE takes the write lock first (SQLite has no SELECT ... FOR UPDATE), so
        the payload read after it includes any fold (`merge_payload`) committed before, and a fold
        attempted after it finds the message sent and queues a new one.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.delivered_at.is_(None),
                self._due(sent_before),
            )
            .values(sent_at=now, send_count=OutboxMessage.send_count + 1, written_at=None)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = await self.session.get(OutboxMessage, message_id, populate_existing=True)
        assert row is not None
        return self._record(row)

    async def in_flight(self, ven_id: str) -> list[OutboxRecord]:
        """Pending messages that went out at least once: they wait for the VEN's acknowledgement."""
        query = self._pending(ven_id).where(OutboxMessage.sent_at.is_not(None)).order_by(OutboxMessage.id)
        return await self._all(query)

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
        if self.session.get_bind().dialect.name == "postgresql":
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

    async def last_pending(self, ven_id: str) -> OutboxRecord | None:
        return await self._one(self._pending(ven_id).order_by(OutboxMessage.id.desc()).limit(1))

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
            delete(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < before)
            # Not evaluated on the rows this unit of work holds: SQLite's are naive, `before` is not.
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def pending_ven_ids(self) -> set[str]:
        query = select(OutboxMessage.ven_id).where(OutboxMessage.delivered_at.is_(None)).distinct()
        return set((await self.session.execute(query)).scalars().all())

    async def unsent(self, ven_id: str) -> list[OutboxRecord]:
        """Pending messages that have not gone out yet."""
        return await self._all(
            self._pending(ven_id).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
        )

    async def sent_since(self, ven_id: str, message_type: str, since: datetime) -> list[OutboxRecord]:
        """Messages of the type that went out (at least once) since `since`, done or not."""
        query = select(OutboxMessage).where(
            OutboxMessage.ven_id == ven_id,
            OutboxMessage.message_type == message_type,
            OutboxMessage.sent_at >= since,
        )
        return await self._all(query.order_by(OutboxMessage.id))

    async def discard_pending(self, ven_id: str) -> None:
        await self.session.execute(
            delete(OutboxMessage).where(OutboxMessage.ven_id == ven_id, OutboxMessage.delivered_at.is_(None))
        )
