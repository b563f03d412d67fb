"""The households' notifications (a durable outbox for webhooks) and their webhooks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.notification_records import (
    DeliveryState,
    NotificationKind,
    NotificationRecord,
    WebhookRecord,
)
from vtn.db.repos import Seen, utc
from vtn.db.tables import SiteNotification, SiteWebhook, as_utc


def notification_record(row: SiteNotification) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        site_id=row.site_id,
        kind=NotificationKind(row.kind),
        created_at=utc(row.created_at),
        data=dict(row.data),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
        last_error=row.last_error,
        delivered_at=as_utc(row.delivered_at),
    )


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, notification: NotificationRecord) -> None:
        n = notification
        self.session.add(
            SiteNotification(
                id=n.id,
                site_id=n.site_id,
                kind=n.kind.value,
                created_at=n.created_at,
                data=n.data,
                state=n.state.value,
                attempts=n.attempts,
                next_attempt_at=n.next_attempt_at,
                last_error=n.last_error,
                delivered_at=n.delivered_at,
            )
        )

    async def of_site(
        self, site_id: str, limit: int, state: DeliveryState | None = None
    ) -> list[NotificationRecord]:
        query = select(SiteNotification).where(SiteNotification.site_id == site_id)
        if state is not None:
            query = query.where(SiteNotification.state == state.value)
        query = query.order_by(SiteNotification.created_at.desc(), SiteNotification.id.desc()).limit(limit)
        return [notification_record(r) for r in (await self.session.execute(query)).scalars().all()]

    async def due(self, now: datetime, limit: int) -> list[NotificationRecord]:
        query = (
            select(SiteNotification)
            .where(
                SiteNotification.state == DeliveryState.PENDING.value,
                SiteNotification.next_attempt_at <= now,
            )
            .order_by(SiteNotification.next_attempt_at, SiteNotification.created_at, SiteNotification.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # A second worker claiming at the same moment takes other rows instead of waiting.
            query = query.with_for_update(skip_locked=True)
        return [notification_record(r) for r in (await self.session.execute(query)).scalars().all()]

    async def _update_pending(self, notification_id: str, *where: Any, **values: Any) -> int:
        """UPDATE the notification if it is pending and meets `where`: the rows changed (0 or 1)."""
        result = await self.session.execute(
            update(SiteNotification)
            .where(
                SiteNotification.id == notification_id,
                SiteNotification.state == DeliveryState.PENDING.value,
                *where,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim(self, notification_id: str, now: datetime, until: datetime) -> NotificationRecord | None:
        # The conditional UPDATE is the claim: on PostgreSQL it waits for a competing claim's row
        # lock and then re-checks the condition (READ COMMITTED), on SQLite writers are serial.
        claimed = await self._update_pending(
            notification_id,
            SiteNotification.next_attempt_at <= now,
            attempts=SiteNotification.attempts + 1,
            next_attempt_at=until,
        )
        if not claimed:
            return None
        row = await self.session.get(SiteNotification, notification_id, populate_existing=True)
        assert row is not None
        return notification_record(row)

    async def mark_delivered(self, notification_id: str, now: datetime) -> bool:
        return bool(
            await self._update_pending(
                notification_id, state=DeliveryState.DELIVERED.value, delivered_at=now, last_error=None
            )
        )

    async def mark_failed(
        self, notification_id: str, attempts: int, error: str, next_attempt_at: datetime
    ) -> bool:
        return bool(
            await self._update_pending(
                notification_id,
                SiteNotification.attempts == attempts,
                last_error=error,
                next_attempt_at=next_attempt_at,
            )
        )

    async def prune_delivered(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(SiteNotification)
            .where(
                SiteNotification.state == DeliveryState.DELIVERED.value,
                SiteNotification.delivered_at < before,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def webhook_record(row: SiteWebhook) -> WebhookRecord:
    return WebhookRecord(row.site_id, row.url, row.secret, utc(row.created_at))


def _webhook_columns(webhook: WebhookRecord) -> dict[str, Any]:
    return {
        "site_id": webhook.site_id,
        "url": webhook.url,
        "secret": webhook.secret,
        "created_at": webhook.created_at,
    }


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen: Seen[str, WebhookRecord] = Seen()

    def _record(self, row: SiteWebhook) -> WebhookRecord:
        return self._seen.remember(row.site_id, row, webhook_record(row))

    async def get(self, site_id: str) -> WebhookRecord | None:
        row = await self.session.get(SiteWebhook, site_id)
        return None if row is None else self._record(row)

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, WebhookRecord]:
        ids = sorted(set(site_ids))
        if not ids:
            return {}
        rows = await self.session.scalars(select(SiteWebhook).where(SiteWebhook.site_id.in_(ids)))
        return {r.site_id: self._record(r) for r in rows}

    def add(self, webhook: WebhookRecord) -> None:
        row = SiteWebhook(**_webhook_columns(webhook))
        self.session.add(row)
        self._seen.remember(webhook.site_id, row, webhook)

    async def save(self, webhook: WebhookRecord) -> None:
        """Write what changed since this unit of work read the webhook: a new URL leaves alone a
        secret that a concurrent rotation wrote meanwhile, and the other way round."""
        await self._seen.save(self.session, SiteWebhook, webhook.site_id, webhook, _webhook_columns)

    async def remove(self, site_id: str) -> bool:
        result = await self.session.execute(delete(SiteWebhook).where(SiteWebhook.site_id == site_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]
