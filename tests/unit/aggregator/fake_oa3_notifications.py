"""The in-memory OpenADR 3.1 notification outbox (same semantics as vtn/db/repos/oa3_notifications.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aggregator.notification_records import DeliveryState
from aggregator.openadr3_notification_records import Destination, Oa3NotificationRecord, RenderedObject


class FakeOa3NotificationRepository:
    def __init__(self, notifications: dict[str, Oa3NotificationRecord]) -> None:
        self._notifications = notifications

    def add(self, notification: Oa3NotificationRecord) -> None:
        assert notification.id not in self._notifications, f"notification {notification.id} is stored"
        self._notifications[notification.id] = notification

    async def get(self, notification_id: str) -> Oa3NotificationRecord | None:
        return self._notifications.get(notification_id)

    def _pending(self, notification_id: str) -> Oa3NotificationRecord | None:
        n = self._notifications.get(notification_id)
        return n if n is not None and n.state == DeliveryState.PENDING else None

    async def due(self, now: datetime, limit: int) -> list[Oa3NotificationRecord]:
        due = [
            n
            for n in self._notifications.values()
            if n.state == DeliveryState.PENDING and n.next_attempt_at <= now
        ]
        return sorted(due, key=lambda n: (n.next_attempt_at, n.created_at, n.id))[:limit]

    async def claim(
        self, notification_id: str, now: datetime, until: datetime
    ) -> Oa3NotificationRecord | None:
        n = self._pending(notification_id)
        if n is None or n.next_attempt_at > now:
            return None
        n = self._notifications[n.id] = replace(n, attempts=n.attempts + 1, next_attempt_at=until)
        return n

    async def resolve(
        self, notification_id: str, rendered: RenderedObject, destinations: tuple[Destination, ...]
    ) -> None:
        n = self._pending(notification_id)
        if n is not None:
            self._notifications[n.id] = replace(n, rendered=rendered, destinations=destinations)

    async def mark_delivered(self, notification_id: str, now: datetime, note: str | None = None) -> bool:
        n = self._pending(notification_id)
        if n is None:
            return False
        self._notifications[n.id] = replace(
            n, state=DeliveryState.DELIVERED, delivered_at=now, last_error=note, destinations=()
        )
        return True

    async def mark_failed(
        self,
        notification_id: str,
        attempts: int,
        error: str,
        next_attempt_at: datetime,
        remaining: tuple[Destination, ...],
    ) -> bool:
        n = self._pending(notification_id)
        if n is None or n.attempts != attempts:
            return False
        self._notifications[n.id] = replace(
            n, last_error=error, next_attempt_at=next_attempt_at, destinations=remaining
        )
        return True

    async def prune_delivered(self, before: datetime) -> int:
        old = [
            n.id
            for n in self._notifications.values()
            if n.state == DeliveryState.DELIVERED and n.delivered_at is not None and n.delivered_at < before
        ]
        for notification_id in old:
            del self._notifications[notification_id]
        return len(old)
