"""/events: DR events as 3.1 events (aggregator/openadr3_events.py)."""

from __future__ import annotations

from aiohttp import web

from aggregator import openadr3_events as events
from aggregator.errors import InvalidInput
from vtn.keys import SETTINGS
from vtn.openadr3.context import caller, notifier, now, one, page, request_body, targets, uow
from vtn.openadr3.schemas import EventRequest

routes = web.RouteTableDef()


def _near(request: web.Request) -> int:
    return request.config_dict[SETTINGS].near_window_seconds


def _active(request: web.Request) -> bool | None:
    value = one(request, "active")
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise InvalidInput("active", "must be true or false")
    return value.lower() == "true"


@routes.get("/events")
async def search_events(request: web.Request) -> web.Response:
    who = await caller(request)
    found = await events.list_events(
        uow(request),
        who,
        one(request, "programID"),
        targets(request),
        _active(request),
        page(request),
        now(request),
    )
    return web.json_response(found)


@routes.post("/events")
async def create_event(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, EventRequest)
    made = await events.create_event_3(
        uow(request), who, body, now(request), notifier(request), _near(request)
    )
    return web.json_response(made, status=201)


@routes.get("/events/{eventID}")
async def get_event(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await events.get_event(uow(request), who, request.match_info["eventID"]))


@routes.put("/events/{eventID}")
async def update_event(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, EventRequest)
    changed = await events.update_event_3(
        uow(request),
        who,
        request.match_info["eventID"],
        body,
        now(request),
        notifier(request),
        _near(request),
    )
    return web.json_response(changed)


@routes.delete("/events/{eventID}")
async def delete_event(request: web.Request) -> web.Response:
    who = await caller(request)
    gone = await events.delete_event_3(
        uow(request), who, request.match_info["eventID"], now(request), notifier(request), _near(request)
    )
    return web.json_response(gone)
