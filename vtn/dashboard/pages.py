"""The overview (and the JSON it refreshes itself from) and a VEN's page.

Handlers read through the aggregator's use cases with the VTN's unit of work, as the REST
handlers do; they only shape what a page shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator import dashboard, events, runs, vens
from aggregator.errors import Conflict
from aggregator.notifications import list_notifications
from aggregator.opts import list_opts
from aggregator.site import site_flexibility
from vtn.dashboard.render import render
from vtn.db.uow import UnitOfWork
from vtn.keys import CLOCK, POLL_CACHE, SESSIONS, SETTINGS, utc_now

EVENTS_ON_VEN_PAGE = 20
NOTIFICATIONS_ON_VEN_PAGE = 20


def vtn_now(request: web.Request) -> datetime:
    """The VTN's clock (a simulated one in the demo), as OpenADR and the planner see time."""
    return request.config_dict.get(CLOCK, utc_now)()


def uow(request: web.Request) -> UnitOfWork:
    return UnitOfWork(request.config_dict[SESSIONS])


async def _overview(request: web.Request) -> dashboard.Overview:
    settings = request.config_dict[SETTINGS]
    return await dashboard.overview(
        uow(request),
        vtn_now(request),
        request.config_dict[POLL_CACHE],
        settings.poll_interval_seconds,
        settings.near_window_seconds,
        ZoneInfo(settings.timezone),
    )


def overview_json(view: dashboard.Overview) -> dict[str, Any]:
    """What the overview's script redraws every few seconds (the page's first state is the same)."""
    p = view.portfolio
    return {
        "now": view.now.isoformat(),
        "vens_online": view.online,
        "vens_total": len(view.vens),
        "measured_now_kw": view.measured_now_kw,
        "planned_now_kw": view.planned_now_kw,
        "cap_now_kw": view.cap_now_kw,
        "homes_measured": p.homes_measured,
        "schedules_live": view.schedules_live,
        "vens": [
            {
                "ven_id": v.ven_id,
                "ven_name": v.ven_name,
                "site_id": v.site_id,
                "online": v.online,
                "registered": v.registered,
                "last_poll_at": v.last_poll_at.isoformat() if v.last_poll_at else None,
            }
            for v in view.vens
        ],
        "events": [
            {
                "event_id": e.event_id,
                "status": e.status.value,
                "signal": f"{e.signal_name} / {e.signal_type}",
                "start": e.intervals[0].start.isoformat(),
                "start_text": e.intervals[0].start.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "vens": len(e.ven_ids),
                "opted_out": sum(1 for r in e.responses.values() if r == "optOut"),
            }
            for e in view.events
        ],
        "runs_today": [
            {
                "run_id": r.run_id,
                "started_at": r.started_at.isoformat(),
                "trigger": r.trigger,
                "status": r.status,
                "seconds": r.seconds,
            }
            for r in view.runs_today
        ],
        "plot": dashboard.series_json(
            p.grid, measured=p.measured_kw, planned=p.planned_kw, cap=p.cap_kw, floor=p.floor_kw
        ),
    }


async def overview(request: web.Request) -> web.StreamResponse:
    view = await _overview(request)
    return render(request, "overview.html", title="Overview", view=view, data=overview_json(view))


async def overview_data(request: web.Request) -> web.StreamResponse:
    response = web.json_response(overview_json(await _overview(request)))
    response.headers["Cache-Control"] = "no-store"
    return response


async def ven_page(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[SETTINGS]
    now = vtn_now(request)
    ven_id = request.match_info["ven_id"]
    ven = await vens.get_ven(
        uow(request), ven_id, now, request.config_dict[POLL_CACHE], settings.poll_interval_seconds
    )  # NotFound: the error page (vtn/dashboard/errors.py)
    try:
        site = await site_flexibility(uow(request), ven_id, now)
    except Conflict as exc:
        site, site_missing = None, str(exc)
    else:
        site_missing = ""
    try:
        schedule = await runs.ven_schedule(uow(request), ven_id)
    except Conflict:
        schedule = None
    all_events = await events.list_events(uow(request), now, settings.near_window_seconds)
    mine = [e for e in all_events if ven_id in e.ven_ids]
    mine.sort(key=lambda e: e.intervals[0].start, reverse=True)
    day = await dashboard.home_day(uow(request), ven_id, now)
    return render(
        request,
        "ven.html",
        title=f"VEN {ven.ven_name}",
        ven=ven,
        site=site,
        site_missing=site_missing,
        schedule=schedule,
        events=mine[:EVENTS_ON_VEN_PAGE],
        opts=await list_opts(uow(request), ven_id),
        notifications=await list_notifications(uow(request), ven.site_id, None, NOTIFICATIONS_ON_VEN_PAGE),
        plot=dashboard.series_json(day.grid, measured=day.measured_kw, scheduled=day.scheduled_kw),
    )
