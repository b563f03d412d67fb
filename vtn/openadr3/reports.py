"""/reports and /subscriptions (aggregator/openadr3_reports.py, openadr3_subscriptions.py)."""

from __future__ import annotations

from aiohttp import web

from aggregator import openadr3_reports as reports
from aggregator import openadr3_subscriptions as subscriptions
from aggregator.errors import InvalidInput
from vtn.openadr3.context import caller, now, one, page, request_body, uow
from vtn.openadr3.schemas import ReportRequest, SubscriptionRequest

routes = web.RouteTableDef()
OBJECT_TYPES = frozenset({"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"})


@routes.get("/reports")
async def search_reports(request: web.Request) -> web.Response:
    who = await caller(request)
    found = await reports.list_reports(
        uow(request),
        who,
        one(request, "programID"),
        one(request, "eventID"),
        one(request, "clientName"),
        page(request),
    )
    return web.json_response(found)


@routes.post("/reports")
async def create_report(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, ReportRequest)
    return web.json_response(await reports.create_report(uow(request), who, body, now(request)), status=201)


@routes.get("/reports/{reportID}")
async def get_report(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await reports.get_report(uow(request), who, request.match_info["reportID"]))


@routes.put("/reports/{reportID}")
async def update_report(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, ReportRequest)
    changed = await reports.update_report(
        uow(request), who, request.match_info["reportID"], body, now(request)
    )
    return web.json_response(changed)


@routes.delete("/reports/{reportID}")
async def delete_report(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(
        await reports.delete_report(uow(request), who, request.match_info["reportID"], now(request))
    )


@routes.get("/subscriptions")
async def search_subscriptions(request: web.Request) -> web.Response:
    who = await caller(request)
    objects = request.query.getall("objects", [])
    unknown = [o for o in objects if o not in OBJECT_TYPES]
    if unknown:
        raise InvalidInput("objects", f"{unknown[0][:40]!r} is not one of {', '.join(sorted(OBJECT_TYPES))}")
    found = await subscriptions.list_subscriptions(
        uow(request), who, one(request, "programID"), one(request, "clientName"), objects, page(request)
    )
    return web.json_response(found)


@routes.post("/subscriptions")
async def create_subscription(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, SubscriptionRequest)
    made = await subscriptions.create_subscription(uow(request), who, body, now(request))
    return web.json_response(made, status=201)


@routes.get("/subscriptions/{subscriptionID}")
async def get_subscription(request: web.Request) -> web.Response:
    who = await caller(request)
    found = await subscriptions.get_subscription(uow(request), who, request.match_info["subscriptionID"])
    return web.json_response(found)


@routes.put("/subscriptions/{subscriptionID}")
async def update_subscription(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, SubscriptionRequest)
    changed = await subscriptions.update_subscription(
        uow(request), who, request.match_info["subscriptionID"], body, now(request)
    )
    return web.json_response(changed)


@routes.delete("/subscriptions/{subscriptionID}")
async def delete_subscription(request: web.Request) -> web.Response:
    who = await caller(request)
    gone = await subscriptions.delete_subscription(
        uow(request), who, request.match_info["subscriptionID"], now(request)
    )
    return web.json_response(gone)
