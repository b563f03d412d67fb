"""DR performance and settlement pages: they render the M&V use cases (aggregator/performance.py,
aggregator/settlement.py; docs/performance-and-settlement.md) as the REST routes return them."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator import dashboard, events, performance, settlement
from aggregator.dispatch import MARKET_CONTEXT as SCHEDULE_CONTEXT
from aggregator.errors import InvalidInput
from flexmodel.mv import BaselineMethod
from vtn.dashboard.pages import uow, vtn_now
from vtn.dashboard.render import render
from vtn.keys import SETTINGS

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.config_dict[SETTINGS].timezone)


def _month(request: web.Request) -> date:
    """?month=YYYY-MM, else the current month in the VTN's zone; InvalidInput names a bad one."""
    text = request.query.get("month", "")
    if not text:
        return vtn_now(request).astimezone(_zone(request)).date().replace(day=1)
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise InvalidInput("month", "must be YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)


def _method(request: web.Request) -> BaselineMethod | None:
    text = request.query.get("method", "")
    if not text:
        return None
    try:
        return BaselineMethod(text)
    except ValueError:
        methods = ", ".join(m.value for m in BaselineMethod)
        raise InvalidInput("method", f"must be one of {methods}") from None


async def performance_page(request: web.Request) -> web.StreamResponse:
    """The DR events that have started (newest first) and one program's month."""
    settings = request.config_dict[SETTINGS]
    now = vtn_now(request)
    every = await events.list_events(uow(request), now, settings.near_window_seconds)
    started = [
        e
        for e in every
        if e.market_context != SCHEDULE_CONTEXT
        and e.intervals[0].start <= now
        and e.status.value != "cancelled"
    ]
    started.sort(key=lambda e: e.intervals[0].start, reverse=True)
    programs = sorted({e.market_context for e in started})
    program = request.query.get("program") or (programs[0] if programs else "")
    month = _month(request)
    summary = (
        await performance.program_performance(uow(request), program, month, now, _zone(request))
        if program
        else None
    )
    return render(
        request,
        "performance.html",
        title="DR performance",
        events=started,
        programs=programs,
        program=program,
        month=f"{month:%Y-%m}",
        summary=summary,
    )


async def event_performance_page(request: web.Request) -> web.StreamResponse:
    result = await performance.event_performance(
        uow(request), request.match_info["event_id"], _method(request), vtn_now(request), _zone(request)
    )
    grid, series = dashboard.performance_series(result)
    return render(
        request,
        "event_performance.html",
        title=f"DR performance of event {result.event_id}",
        result=result,
        methods=[m.value for m in BaselineMethod],
        plot=dashboard.series_json(grid, **series),
    )


async def settlement_page(request: web.Request) -> web.StreamResponse:
    month = _month(request)
    result = await settlement.settle_month(uow(request), month, vtn_now(request), _zone(request))
    return render(request, "settlement.html", title=f"Settlement {result.month}", result=result)
