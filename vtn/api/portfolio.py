"""REST routes of the aggregator's closed loop: market inputs, planning runs, schedules.

Market inputs (prices, imbalance, DR requests) admit `market` and `operator` tokens; a new DR
request or imbalance signal triggers a re-plan of the remaining horizon (vtn/portfolio/loop.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aggregator import bidding, market, runs
from aggregator.inputs import WindowKind
from aggregator.records import PriceRecord, RequestRecord
from vtn.api import portfolio_schemas as ps
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import ROUTES
from vtn.api.tokens import Role
from vtn.db.uow import UnitOfWork
from vtn.errors import NotFound
from vtn.portfolio.loop import PORTFOLIO, PortfolioLoop

MARKET = OPERATOR | frozenset({Role.MARKET})


def _loop(call: Call[Any, Any]) -> PortfolioLoop:
    return call.request.config_dict[PORTFOLIO]


def _now(call: Call[Any, Any]) -> datetime:
    return _loop(call).clock()


@ROUTES.route(
    "PUT",
    "/prices",
    summary="Day-ahead import/export prices",
    roles=MARKET,
    body=ps.PricesIn,
    response=ps.PricesOut,
)
async def put_prices(call: Call[ps.PricesIn, None]) -> Any:
    """Replaces the current prices (slots after the given ones repeat the last day's shape)."""
    body = call.body
    assert body.export_eur_per_kwh is not None  # PricesIn fills it in
    record = await market.put_prices(
        UnitOfWork(call.sessions),
        start=body.start,
        resolution_minutes=body.resolution_minutes,
        import_eur_per_kwh=body.import_eur_per_kwh,
        export_eur_per_kwh=body.export_eur_per_kwh,
        capacity_eur_per_kw_month=body.capacity_eur_per_kw_month,
        now=_now(call),
    )
    return _prices_out(record)


@ROUTES.route(
    "GET", "/prices", summary="The current prices", roles=MARKET, response=ps.PricesOut, errors=(404,)
)
async def get_prices(call: Call[None, None]) -> Any:
    record = await market.latest_prices(UnitOfWork(call.sessions))
    if record is None:
        raise NotFound("prices", "current")
    return _prices_out(record)


def _prices_out(record: PriceRecord) -> ps.PricesOut:
    return ps.PricesOut(
        id=record.id,
        start=record.start,
        resolution_minutes=record.resolution_minutes,
        import_eur_per_kwh=list(record.import_eur_per_kwh),
        export_eur_per_kwh=list(record.export_eur_per_kwh),
        capacity_eur_per_kw_month=record.capacity_eur_per_kw_month,
        end=record.start + timedelta(minutes=record.resolution_minutes * len(record.import_eur_per_kwh)),
    )


@ROUTES.route(
    "PUT",
    "/imbalance",
    summary="Imbalance prices against a nominated profile (re-plans)",
    roles=MARKET,
    body=ps.ImbalanceIn,
    response=ps.ImbalanceOut,
)
async def put_imbalance(call: Call[ps.ImbalanceIn, None]) -> Any:
    body = call.body
    record = await market.put_imbalance(
        UnitOfWork(call.sessions),
        start=body.start,
        resolution_minutes=body.resolution_minutes,
        imbalance_eur_per_kwh=body.imbalance_eur_per_kwh,
        nominated_net_kw=body.nominated_net_kw,
        reason=body.reason,
        now=_now(call),
    )
    _loop(call).trigger(f"imbalance signal {record.id}")
    return ps.ImbalanceOut(
        id=record.id, start=body.start, slots=len(body.imbalance_eur_per_kwh), replan="queued"
    )


@ROUTES.route(
    "POST",
    "/portfolio/requests",
    summary="A DR request: cap or floor the portfolio's net import (re-plans)",
    roles=MARKET,
    body=ps.RequestIn,
    response=ps.RequestOut,
    status=201,
)
async def create_request(call: Call[ps.RequestIn, None]) -> Any:
    body = call.body
    record = await market.add_request(
        UnitOfWork(call.sessions),
        kind=WindowKind(body.kind.value),
        start=body.start,
        end=body.end,
        power_kw=body.power_kw,
        reason=body.reason,
        now=_now(call),
    )
    _loop(call).trigger(f"DR request {record.request_id} ({body.reason})")
    return _request_out(record)


@ROUTES.route("GET", "/portfolio/requests", summary="DR requests", roles=MARKET, response=list[ps.RequestOut])
async def list_requests(call: Call[None, None]) -> Any:
    return [_request_out(r) for r in await market.list_requests(UnitOfWork(call.sessions))]


@ROUTES.route(
    "DELETE",
    "/portfolio/requests/{request_id}",
    summary="Cancel a DR request (re-plans)",
    roles=MARKET,
    response=ps.RequestOut,
    errors=(404, 409),
)
async def cancel_request(call: Call[None, None]) -> Any:
    record = await market.cancel_request(UnitOfWork(call.sessions), call.path["request_id"], _now(call))
    _loop(call).trigger(f"DR request {record.request_id} cancelled")
    return _request_out(record)


def _request_out(record: RequestRecord) -> ps.RequestOut:
    return ps.RequestOut(
        request_id=record.request_id,
        kind=ps.WindowKindIn(record.kind.value),
        start=record.start,
        end=record.end,
        power_kw=record.power_kw,
        reason=record.reason,
        created_at=record.created_at,
        cancelled_at=record.cancelled_at,
    )


@ROUTES.route(
    "POST",
    "/portfolio/plan",
    summary="Plan the portfolio now and dispatch the schedules",
    roles=MARKET,
    response=ps.RunOut,
)
async def plan_now(call: Call[None, None]) -> Any:
    """Runs in the request (the solver works in a process pool); the run is recorded either way."""
    record = await _loop(call).run_now("on demand")
    return ps.RunOut.model_validate(record, from_attributes=True)


@ROUTES.route(
    "GET", "/portfolio/plan", summary="The latest plan", roles=MARKET, response=ps.RunDetail, errors=(404,)
)
async def get_plan(call: Call[None, None]) -> Any:
    return ps.RunDetail.model_validate(
        await runs.latest_planned_run(UnitOfWork(call.sessions)), from_attributes=True
    )


@ROUTES.route(
    "GET", "/portfolio/runs", summary="Planning runs, newest first", roles=MARKET, response=list[ps.RunOut]
)
async def list_runs(call: Call[None, None]) -> Any:
    return [
        ps.RunOut.model_validate(r, from_attributes=True)
        for r in await runs.list_runs(UnitOfWork(call.sessions))
    ]


@ROUTES.route(
    "GET",
    "/portfolio/runs/{run_id}",
    summary="One planning run: inputs, plan, dispatch",
    roles=MARKET,
    response=ps.RunDetail,
    errors=(404,),
)
async def get_run(call: Call[None, None]) -> Any:
    return ps.RunDetail.model_validate(
        await runs.get_run(UnitOfWork(call.sessions), call.path["run_id"]), from_attributes=True
    )


@ROUTES.route(
    "GET",
    "/vens/{ven_id}/schedule",
    summary="The schedule last dispatched to a VEN",
    roles=MARKET,
    response=ps.ScheduleOut,
    errors=(404, 409),
)
async def ven_schedule(call: Call[None, None]) -> Any:
    record = await runs.ven_schedule(UnitOfWork(call.sessions), call.path["ven_id"])
    return ps.ScheduleOut.model_validate(record, from_attributes=True)


@ROUTES.route(
    "GET",
    "/portfolio/flexibility",
    summary="What the portfolio can bid: up and down flexibility per 15-minute slot around its plan",
    roles=OPERATOR,
    response=ps.FlexibilityOut,
    errors=(404,),
)
async def get_flexibility(call: Call[None, None]) -> Any:
    """Around the latest plan, from now to its horizon (aggregator/bidding.py: what each figure
    means and how to activate it). Computed once per planning run, in a process of its own."""
    loop = _loop(call)
    offer = await bidding.portfolio_flexibility(
        UnitOfWork(call.sessions), loop.offers, loop.execute, loop.clock(), loop.settings.planner_solver
    )
    return ps.FlexibilityOut.model_validate(offer, from_attributes=True)
