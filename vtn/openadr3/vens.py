"""/vens and /resources (aggregator/openadr3_vens.py)."""

from __future__ import annotations

from aiohttp import web

from aggregator import openadr3_vens as vens
from vtn.openadr3.context import caller, now, one, page, targets, uow
from vtn.openadr3.problems import json_body
from vtn.openadr3.schemas import ResourceRequest, VenRequest, body_of

routes = web.RouteTableDef()


async def _one_of(request: web.Request, model: type[VenRequest | ResourceRequest]) -> dict[str, object]:
    """The spec's venRequest or resourceRequest: a oneOf, checked through its wrapper model."""
    return body_of(model.model_validate({"request": await json_body(request)}).request)


@routes.get("/vens")
async def search_vens(request: web.Request) -> web.Response:
    who = await caller(request)
    found = await vens.list_vens(uow(request), who, one(request, "venName"), targets(request), page(request))
    return web.json_response(found)


@routes.post("/vens")
async def create_ven(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await _one_of(request, VenRequest)
    return web.json_response(await vens.create_ven(uow(request), who, body, now(request)), status=201)


@routes.get("/vens/{venID}")
async def get_ven(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await vens.get_ven(uow(request), who, request.match_info["venID"]))


@routes.put("/vens/{venID}")
async def update_ven(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await _one_of(request, VenRequest)
    changed = await vens.update_ven(uow(request), who, request.match_info["venID"], body, now(request))
    return web.json_response(changed)


@routes.delete("/vens/{venID}")
async def delete_ven(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(
        await vens.delete_ven(uow(request), who, request.match_info["venID"], now(request))
    )


@routes.get("/resources")
async def search_resources(request: web.Request) -> web.Response:
    who = await caller(request)
    found = await vens.list_resources(
        uow(request),
        who,
        one(request, "resourceName"),
        one(request, "venID"),
        targets(request),
        page(request),
    )
    return web.json_response(found)


@routes.post("/resources")
async def create_resource(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await _one_of(request, ResourceRequest)
    return web.json_response(await vens.create_resource(uow(request), who, body, now(request)), status=201)


@routes.get("/resources/{resourceID}")
async def get_resource(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await vens.get_resource(uow(request), who, request.match_info["resourceID"]))


@routes.put("/resources/{resourceID}")
async def update_resource(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await _one_of(request, ResourceRequest)
    changed = await vens.update_resource(
        uow(request), who, request.match_info["resourceID"], body, now(request)
    )
    return web.json_response(changed)


@routes.delete("/resources/{resourceID}")
async def delete_resource(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(
        await vens.delete_resource(uow(request), who, request.match_info["resourceID"], now(request))
    )
