"""Market inputs and planning runs in the database; implements aggregator.ports.LoopStore."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.inputs import (
    Home,
    Imbalance,
    PlanningInputs,
    PortfolioWindow,
    Prices,
    Series,
    WindowKind,
)
from aggregator.ports import RunRecord
from vtn.db.tables import (
    ImbalanceSignal,
    PlanningRun,
    PortfolioRequest,
    PriceSeries,
    Ven,
    VenDispatch,
    as_utc,
)
from vtn.errors import Conflict, NotFound
from vtn.services.site import site_flexibility

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A home the planner must not steer, with its expected net import [kW] held fixed."""

    reason: str
    fixed_kw: float


def _utc(value: datetime | None) -> datetime:
    out = as_utc(value)
    assert out is not None
    return out


# ---- writes from the REST API --------------------------------------------------------------


async def put_prices(sessions: Sessions, row: PriceSeries) -> PriceSeries:
    async with sessions() as session:
        session.add(row)
        await session.commit()
        await session.refresh(row)
    return row


async def put_imbalance(sessions: Sessions, row: ImbalanceSignal) -> ImbalanceSignal:
    async with sessions() as session:
        session.add(row)
        await session.commit()
        await session.refresh(row)
    return row


async def add_request(sessions: Sessions, row: PortfolioRequest) -> PortfolioRequest:
    row.request_id = row.request_id or uuid.uuid4().hex
    async with sessions() as session:
        session.add(row)
        await session.commit()
    return row


async def list_requests(sessions: Sessions) -> list[PortfolioRequest]:
    async with sessions() as session:
        rows = await session.scalars(select(PortfolioRequest).order_by(PortfolioRequest.created_at))
        return list(rows)


async def cancel_request(sessions: Sessions, request_id: str, now: datetime) -> PortfolioRequest:
    async with sessions() as session:
        row = await session.get(PortfolioRequest, request_id)
        if row is None:
            raise NotFound("request", request_id)
        if row.cancelled_at is not None:
            raise Conflict(f"request {request_id} is already cancelled")
        row.cancelled_at = now
        await session.commit()
    return row


async def latest_prices(sessions: Sessions) -> PriceSeries | None:
    async with sessions() as session:
        return await session.scalar(select(PriceSeries).order_by(PriceSeries.id.desc()).limit(1))


async def latest_imbalance(sessions: Sessions) -> ImbalanceSignal | None:
    async with sessions() as session:
        return await session.scalar(select(ImbalanceSignal).order_by(ImbalanceSignal.id.desc()).limit(1))


# ---- runs and schedules -------------------------------------------------------------------


async def list_runs(sessions: Sessions, limit: int = 100) -> list[PlanningRun]:
    async with sessions() as session:
        rows = await session.scalars(select(PlanningRun).order_by(PlanningRun.started_at.desc()).limit(limit))
        return list(rows)


async def get_run(sessions: Sessions, run_id: str) -> PlanningRun:
    async with sessions() as session:
        row = await session.get(PlanningRun, run_id)
    if row is None:
        raise NotFound("run", run_id)
    return row


async def latest_planned_run(sessions: Sessions) -> PlanningRun:
    async with sessions() as session:
        row = await session.scalar(
            select(PlanningRun)
            .where(PlanningRun.status != "error")
            .order_by(PlanningRun.started_at.desc(), PlanningRun.seconds.desc())
            .limit(1)
        )
    if row is None:
        raise NotFound("plan", "latest")
    return row


async def ven_schedule(sessions: Sessions, ven_id: str) -> VenDispatch:
    async with sessions() as session:
        if await session.get(Ven, ven_id) is None:
            raise NotFound("VEN", ven_id)
        row = await session.get(VenDispatch, ven_id)
    if row is None:
        raise Conflict(f"VEN {ven_id!r} has no schedule yet: no planning run has dispatched to it")
    return row


def _series(start: datetime, resolution_minutes: int, values: list[Any]) -> Series:
    return Series(_utc(start), timedelta(minutes=resolution_minutes), tuple(float(v) for v in values))


class DbLoopStore:
    """LoopStore over the VTN's database; `exclusions` come from the loop's watcher."""

    def __init__(self, sessions: Sessions, exclusions: Mapping[str, Exclusion] | None = None) -> None:
        self._sessions = sessions
        self._exclusions = exclusions or {}

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        async with self._sessions() as session:
            prices = await session.scalar(select(PriceSeries).order_by(PriceSeries.id.desc()).limit(1))
            imbalance = await session.scalar(
                select(ImbalanceSignal).order_by(ImbalanceSignal.id.desc()).limit(1)
            )
            requests = list(
                await session.scalars(select(PortfolioRequest).where(PortfolioRequest.cancelled_at.is_(None)))
            )
            vens = list(await session.scalars(select(Ven).where(Ven.registration_id.is_not(None))))
        homes = [await self._home(v, now) for v in sorted(vens, key=lambda v: v.site_id)]
        return PlanningInputs(
            now=now,
            homes=tuple(homes),
            prices=_prices(prices),
            imbalance=_imbalance(imbalance),
            windows=tuple(
                PortfolioWindow(
                    r.request_id, WindowKind(r.kind), _utc(r.start), _utc(r.end), r.power_kw, r.reason
                )
                for r in requests
                if _utc(r.end) > now
            ),
        )

    async def _home(self, ven: Ven, now: datetime) -> Home:
        excluded = self._exclusions.get(ven.ven_id)
        if excluded is not None:
            return Home(
                ven.ven_id,
                ven.site_id,
                None,
                fixed_kw=(excluded.fixed_kw,) * 96,
                excluded_reason=excluded.reason,
            )
        try:
            flex = await site_flexibility(self._sessions, ven.ven_id, now)
        except Conflict:
            return Home(ven.ven_id, ven.site_id, None)
        return Home(ven.ven_id, ven.site_id, flex.site, grid_start=flex.start)

    async def save_run(self, run: RunRecord) -> None:
        async with self._sessions() as session:
            session.add(
                PlanningRun(
                    run_id=run.run_id,
                    trigger=run.trigger[:64],
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
            await session.commit()


def _prices(row: PriceSeries | None) -> Prices | None:
    if row is None:
        return None
    return Prices(
        _series(row.start, row.resolution_minutes, row.import_eur_per_kwh),
        _series(row.start, row.resolution_minutes, row.export_eur_per_kwh),
        row.capacity_eur_per_kw_month,
    )


def _imbalance(row: ImbalanceSignal | None) -> Imbalance | None:
    if row is None:
        return None
    nominated = row.nominated_net_kw
    return Imbalance(
        _series(row.start, row.resolution_minutes, row.imbalance_eur_per_kwh),
        _series(row.start, row.resolution_minutes, nominated) if nominated else None,
    )
