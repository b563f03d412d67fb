"""Reports: what each VEN offers (METADATA), what the VTN asked it for, and the values it sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, Integer, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from aggregator.meter_records import ValueBucket
from aggregator.records import (
    ReportRegistrationRecord,
    ReportRequestOwner,
    ReportRequestRecord,
    ReportValueRecord,
)
from vtn.db.repos import insert_on_conflict, utc
from vtn.db.tables import ReportRegistration, ReportRequest, ReportValue, as_utc


def _registration(row: ReportRegistration) -> ReportRegistrationRecord:
    return ReportRegistrationRecord(
        ven_id=row.ven_id,
        report_specifier_id=row.report_specifier_id,
        report_name=row.report_name,
        descriptions=tuple(row.descriptions),
        created_at=utc(row.created_at),
        report_request_id=row.report_request_id,
    )


def _request(row: ReportRequest) -> ReportRequestRecord:
    return ReportRequestRecord(
        report_request_id=row.report_request_id,
        ven_id=row.ven_id,
        report_specifier_id=row.report_specifier_id,
        report_name=row.report_name,
        r_ids=tuple(row.r_ids),
        granularity_seconds=row.granularity_seconds,
        report_back_seconds=row.report_back_seconds,
        created_at=utc(row.created_at),
        acknowledged_at=as_utc(row.acknowledged_at),
        cancelled_at=as_utc(row.cancelled_at),
    )


# Report values are read as these columns, not as rows: tens of thousands of values (after a
# load run, a long telemetry history) are read without an ORM object each.
_VALUES = select(
    ReportValue.ven_id,
    ReportValue.report_request_id,
    ReportValue.report_name,
    ReportValue.r_id,
    ReportValue.dtstart,
    ReportValue.duration_seconds,
    ReportValue.value,
    ReportValue.received_at,
)


async def _read_values(session: AsyncSession, query: Executable) -> list[ReportValueRecord]:
    """The values `query` (built on `_VALUES`) selects, in its order."""
    return [
        ReportValueRecord(ven_id, request_id, name, r_id, utc(dtstart), seconds, value, utc(received_at))
        for ven_id, request_id, name, r_id, dtstart, seconds, value, received_at in (
            await session.execute(query)
        ).all()
    ]


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- what the VEN offers -------------------------------------------------------------------
    async def replace_registrations(
        self, ven_id: str, registrations: Sequence[ReportRegistrationRecord]
    ) -> None:
        """The VEN's METADATA replaces what it offered before."""
        await self.session.execute(delete(ReportRegistration).where(ReportRegistration.ven_id == ven_id))
        await self.session.flush()
        self.session.add_all(
            ReportRegistration(
                ven_id=r.ven_id,
                report_specifier_id=r.report_specifier_id,
                report_name=r.report_name,
                report_request_id=r.report_request_id,
                descriptions=list(r.descriptions),
                created_at=r.created_at,
            )
            for r in registrations
        )

    async def registrations(self, ven_id: str) -> list[ReportRegistrationRecord]:
        query = select(ReportRegistration).where(ReportRegistration.ven_id == ven_id)
        return [_registration(row) for row in await self.session.scalars(query)]

    # -- what the VTN asked for ----------------------------------------------------------------
    def add_request(self, request: ReportRequestRecord) -> None:
        self.session.add(
            ReportRequest(
                report_request_id=request.report_request_id,
                ven_id=request.ven_id,
                report_specifier_id=request.report_specifier_id,
                report_name=request.report_name,
                r_ids=list(request.r_ids),
                granularity_seconds=request.granularity_seconds,
                report_back_seconds=request.report_back_seconds,
                created_at=request.created_at,
                acknowledged_at=request.acknowledged_at,
                cancelled_at=request.cancelled_at,
            )
        )

    async def get_request(self, report_request_id: str) -> ReportRequestRecord | None:
        row = await self.session.get(ReportRequest, report_request_id)
        return None if row is None else _request(row)

    async def live_requests(self, ven_id: str) -> list[ReportRequestRecord]:
        query = (
            select(ReportRequest)
            .where(ReportRequest.ven_id == ven_id, ReportRequest.cancelled_at.is_(None))
            .order_by(ReportRequest.created_at)
        )
        return [_request(row) for row in await self.session.scalars(query)]

    async def cancel_request(self, report_request_id: str, now: datetime) -> None:
        """Mark the request cancelled (unless it already is)."""
        await self._stamp(report_request_id, ReportRequest.cancelled_at, now)

    async def acknowledge_request(self, report_request_id: str, now: datetime) -> None:
        """Mark the request acknowledged by the VEN (a first acknowledgement's time is kept)."""
        await self._stamp(report_request_id, ReportRequest.acknowledged_at, now)

    async def _stamp(
        self, report_request_id: str, column: InstrumentedAttribute[datetime | None], now: datetime
    ) -> None:
        """Set a time column of the request unless it is set already."""
        await self.session.execute(
            update(ReportRequest)
            .where(ReportRequest.report_request_id == report_request_id, column.is_(None))
            .values({column: now})
        )

    async def request_states(self, report_request_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """reportRequestID -> (cancelled, acknowledged by the VEN). Columns only: no request row
        enters the session."""
        if not report_request_ids:
            return {}
        query = select(
            ReportRequest.report_request_id, ReportRequest.cancelled_at, ReportRequest.acknowledged_at
        ).where(ReportRequest.report_request_id.in_(list(report_request_ids)))
        rows = (await self.session.execute(query)).all()
        return {rid: (cancelled is not None, acked is not None) for rid, cancelled, acked in rows}

    async def cancel_live_requests(self, ven_id: str, now: datetime) -> None:
        """Cancel every live report request of the VEN (its registration ended, or it re-offered)."""
        await self.session.execute(
            update(ReportRequest)
            .where(ReportRequest.ven_id == ven_id, ReportRequest.cancelled_at.is_(None))
            .values(cancelled_at=now)
        )

    async def owners(self, report_request_ids: Sequence[str] | None) -> list[ReportRequestOwner]:
        """Who each request belongs to and what it asked for (None: every live request).

        Four columns, not rows: read for every live request of thousands of VENs at start-up."""
        query = select(
            ReportRequest.report_request_id,
            ReportRequest.ven_id,
            ReportRequest.report_name,
            ReportRequest.r_ids,
        )
        if report_request_ids is None:
            query = query.where(ReportRequest.cancelled_at.is_(None))
        else:
            query = query.where(ReportRequest.report_request_id.in_(list(report_request_ids)))
        rows = (await self.session.execute(query)).all()
        return [
            ReportRequestOwner(request_id, ven_id, name, tuple(r_ids))
            for request_id, ven_id, name, r_ids in rows
        ]

    # -- the values ----------------------------------------------------------------------------
    async def add_values(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert report values; a (ven, request, rID, dtstart) already stored is skipped."""
        if not rows:
            return
        statement = insert_on_conflict(self.session)(ReportValue).on_conflict_do_nothing(
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

    async def r_ids_ending(self, report_name: str, suffix: str) -> set[tuple[str, str]]:
        """(venID, rID) of the stored values of `report_name` whose rID ends with `suffix`."""
        query = (
            select(ReportValue.ven_id, ReportValue.r_id)
            .where(ReportValue.report_name == report_name, ReportValue.r_id.endswith(suffix, autoescape=True))
            .distinct()
        )
        return {(ven_id, r_id) for ven_id, r_id in (await self.session.execute(query)).all()}

    async def values_named(self, report_name: str) -> list[ReportValueRecord]:
        """Every stored value of every VEN's reports named `report_name` (e.g. after a load run)."""
        return await _read_values(self.session, _VALUES.where(ReportValue.report_name == report_name))

    async def values_of(self, ven_id: str, report_name: str) -> list[ReportValueRecord]:
        query = _VALUES.where(ReportValue.ven_id == ven_id, ReportValue.report_name == report_name)
        return await _read_values(self.session, query.order_by(ReportValue.r_id, ReportValue.dtstart))

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
            _VALUES.join(
                newest, (ReportValue.r_id == newest.c.r_id) & (ReportValue.dtstart == newest.c.dtstart)
            )
            .where(*recent)
            .order_by(ReportValue.r_id, ReportValue.id)
        )
        return await _read_values(self.session, query)

    async def values(
        self, ven_id: str, since: datetime | None, until: datetime | None
    ) -> list[ReportValueRecord]:
        query = _VALUES.where(ReportValue.ven_id == ven_id)
        if since is not None:
            query = query.where(ReportValue.dtstart >= since)
        if until is not None:
            query = query.where(ReportValue.dtstart < until)
        query = query.order_by(ReportValue.dtstart, ReportValue.r_id, ReportValue.id)
        return await _read_values(self.session, query)

    async def buckets(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime, bucket: timedelta
    ) -> list[ValueBucket]:
        """One GROUP BY (rID, epoch seconds // bucket): the database summarises, Python reads a
        row per bucket instead of every sample."""
        seconds = int(bucket.total_seconds())
        if self.session.get_bind().dialect.name == "postgresql":
            index: Any = func.floor(func.extract("epoch", ReportValue.dtstart) / seconds)
        else:  # SQLite stores the time as text: strftime('%s') reads it as epoch seconds
            index = func.cast(func.strftime("%s", ReportValue.dtstart), Integer) // seconds
        index = index.label("bucket")
        query = (
            select(
                ReportValue.r_id,
                func.min(ReportValue.dtstart),
                func.max(ReportValue.dtstart),
                func.min(ReportValue.value),
                func.max(ReportValue.value),
                func.count(),
            )
            .where(
                ReportValue.ven_id == ven_id,
                ReportValue.r_id.in_(list(r_ids)),
                ReportValue.dtstart >= since,
                ReportValue.dtstart < until,
            )
            .group_by(ReportValue.r_id, index)
            .order_by(ReportValue.r_id, index)
        )
        return [
            ValueBucket(r_id, utc(first), utc(last), float(low), float(high), int(n))
            for r_id, first, last, low, high, n in (await self.session.execute(query)).all()
        ]

    async def series(
        self, ven_id: str, r_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[ReportValueRecord]:
        query = _VALUES.where(
            ReportValue.ven_id == ven_id,
            ReportValue.r_id.in_(list(r_ids)),
            ReportValue.dtstart >= since,
            ReportValue.dtstart < until,
        ).order_by(ReportValue.r_id, ReportValue.dtstart, ReportValue.id)
        return await _read_values(self.session, query)
