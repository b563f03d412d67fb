"""What market parties send the closed loop: day-ahead prices, imbalance signals, DR requests.

Prices and imbalance signals are only added (the newest is the current one); a DR request caps
or floors the portfolio's net import over a window until it is cancelled. The REST edge
(vtn/api/portfolio.py) asks the loop to re-plan after a change that concerns the current plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.errors import Conflict, NotFound
from aggregator.inputs import WindowKind
from aggregator.records import ImbalanceRecord, PriceRecord, RequestRecord
from aggregator.uow import UnitOfWork


async def put_prices(
    uow: UnitOfWork,
    start: datetime,
    resolution_minutes: int,
    import_eur_per_kwh: Sequence[float],
    export_eur_per_kwh: Sequence[float],
    capacity_eur_per_kw_month: float,
    now: datetime,
) -> PriceRecord:
    """Store new prices; from now on they are the current ones."""
    async with uow:
        record = await uow.prices.add(
            start, resolution_minutes, import_eur_per_kwh, export_eur_per_kwh, capacity_eur_per_kw_month, now
        )
        await uow.commit()
    return record


async def latest_prices(uow: UnitOfWork) -> PriceRecord | None:
    async with uow:
        return await uow.prices.latest()


async def put_imbalance(
    uow: UnitOfWork,
    start: datetime,
    resolution_minutes: int,
    imbalance_eur_per_kwh: Sequence[float],
    nominated_net_kw: Sequence[float] | None,
    reason: str | None,
    now: datetime,
) -> ImbalanceRecord:
    """Store a new imbalance signal; from now on it is the current one."""
    async with uow:
        record = await uow.imbalance.add(
            start, resolution_minutes, imbalance_eur_per_kwh, nominated_net_kw, reason, now
        )
        await uow.commit()
    return record


async def latest_imbalance(uow: UnitOfWork) -> ImbalanceRecord | None:
    async with uow:
        return await uow.imbalance.latest()


async def add_request(
    uow: UnitOfWork,
    kind: WindowKind,
    start: datetime,
    end: datetime,
    power_kw: float,
    reason: str,
    now: datetime,
) -> RequestRecord:
    """Store a new DR request under a fresh requestID."""
    async with uow:
        record = await uow.requests.add(kind, start, end, power_kw, reason, now)
        await uow.commit()
    return record


async def list_requests(uow: UnitOfWork) -> list[RequestRecord]:
    """Every DR request, cancelled ones included, oldest first."""
    async with uow:
        return await uow.requests.all()


async def cancel_request(uow: UnitOfWork, request_id: str, now: datetime) -> RequestRecord:
    """NotFound for an unknown request; Conflict if it is already cancelled."""
    async with uow:
        current = await uow.requests.get(request_id)
        if current is None:
            raise NotFound("request", request_id)
        if current.cancelled_at is not None:
            raise Conflict(f"request {request_id} is already cancelled")
        record = await uow.requests.cancel(request_id, now)
        await uow.commit()
    assert record is not None
    return record
