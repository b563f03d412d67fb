"""The OpenADR 3.1 notifications' durable outbox (aggregator/openadr3_notifications.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.notification_records import DeliveryState
from aggregator.openadr3_notification_records import (
    Destination,
    Oa3NotificationRecord,
    Operation,
    RenderedObject,
)
from aggregator.openadr3_records import ObjectType
from vtn.db.repos import utc
from vtn.db.tables import Oa3Notification, as_utc


def oa3_notification_record(row: Oa3Notification) -> Oa3NotificationRecord:
    return Oa3NotificationRecord(
        id=row.id,
        object_type=ObjectType(row.object_type),
        operation=Operation(row.operation),
        object_id=row.object_id,
        created_at=utc(row.created_at),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
        rendered=None if row.rendered is None else RenderedObject.from_json(row.rendered),
        destinations=None
        if row.destinations is None
        else tuple(Destination.from_json(d) for d in row.destinations),
        last_error=row.last_error,
        delivered_at=as_utc(row.delivered_at),
    )


class Oa3NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, notification: Oa3NotificationRecord) -> None:
        n = notification
        self.session.add(
            Oa3Notification(
                id=n.id,
                object_type=n.object_type.value,
                operation=n.operation.value,
                object_id=n.object_id,
                created_at=n.created_at,
                rendered=None if n.rendered is None else n.rendered.to_json(),
                destinations=None if n.destinations is None else [d.to_json() for d in n.destinations],
                state=n.state.value,
                attempts=n.attempts,
                next_attempt_at=n.next_attempt_at,
                last_error=n.last_error,
                delivered_at=n.delivered_at,
            )
        )

    async def get(self, notification_id: str) -> Oa3NotificationRecord | None:
        row = await self.session.get(Oa3Notification, notification_id, populate_existing=True)
        return None if row is None else oa3_notification_record(row)

    async def due(self, now: datetime, limit: int) -> list[Oa3NotificationRecord]:
        query = (
            select(Oa3Notification)
            .where(
                Oa3Notification.state == DeliveryState.PENDING.value,
                Oa3Notification.next_attempt_at <= now,
            )
            .order_by(Oa3Notification.next_attempt_at, Oa3Notification.created_at, Oa3Notification.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # A second worker claiming at the same moment takes other rows instead of waiting.
            query = query.with_for_update(skip_locked=True)
        return [oa3_notification_record(r) for r in (await self.session.execute(query)).scalars().all()]

    async def _update_pending(self, notification_id: str, *where: Any, **values: Any) -> int:
        """UPDATE the notification if it is pending and meets `where`: the rows changed (0 or 1)."""
        result = await self.session.execute(
            update(Oa3Notification)
            .where(
                Oa3Notification.id == notification_id,
                Oa3Notification.state == DeliveryState.PENDING.value,
                *where,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim(
        self, notification_id: str, now: datetime, until: datetime
    ) -> Oa3NotificationRecord | None:
        # The conditional UPDATE is the claim, as in vtn/db/repos/notifications.py.
        claimed = await self._update_pending(
            notification_id,
            Oa3Notification.next_attempt_at <= now,
            attempts=Oa3Notification.attempts + 1,
            next_attempt_at=until,
        )
        if not claimed:
            return None
        return await self.get(notification_id)

    async def resolve(
        self, notification_id: str, rendered: RenderedObject, destinations: tuple[Destination, ...]
    ) -> None:
        await self._update_pending(
            notification_id, rendered=rendered.to_json(), destinations=[d.to_json() for d in destinations]
        )

    async def mark_delivered(self, notification_id: str, now: datetime, note: str | None = None) -> bool:
        return bool(
            await self._update_pending(
                notification_id,
                state=DeliveryState.DELIVERED.value,
                delivered_at=now,
                last_error=note,
                destinations=[],
            )
        )

    async def mark_failed(
        self,
        notification_id: str,
        attempts: int,
        error: str,
        next_attempt_at: datetime,
        remaining: tuple[Destination, ...],
    ) -> bool:
        return bool(
            await self._update_pending(
                notification_id,
                Oa3Notification.attempts == attempts,
                last_error=error,
                next_attempt_at=next_attempt_at,
                destinations=[d.to_json() for d in remaining],
            )
        )

    async def prune_delivered(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(Oa3Notification)
            .where(
                Oa3Notification.state == DeliveryState.DELIVERED.value,
                Oa3Notification.delivered_at < before,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
