"""DR performance routes: an event's delivery against a baseline, a program's month, and how well
each baseline method predicts a site (the use cases are aggregator/performance.py).

Each answers JSON, or CSV with `Accept: text/csv` (vtn/api/csv_tables.py). A market context
holds slashes: in the path it is percent-encoded (`http%3A%2F%2Fexample%2Fdr`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aggregator import baseline_accuracy as accuracy
from aggregator import performance
from vtn.api import csv_tables
from vtn.api import performance_schemas as ps
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import CUSTOMER, ROUTES, own_site
from vtn.db.uow import UnitOfWork


def zone_of(call: Call[Any, Any]) -> ZoneInfo:
    return ZoneInfo(call.settings.timezone)


def month_of(call: Call[Any, ps.MonthQuery]) -> date:
    """The month asked for, else the current month in the VTN's time zone."""
    return call.query.first_day() or this_month(call.now, zone_of(call))


def this_month(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date().replace(day=1)


@ROUTES.route(
    "GET",
    "/events/{event_id}/performance",
    summary="An event's delivery against a baseline, per interval and per home",
    roles=OPERATOR,
    query=ps.MethodQuery,
    response=ps.EventPerformanceOut,
    errors=(404,),
    csv=csv_tables.event_performance,
)
async def event_performance(call: Call[None, ps.MethodQuery]) -> Any:
    """Requested, baseline, measured (15-minute means of each meter's net import) and delivered
    per interval, summed over the homes that did not opt out; per home (opted-out ones flagged);
    participation = the share of targeted homes that did not opt out. 422 for an event not
    started yet."""
    result = await performance.event_performance(
        UnitOfWork(call.sessions), call.path["event_id"], call.query.method, call.now, zone_of(call)
    )
    return ps.EventPerformanceOut(
        event_id=result.event_id,
        method=result.method,
        intervals=[ps.IntervalOut.model_validate(s) for s in result.intervals],
        homes=[ps.HomeOut.model_validate(h) for h in result.homes],
        delivered_kwh=result.delivered_kwh,
        participation=result.participation,
    )


@ROUTES.route(
    "GET",
    "/programs/{market_context}/performance",
    summary="A DR program's month: events, participation, delivered kWh, delivery ratio",
    roles=OPERATOR,
    query=ps.MonthQuery,
    response=ps.ProgramMonthOut,
    csv=csv_tables.program_month,
)
async def program_performance(call: Call[None, ps.MonthQuery]) -> Any:
    """The program's (event market context's) events that started in the month, so far, with
    the baseline method of its terms (x_of_y without terms)."""
    result = await performance.program_performance(
        UnitOfWork(call.sessions), call.path["market_context"], month_of(call), call.now, zone_of(call)
    )
    return ps.ProgramMonthOut.model_validate(result)


@ROUTES.route(
    "GET",
    "/sites/{site_id}/baselines/accuracy",
    summary="How well each baseline method predicts the site on days without an event",
    roles=OPERATOR | CUSTOMER,
    query=ps.AccuracyQuery,
    response=ps.AccuracyOut,
    errors=(404,),
    csv=csv_tables.accuracy,
)
async def baseline_accuracy(call: Call[None, ps.AccuracyQuery]) -> Any:
    """x_of_y and meter_before played over 17:00-20:00 of each of the last `days` days without
    an event and scored against the meter: relative error and bias (docs/performance-and-settlement.md).
    A customer token sees its own site only."""
    result = await accuracy.baseline_accuracy(
        UnitOfWork(call.sessions),
        call.path["site_id"],
        own_site(call),
        call.now,
        zone_of(call),
        call.query.days,
    )
    return ps.AccuracyOut(
        site_id=result.site_id,
        window_start_local=f"{result.window_start_local:%H:%M}",
        window_hours=result.window.total_seconds() / 3600,
        methods=[
            ps.MethodAccuracyOut(
                method=m.method,
                relative_error=m.accuracy.relative_error,
                bias=m.accuracy.bias,
                days=m.accuracy.days,
                intervals=m.accuracy.intervals,
            )
            for m in result.methods
        ],
    )
