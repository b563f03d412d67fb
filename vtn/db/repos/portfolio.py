"""The closed loop's state: market inputs (prices, imbalance, DR requests), planning runs and
the dispatch event of each home."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.inputs import WindowKind
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord, ImbalanceRecord, PriceRecord, RequestRecord
from vtn.db.lengths import string_length
from vtn.db.repos import utc
from vtn.db.tables import (
    Base,
    ImbalanceSignal,
    PlanningRun,
    PortfolioRequest,
    PriceSeries,
    VenDispatch,
    as_utc,
)

Row = TypeVar("Row", bound=Base)
Record = TypeVar("Record")


def _floats(values: Iterable[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


async def _added(session: AsyncSession, row: Row, record: Callable[[Row], Record]) -> Record:
    """Store a new row; flushed, so the record has its generated values (an id)."""
    session.add(row)
    await session.flush()
    return record(row)


# ---- market inputs ----------------------------------------------------------------------------

# Prices and imbalance signals are only added: the newest (highest id) is the current one.
Signal = TypeVar("Signal", PriceSeries, ImbalanceSignal)


async def _newest(
    session: AsyncSession, table: type[Signal], record: Callable[[Signal], Record]
) -> Record | None:
    row = await session.scalar(select(table).order_by(table.id.desc()).limit(1))
    return None if row is None else record(row)


def _prices(row: PriceSeries) -> PriceRecord:
    return PriceRecord(
        id=row.id,
        start=utc(row.start),
        resolution_minutes=row.resolution_minutes,
        import_eur_per_kwh=_floats(row.import_eur_per_kwh),
        export_eur_per_kwh=_floats(row.export_eur_per_kwh),
        capacity_eur_per_kw_month=row.capacity_eur_per_kw_month,
        created_at=utc(row.created_at),
    )


class PriceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        import_eur_per_kwh: Sequence[float],
        export_eur_per_kwh: Sequence[float],
        capacity_eur_per_kw_month: float,
        created_at: datetime,
    ) -> PriceRecord:
        """Store new prices (the newest are the current ones); flushed, so the record has its id."""
        row = PriceSeries(
            start=start,
            resolution_minutes=resolution_minutes,
            import_eur_per_kwh=list(import_eur_per_kwh),
            export_eur_per_kwh=list(export_eur_per_kwh),
            capacity_eur_per_kw_month=capacity_eur_per_kw_month,
            created_at=created_at,
        )
        return await _added(self.session, row, _prices)

    async def latest(self) -> PriceRecord | None:
        return await _newest(self.session, PriceSeries, _prices)

    async def starting_between(self, since: datetime, until: datetime) -> list[PriceRecord]:
        rows = await self.session.scalars(
            select(PriceSeries)
            .where(PriceSeries.start >= since, PriceSeries.start < until)
            .order_by(PriceSeries.id)
        )
        return [_prices(row) for row in rows]


def _imbalance(row: ImbalanceSignal) -> ImbalanceRecord:
    nominated = row.nominated_net_kw
    return ImbalanceRecord(
        id=row.id,
        start=utc(row.start),
        resolution_minutes=row.resolution_minutes,
        imbalance_eur_per_kwh=_floats(row.imbalance_eur_per_kwh),
        nominated_net_kw=_floats(nominated) if nominated is not None else None,
        reason=row.reason,
        created_at=utc(row.created_at),
    )


class ImbalanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        start: datetime,
        resolution_minutes: int,
        imbalance_eur_per_kwh: Sequence[float],
        nominated_net_kw: Sequence[float] | None,
        reason: str | None,
        created_at: datetime,
    ) -> ImbalanceRecord:
        """Store a new imbalance signal; flushed, so the record has its id."""
        row = ImbalanceSignal(
            start=start,
            resolution_minutes=resolution_minutes,
            imbalance_eur_per_kwh=list(imbalance_eur_per_kwh),
            nominated_net_kw=list(nominated_net_kw) if nominated_net_kw is not None else None,
            reason=reason,
            created_at=created_at,
        )
        return await _added(self.session, row, _imbalance)

    async def latest(self) -> ImbalanceRecord | None:
        return await _newest(self.session, ImbalanceSignal, _imbalance)


def _request(row: PortfolioRequest) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        kind=WindowKind(row.kind),
        start=utc(row.start),
        end=utc(row.end),
        power_kw=row.power_kw,
        reason=row.reason,
        created_at=utc(row.created_at),
        cancelled_at=as_utc(row.cancelled_at),
    )


class RequestRepository:
    """DR requests of the market: caps and floors on the portfolio's net import."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        kind: WindowKind,
        start: datetime,
        end: datetime,
        power_kw: float,
        reason: str,
        created_at: datetime,
        request_id: str | None = None,
    ) -> RequestRecord:
        """Store a new request (a fresh requestID unless one is given)."""
        row = PortfolioRequest(
            request_id=request_id or uuid.uuid4().hex,
            kind=kind.value,
            start=start,
            end=end,
            power_kw=power_kw,
            reason=reason,
            created_at=created_at,
        )
        return await _added(self.session, row, _request)

    async def get(self, request_id: str) -> RequestRecord | None:
        row = await self.session.get(PortfolioRequest, request_id)
        return None if row is None else _request(row)

    async def all(self) -> list[RequestRecord]:
        query = select(PortfolioRequest).order_by(PortfolioRequest.created_at)
        return [_request(row) for row in await self.session.scalars(query)]

    async def live(self) -> list[RequestRecord]:
        """The requests not cancelled (over or not: the caller knows what time it is)."""
        query = select(PortfolioRequest).where(PortfolioRequest.cancelled_at.is_(None))
        return [
            _request(row) for row in await self.session.scalars(query.order_by(PortfolioRequest.created_at))
        ]

    async def cancel(self, request_id: str, now: datetime) -> RequestRecord | None:
        """Mark the request cancelled at `now`; None if there is no such request. The caller checks
        that it is live (a cancelled one would get the new time)."""
        row = await self.session.get(PortfolioRequest, request_id)
        if row is None:
            return None
        row.cancelled_at = now
        await self.session.flush()
        return _request(row)


