"""DR events: the list, and create / modify / cancel from forms, through the same use cases (and
the same body schemas) as POST, PATCH and DELETE /api/v1/events."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from aggregator import events, vens
from aggregator.dispatch import MARKET_CONTEXT as SCHEDULE_CONTEXT
from aggregator.errors import DomainError, InvalidInput
from vtn.api.routes import event_patch, event_spec, unknown_ven_is_a_field_error
from vtn.dashboard.auth import redirect
from vtn.dashboard.forms import (
    EventForm,
    FormInvalid,
    create_body,
    form_field,
    form_of,
    patch_body,
    read_form,
)
from vtn.dashboard.pages import uow, vtn_now
from vtn.dashboard.render import render
from vtn.keys import POLL_CACHE, SETTINGS

EVENTS_LISTED = 200
SIGNAL_NAMES = ("SIMPLE", "LOAD_DISPATCH", "LOAD_CONTROL", "ELECTRICITY_PRICE", "ENERGY_PRICE")
SIGNAL_TYPES = ("level", "setpoint", "delta", "multiplier", "price", "x-loadControlCapacity")


async def _page(
    request: web.Request, form: EventForm, editing: str | None = None, status: int = 200
) -> web.StreamResponse:
    settings = request.config_dict[SETTINGS]
    now = vtn_now(request)
    every = await events.list_events(uow(request), now, settings.near_window_seconds)
    # The loop's schedule events (one per steered home and re-plan) would bury the DR events.
    show_schedules = request.query.get("schedules") == "1"
    listed = [e for e in every if show_schedules or e.market_context != SCHEDULE_CONTEXT]
    listed.sort(key=lambda e: e.created_at, reverse=True)
    fleet = await vens.list_vens(
        uow(request), now, request.config_dict[POLL_CACHE], settings.poll_interval_seconds
    )
    return render(
        request,
        "events.html",
        status=status,
        title="Events",
        events=listed[:EVENTS_LISTED],
        hidden=len(every) - len(listed),
        show_schedules=show_schedules,
        vens=fleet,
        ven_names={v.ven_id: v.ven_name for v in fleet},
        form=form,
        editing=editing,
        signal_names=SIGNAL_NAMES,
        signal_types=SIGNAL_TYPES,
        notice=request.query.get("notice", ""),
        now=now,
    )


async def list_page(request: web.Request) -> web.StreamResponse:
    start = vtn_now(request).replace(second=0, microsecond=0)
    return await _page(request, EventForm(start=start.strftime("%Y-%m-%dT%H:%M")))


def _errors(exc: Exception) -> tuple[tuple[str, str], ...]:
    if isinstance(exc, FormInvalid):
        return tuple(exc.errors)
    if isinstance(exc, InvalidInput):
        return ((form_field(exc.field), exc.reason),)
    return (("event", str(exc)),)


async def create(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = read_form(posted, posted.getall("ven_ids", []))
    settings = request.config_dict[SETTINGS]
    try:
        body = create_body(form)
        with unknown_ven_is_a_field_error():
            created = await events.create_event(
                uow(request),
                event_spec(body),
                vtn_now(request),
                request.config_dict[POLL_CACHE],
                settings.near_window_seconds,
            )
    except (FormInvalid, DomainError) as exc:
        return await _page(request, _with_errors(form, exc), status=422)
    return redirect(f"/dashboard/events?notice={quote(f'event {created.event_id} created')}")


def _with_errors(form: EventForm, exc: Exception) -> EventForm:
    from dataclasses import replace

    return replace(form, errors=_errors(exc))


async def edit_page(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[SETTINGS]
    event_id = request.match_info["event_id"]
    event = await events.get_event(uow(request), event_id, vtn_now(request), settings.near_window_seconds)
    return await _page(request, form_of(event), editing=event_id)


async def modify(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = read_form(posted, posted.getall("ven_ids", []))
    settings = request.config_dict[SETTINGS]
    event_id = request.match_info["event_id"]
    try:
        body = patch_body(form)
        with unknown_ven_is_a_field_error():
            changed = await events.modify_event(
                uow(request),
                event_id,
                event_patch(body),
                vtn_now(request),
                request.config_dict[POLL_CACHE],
                settings.near_window_seconds,
            )
    except (FormInvalid, DomainError) as exc:
        return await _page(request, _with_errors(form, exc), editing=event_id, status=422)
    notice = f"event {changed.event_id} modified (modification {changed.modification_number})"
    return redirect(f"/dashboard/events?notice={quote(notice)}")


async def cancel(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[SETTINGS]
    event_id = request.match_info["event_id"]
    try:
        cancelled = await events.cancel_event(
            uow(request),
            event_id,
            vtn_now(request),
            request.config_dict[POLL_CACHE],
            settings.near_window_seconds,
        )
    except DomainError as exc:
        return redirect(f"/dashboard/events?notice={quote(f'not cancelled: {exc}')}")
    return redirect(f"/dashboard/events?notice={quote(f'event {cancelled.event_id} cancelled')}")
