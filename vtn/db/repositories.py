"""The outbox repository: it still returns ORM rows (the other aggregates, in vtn/db/repos/,
return records). Wraps the unit of work's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vtn.db.tables import (
    OutboxMessage,
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


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
