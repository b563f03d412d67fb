"""/programs: the 3.1 programs (aggregator/openadr3_programs.py)."""

from __future__ import annotations

from aiohttp import web

from aggregator import openadr3_programs as programs
from vtn.openadr3.context import caller, now, page, request_body, targets, uow
from vtn.openadr3.schemas import ProgramRequest

routes = web.RouteTableDef()


@routes.get("/programs")
async def search_programs(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await programs.list_programs(uow(request), who, targets(request), page(request)))


@routes.post("/programs")
async def create_program(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, ProgramRequest)
    return web.json_response(await programs.create_program(uow(request), who, body, now(request)), status=201)


@routes.get("/programs/{programID}")
async def get_program(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await programs.get_program(uow(request), who, request.match_info["programID"]))


@routes.put("/programs/{programID}")
async def update_program(request: web.Request) -> web.Response:
    who = await caller(request)
    body = await request_body(request, ProgramRequest)
    program_id = request.match_info["programID"]
    return web.json_response(await programs.update_program(uow(request), who, program_id, body, now(request)))


@routes.delete("/programs/{programID}")
async def delete_program(request: web.Request) -> web.Response:
    who = await caller(request)
    program_id = request.match_info["programID"]
    return web.json_response(await programs.delete_program(uow(request), who, program_id, now(request)))
