"""The households' notifications (a durable outbox for webhooks) and their webhooks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.notification_records import (
    DeliveryState,
    NotificationKind,
    NotificationRecord,
    WebhookRecord,
)
from vtn.db.repos import utc
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


def _pending_and_due(now: datetime) -> tuple[object, ...]:
    return (SiteNotification.state == DeliveryState.PENDING.value, SiteNotification.next_attempt_at <= now)


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
            .where(*_pending_and_due(now))  # type: ignore[arg-type]
            .order_by(SiteNotification.next_attempt_at, SiteNotification.created_at, SiteNotification.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # A second worker claiming at the same moment takes other rows instead of waiting.
            query = query.with_for_update(skip_locked=True)
        return [notification_record(r) for r in (await self.session.execute(query)).scalars().all()]

    async def claim(self, notification_id: str, now: datetime, until: datetime) -> NotificationRecord | None:
        # The conditional UPDATE is the claim: on PostgreSQL it waits for a competing claim's row
        # lock and then re-checks the condition (READ COMMITTED), on SQLite writers are serial.
        result = await self.session.execute(
            update(SiteNotification)
            .where(SiteNotification.id == notification_id, *_pending_and_due(now))  # type: ignore[arg-type]
            .values(attempts=SiteNotification.attempts + 1, next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = await self.session.get(SiteNotification, notification_id, populate_existing=True)
        assert row is not None
        return notification_record(row)

    async def mark_delivered(self, notification_id: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(SiteNotification)
            .where(
                SiteNotification.id == notification_id,
                SiteNotification.state == DeliveryState.PENDING.value,
            )
            .values(state=DeliveryState.DELIVERED.value, delivered_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

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

    async def mark_failed(
        self, notification_id: str, attempts: int, error: str, next_attempt_at: datetime
    ) -> bool:
        result = await self.session.execute(
            update(SiteNotification)
            .where(
                SiteNotification.id == notification_id,
                SiteNotification.state == DeliveryState.PENDING.value,
                SiteNotification.attempts == attempts,
            )
            .values(last_error=error, next_attempt_at=next_attempt_at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def webhook_record(row: SiteWebhook) -> WebhookRecord:
    return WebhookRecord(row.site_id, row.url, row.secret, utc(row.created_at))


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, site_id: str) -> WebhookRecord | None:
        row = await self.session.get(SiteWebhook, site_id)
        return None if row is None else webhook_record(row)

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, WebhookRecord]:
        ids = sorted(set(site_ids))
        if not ids:
            return {}
        rows = (await self.session.execute(select(SiteWebhook).where(SiteWebhook.site_id.in_(ids)))).scalars()
        return {r.site_id: webhook_record(r) for r in rows.all()}

    def add(self, webhook: WebhookRecord) -> None:
        self.session.add(
            SiteWebhook(
                site_id=webhook.site_id, url=webhook.url, secret=webhook.secret, created_at=webhook.created_at
            )
        )

    async def save(self, webhook: WebhookRecord) -> None:
        await self.session.execute(
            update(SiteWebhook)
            .where(SiteWebhook.site_id == webhook.site_id)
            .values(url=webhook.url, secret=webhook.secret)
            .execution_options(synchronize_session=False)
        )

    async def remove(self, site_id: str) -> bool:
        result = await self.session.execute(delete(SiteWebhook).where(SiteWebhook.site_id == site_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]
