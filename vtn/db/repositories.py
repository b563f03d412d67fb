"""The outbox and report repositories. Each wraps the unit of work's session.

They still return ORM rows (the other aggregates moved to vtn/db/repos/, which return records).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import ReportValueRecord
from vtn.db.repos import utc
from vtn.db.tables import (
    OutboxMessage,
    ReportRegistration,
    ReportRequest,
    ReportValue,
    as_utc,
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


_VALUE_COLUMNS = (
    ReportValue.ven_id,
    ReportValue.report_request_id,
    ReportValue.report_name,
    ReportValue.r_id,
    ReportValue.dtstart,
    ReportValue.duration_seconds,
    ReportValue.value,
    ReportValue.received_at,
)


def _value(row: ReportValue) -> ReportValueRecord:
    return ReportValueRecord(
        row.ven_id,
        row.report_request_id,
        row.report_name,
        row.r_id,
        utc(row.dtstart),
        row.duration_seconds,
        row.value,
        utc(row.received_at),
    )


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

    async def cancel_live_requests(self, ven_id: str, now: datetime) -> None:
        """Cancel every live report request of the VEN (its registration ended)."""
        await self.session.execute(
            update(ReportRequest)
            .where(ReportRequest.ven_id == ven_id, ReportRequest.cancelled_at.is_(None))
            .values(cancelled_at=now)
        )

    async def r_ids_ending(self, report_name: str, suffix: str) -> set[tuple[str, str]]:
        """(venID, rID) of the stored values of `report_name` whose rID ends with `suffix`."""
        query = (
            select(ReportValue.ven_id, ReportValue.r_id)
            .where(ReportValue.report_name == report_name, ReportValue.r_id.endswith(suffix, autoescape=True))
            .distinct()
        )
        return {(ven_id, r_id) for ven_id, r_id in (await self.session.execute(query)).all()}

    async def values_named(self, report_name: str) -> list[ReportValueRecord]:
        """Every stored value of every VEN's reports named `report_name` (e.g. after a load run).

        Columns, not rows: tens of thousands of values are read without an ORM object each."""
        query = select(*_VALUE_COLUMNS).where(ReportValue.report_name == report_name)
        return [
            ReportValueRecord(ven_id, request_id, name, r_id, utc(dtstart), seconds, value, utc(received_at))
            for ven_id, request_id, name, r_id, dtstart, seconds, value, received_at in (
                await self.session.execute(query)
            ).all()
        ]

    async def values_of(self, ven_id: str, report_name: str) -> list[ReportValueRecord]:
        query = select(ReportValue).where(
            ReportValue.ven_id == ven_id, ReportValue.report_name == report_name
        )
        query = query.order_by(ReportValue.r_id, ReportValue.dtstart)
        return [_value(row) for row in await self.session.scalars(query)]

    async def latest_values(
        self, ven_id: str, report_name: str, window: timedelta
    ) -> list[ReportValueRecord]:
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
        return [_value(row) for row in await self.session.scalars(query)]

    async def values(
        self, ven_id: str, since: datetime | None, until: datetime | None
    ) -> list[ReportValueRecord]:
        query = select(ReportValue).where(ReportValue.ven_id == ven_id)
        if since is not None:
            query = query.where(ReportValue.dtstart >= since)
        if until is not None:
            query = query.where(ReportValue.dtstart < until)
        query = query.order_by(ReportValue.dtstart, ReportValue.r_id, ReportValue.id)
        return [_value(row) for row in await self.session.scalars(query)]
