"""Market inputs and planning runs in the database; implements aggregator.ports.LoopStore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from aggregator.records import (
    DispatchRecord,
    ImbalanceRecord,
    PriceRecord,
    RequestRecord,
    VenRecord,
)
from aggregator.site import site_flexibility
from vtn.db.uow import Sessions, UnitOfWork
from vtn.errors import Conflict, NotFound

RUNS_LISTED = 100


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A home the planner must not steer, with its expected net import [kW] held fixed."""

    reason: str
    fixed_kw: float


# ---- writes from the REST API --------------------------------------------------------------


async def put_prices(
    sessions: Sessions,
    start: datetime,
    resolution_minutes: int,
    import_eur_per_kwh: Sequence[float],
    export_eur_per_kwh: Sequence[float],
    capacity_eur_per_kw_month: float,
    now: datetime,
) -> PriceRecord:
    """Store new prices; from now on they are the current ones."""
    async with UnitOfWork(sessions) as uow:
        record = await uow.prices.add(
            start, resolution_minutes, import_eur_per_kwh, export_eur_per_kwh, capacity_eur_per_kw_month, now
        )
        await uow.commit()
    return record


async def put_imbalance(
    sessions: Sessions,
    start: datetime,
    resolution_minutes: int,
    imbalance_eur_per_kwh: Sequence[float],
    nominated_net_kw: Sequence[float] | None,
    reason: str | None,
    now: datetime,
) -> ImbalanceRecord:
    async with UnitOfWork(sessions) as uow:
        record = await uow.imbalance.add(
            start, resolution_minutes, imbalance_eur_per_kwh, nominated_net_kw, reason, now
        )
        await uow.commit()
    return record


async def add_request(
    sessions: Sessions,
    kind: WindowKind,
    start: datetime,
    end: datetime,
    power_kw: float,
    reason: str,
    now: datetime,
) -> RequestRecord:
    """Store a new DR request under a fresh requestID."""
    async with UnitOfWork(sessions) as uow:
        record = await uow.requests.add(kind, start, end, power_kw, reason, now)
        await uow.commit()
    return record


async def list_requests(sessions: Sessions) -> list[RequestRecord]:
    async with UnitOfWork(sessions) as uow:
        return await uow.requests.all()


async def cancel_request(sessions: Sessions, request_id: str, now: datetime) -> RequestRecord:
    """NotFound for an unknown request; Conflict if it is already cancelled."""
    async with UnitOfWork(sessions) as uow:
        current = await uow.requests.get(request_id)
        if current is None:
            raise NotFound("request", request_id)
        if current.cancelled_at is not None:
            raise Conflict(f"request {request_id} is already cancelled")
        record = await uow.requests.cancel(request_id, now)
        await uow.commit()
    assert record is not None
    return record


async def latest_prices(sessions: Sessions) -> PriceRecord | None:
    async with UnitOfWork(sessions) as uow:
        return await uow.prices.latest()


async def latest_imbalance(sessions: Sessions) -> ImbalanceRecord | None:
    async with UnitOfWork(sessions) as uow:
        return await uow.imbalance.latest()


# ---- runs and schedules -------------------------------------------------------------------


async def list_runs(sessions: Sessions, limit: int = RUNS_LISTED) -> list[RunRecord]:
    async with UnitOfWork(sessions) as uow:
        return await uow.runs.newest(limit)


async def get_run(sessions: Sessions, run_id: str) -> RunRecord:
    async with UnitOfWork(sessions) as uow:
        run = await uow.runs.get(run_id)
    if run is None:
        raise NotFound("run", run_id)
    return run


async def latest_planned_run(sessions: Sessions) -> RunRecord:
    async with UnitOfWork(sessions) as uow:
        run = await uow.runs.latest_planned()
    if run is None:
        raise NotFound("plan", "latest")
    return run


async def ven_schedule(sessions: Sessions, ven_id: str) -> DispatchRecord:
    async with UnitOfWork(sessions) as uow:
        if not await uow.vens.existing_ids([ven_id]):
            raise NotFound("VEN", ven_id)
        dispatch = await uow.dispatches.get(ven_id)
    if dispatch is None:
        raise Conflict(f"VEN {ven_id!r} has no schedule yet: no planning run has dispatched to it")
    return dispatch


def _series(start: datetime, resolution_minutes: int, values: Sequence[float]) -> Series:
    return Series(start, timedelta(minutes=resolution_minutes), tuple(values))


class DbLoopStore:
    """LoopStore over the VTN's database; `exclusions` come from the loop's watcher."""

    def __init__(self, sessions: Sessions, exclusions: Mapping[str, Exclusion] | None = None) -> None:
        self._sessions = sessions
        self._exclusions = exclusions or {}

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        async with UnitOfWork(self._sessions) as uow:
            prices = await uow.prices.latest()
            imbalance = await uow.imbalance.latest()
            requests = await uow.requests.live()
            vens = await uow.vens.registered()
        homes = [await self._home(v, now) for v in sorted(vens, key=lambda v: v.site_id)]
        return PlanningInputs(
            now=now,
            homes=tuple(homes),
            prices=_prices(prices),
            imbalance=_imbalance(imbalance),
            windows=tuple(
                PortfolioWindow(r.request_id, r.kind, r.start, r.end, r.power_kw, r.reason)
                for r in requests
                if r.end > now
            ),
        )

    async def _home(self, ven: VenRecord, now: datetime) -> Home:
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
            flex = await site_flexibility(UnitOfWork(self._sessions), ven.ven_id, now)
        except Conflict:
            return Home(ven.ven_id, ven.site_id, None)
        return Home(ven.ven_id, ven.site_id, flex.site, grid_start=flex.start)

    async def save_run(self, run: RunRecord) -> None:
        async with UnitOfWork(self._sessions) as uow:
            uow.runs.add(run)
            await uow.commit()


def _prices(record: PriceRecord | None) -> Prices | None:
    if record is None:
        return None
    return Prices(
        _series(record.start, record.resolution_minutes, record.import_eur_per_kwh),
        _series(record.start, record.resolution_minutes, record.export_eur_per_kwh),
        record.capacity_eur_per_kw_month,
    )


def _imbalance(record: ImbalanceRecord | None) -> Imbalance | None:
    if record is None:
        return None
    nominated = record.nominated_net_kw
    return Imbalance(
        _series(record.start, record.resolution_minutes, record.imbalance_eur_per_kwh),
        _series(record.start, record.resolution_minutes, nominated) if nominated else None,
    )
