"""/notifiers and /notifiers/mqtt/topics/...: how a 3.1 client hears of changes.

GET /notifiers offers WEBHOOK (always: a subscription's callbackUrl) and, when the VTN has a
broker (`--mqtt-broker`), MQTT with its URIs, JSON serialization and anonymous authentication.
The topic routes name the topics the VTN publishes each operation on
(aggregator/openadr3_notifications.py `topics_for`). Who may ask, as the spec's scopes say:
read_all routes (programs, a program, a program's events) any client; read_bl routes (all events,
reports, subscriptions, VENs, resources) BL clients only (403 for a VEN client); read_ven_objects
routes (a VEN's own topics) a BL client or that VEN's client. An unknown program or VEN is 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aggregator.errors import NotFound, Unauthorized
from aggregator.openadr3_common import Caller
from aggregator.openadr3_notifications import operation_topics, topic_base
from aggregator.openadr3_programs import get_program
from vtn.keys import SETTINGS
from vtn.openadr3.context import caller, uow
from vtn.settings import VtnSettings

routes = web.RouteTableDef()


def notifiers_body(settings: VtnSettings) -> dict[str, Any]:
    """The spec's notifiersResponse."""
    body: dict[str, Any] = {"WEBHOOK": True}
    if settings.openadr3_mqtt_broker is not None:
        body["MQTT"] = {
            "URIS": settings.openadr3_mqtt_uris or [settings.openadr3_mqtt_broker],
            "serialization": "JSON",
            "authentication": {"method": "ANONYMOUS"},
        }
    return body


def _topics(request: web.Request, *parts: str, with_create: bool = True) -> web.Response:
    settings = request.config_dict[SETTINGS]
    if settings.openadr3_mqtt_broker is None:
        raise NotFound("MQTT notifier", "this VTN has no MQTT broker")
    base = topic_base(settings.openadr3_mqtt_topic_prefix, *parts)
    return web.json_response({"topics": operation_topics(base, with_create)})


def _require_bl(who: Caller) -> None:
    if who.is_ven:
        raise Unauthorized("these topics are for BL clients (scope read_bl)")


async def _require_ven(request: web.Request, who: Caller) -> str:
    """The path's venID if the VEN exists and the caller may read its objects."""
    ven_id = request.match_info["venID"]
    async with uow(request) as work:
        ven = await work.vens.get(ven_id)
    if ven is None:
        raise NotFound("ven", ven_id)
    if who.is_ven and who.ven_name != ven.ven_name:
        raise Unauthorized("a VEN client may read only its own VEN's topics")
    return ven_id


@routes.get("/notifiers")
async def list_notifiers(request: web.Request) -> web.Response:
    await caller(request)
    return web.json_response(notifiers_body(request.config_dict[SETTINGS]))


@routes.get("/notifiers/mqtt/topics/programs")
async def program_topics(request: web.Request) -> web.Response:
    await caller(request)
    return _topics(request, "programs")


@routes.get("/notifiers/mqtt/topics/programs/{programID}")
async def one_program_topics(request: web.Request) -> web.Response:
    who = await caller(request)
    program_id = request.match_info["programID"]
    await get_program(uow(request), who, program_id)  # NotFound unless the caller sees it
    return _topics(request, "programs", program_id, with_create=False)


@routes.get("/notifiers/mqtt/topics/programs/{programID}/events")
async def program_event_topics(request: web.Request) -> web.Response:
    who = await caller(request)
    program_id = request.match_info["programID"]
    await get_program(uow(request), who, program_id)
    return _topics(request, "programs", program_id, "events")


def _bl_route(collection: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        _require_bl(await caller(request))
        return _topics(request, collection)

    handler.__name__ = f"{collection}_topics"
    return handler


for _collection in ("events", "reports", "subscriptions", "vens", "resources"):
    routes.get(f"/notifiers/mqtt/topics/{_collection}")(_bl_route(_collection))


@routes.get("/notifiers/mqtt/topics/vens/{venID}")
async def one_ven_topics(request: web.Request) -> web.Response:
    ven_id = await _require_ven(request, await caller(request))
    return _topics(request, "vens", ven_id, with_create=False)


def _ven_route(collection: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        ven_id = await _require_ven(request, await caller(request))
        return _topics(request, "vens", ven_id, collection)

    handler.__name__ = f"ven_{collection}_topics"
    return handler


for _collection in ("events", "programs", "resources"):
    routes.get(f"/notifiers/mqtt/topics/vens/{{venID}}/{_collection}")(_ven_route(_collection))