# ---- planning runs ----------------------------------------------------------------------------

TRIGGER_LENGTH = string_length("planning_runs", "trigger")


def _run(row: PlanningRun) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        trigger=row.trigger,
        started_at=utc(row.started_at),
        seconds=row.seconds,
        status=row.status,
        solver=row.solver,
        gap=row.gap,
        message=row.message,
        inputs=row.inputs,
        plan=row.plan,
        dispatch=row.dispatch,
    )


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, run: RunRecord) -> None:
        """Store a run (its trigger cut to the column's length)."""
        self.session.add(
            PlanningRun(
                run_id=run.run_id,
                trigger=run.trigger[:TRIGGER_LENGTH],
                started_at=run.started_at,
                seconds=run.seconds,
                status=run.status,
                solver=run.solver,
                gap=run.gap,
                message=run.message,
                inputs=run.inputs,
                plan=run.plan,
                dispatch=run.dispatch,
            )
        )

    async def get(self, run_id: str) -> RunRecord | None:
        row = await self.session.get(PlanningRun, run_id)
        return None if row is None else _run(row)

    async def newest(self, limit: int) -> list[RunRecord]:
        query = select(PlanningRun).order_by(PlanningRun.started_at.desc()).limit(limit)
        return [_run(row) for row in await self.session.scalars(query)]

    async def latest_planned(self) -> RunRecord | None:
        """The newest run that did not fail (of two started at once, the longer: it planned)."""
        row = await self.session.scalar(
            select(PlanningRun)
            .where(PlanningRun.status != "error")
            .order_by(PlanningRun.started_at.desc(), PlanningRun.seconds.desc())
            .limit(1)
        )
        return None if row is None else _run(row)

    async def latest_planned_before(self, at: datetime) -> RunRecord | None:
        """The newest run that did not fail and started before `at` (as latest_planned)."""
        row = await self.session.scalar(
            select(PlanningRun)
            .where(PlanningRun.status != "error", PlanningRun.started_at < at)
            .order_by(PlanningRun.started_at.desc(), PlanningRun.seconds.desc())
            .limit(1)
        )
        return None if row is None else _run(row)


# ---- each home's dispatch event ---------------------------------------------------------------


def _dispatch(row: VenDispatch) -> DispatchRecord:
    return DispatchRecord(
        ven_id=row.ven_id,
        event_id=row.event_id,
        run_id=row.run_id,
        start=utc(row.start),
        resolution_minutes=row.resolution_minutes,
        setpoint_kw=_floats(row.setpoint_kw),
        updated_at=utc(row.updated_at),
    )


class DispatchRepository:
    """Which LOAD_DISPATCH event carries each VEN's schedule, and the schedule it carries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ven_id: str) -> DispatchRecord | None:
        row = await self.session.get(VenDispatch, ven_id)
        return None if row is None else _dispatch(row)

    async def of_vens(self, ven_ids: Sequence[str]) -> dict[str, DispatchRecord]:
        query = select(VenDispatch).where(VenDispatch.ven_id.in_(list(ven_ids)))
        return {row.ven_id: _dispatch(row) for row in await self.session.scalars(query)}

    async def all(self) -> dict[str, DispatchRecord]:
        return {row.ven_id: _dispatch(row) for row in await self.session.scalars(select(VenDispatch))}

    async def save(self, records: Sequence[DispatchRecord]) -> None:
        """Insert or replace each VEN's record (one read of the existing rows for all of them)."""
        if not records:
            return
        query = select(VenDispatch).where(VenDispatch.ven_id.in_([r.ven_id for r in records]))
        rows = {row.ven_id: row for row in await self.session.scalars(query)}
        for record in records:
            row = rows.get(record.ven_id)
            if row is None:
                row = VenDispatch(ven_id=record.ven_id)
                self.session.add(row)
            row.event_id = record.event_id
            row.run_id = record.run_id
            row.start = record.start
            row.resolution_minutes = record.resolution_minutes
            row.setpoint_kw = list(record.setpoint_kw)
            row.updated_at = record.updated_at

    async def remove(self, ven_id: str) -> DispatchRecord | None:
        """Forget the VEN's dispatch event; the record it had, or None."""
        row = await self.session.get(VenDispatch, ven_id)
        if row is None:
            return None
        record = _dispatch(row)
        await self.session.delete(row)
        await self.session.flush()
        return record
