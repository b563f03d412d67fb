"""The route table: each REST endpoint declared once, with roles, input and output models.

The same table builds the aiohttp routes, drives the auth middleware (allowed roles) and
generates the OpenAPI document, so the document cannot drift from what the server does.
A handler receives a `Call` (parsed body, query and path) and returns a pydantic value;
the wrapper renders it as JSON with the declared status, or as CSV through the route's `csv`
renderer when the request's Accept header prefers `text/csv`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from vtn.api.tokens import Principal, Role
from vtn.db.uow import Sessions
from vtn.errors import NotFound
from vtn.keys import CLOCK, POLL_CACHE, SESSIONS, SETTINGS, utc_now
from vtn.request_body import read_body
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings

B = TypeVar("B", bound=BaseModel | None)
Q = TypeVar("Q", bound=BaseModel | None)

PRINCIPAL = web.RequestKey("principal", Principal)

OPERATOR = frozenset({Role.OPERATOR})
PUBLIC: frozenset[Role] = frozenset()  # no token needed

_PATH_PARAM = re.compile(r"\{(\w+)\}")
_SAFE_ID = re.compile(r"[^\x00-\x20\x7f]{1,64}")


@dataclass(frozen=True, slots=True)
class Call(Generic[B, Q]):
    """One parsed API request, handed to a handler."""

    request: web.Request
    body: B
    query: Q
    path: dict[str, str]
    now: datetime

    @property
    def sessions(self) -> Sessions:
        return self.request.config_dict[SESSIONS]

    @property
    def settings(self) -> VtnSettings:
        return self.request.config_dict[SETTINGS]

    @property
    def poll_cache(self) -> PollCache:
        """The poll path's cache: use cases tell it what they queued (a PollNotifier)."""
        return self.request.config_dict[POLL_CACHE]


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # relative to /api/v1, e.g. /vens/{ven_id}
    handler: Handler
    operation_id: str
    summary: str
    roles: frozenset[Role]  # empty: public
    response: Any  # a pydantic model, list[Model], or None for no body
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True  # False: an empty body stands for the body model's defaults
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # statuses besides 401/403/422 that the handler may return
    description: str = ""
    csv: Callable[[Any], str] | None = None  # the response model as CSV, for `Accept: text/csv`

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)


@dataclass
class RouteTable:
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: frozenset[Role],
        response: Any,
        status: int = 200,
        body: type[BaseModel] | None = None,
        body_required: bool = True,
        query: type[BaseModel] | None = None,
        errors: tuple[int, ...] = (),
        csv: Callable[[Any], str] | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    operation_id=handler.__name__,
                    summary=summary,
                    description=(handler.__doc__ or "").strip(),
                    roles=roles,
                    response=response,
                    status=status,
                    body=body,
                    body_required=body_required,
                    query=query,
                    errors=errors,
                    csv=csv,
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        by_handler: dict[object, Endpoint] = {}
        for endpoint in self.endpoints:
            route = app.router.add_route(endpoint.method, endpoint.path, _aiohttp_handler(endpoint))
            by_handler[route.handler] = endpoint
        app[ENDPOINTS] = by_handler


ENDPOINTS = web.AppKey("endpoints", dict[object, Endpoint])


def endpoint_of(request: web.Request) -> Endpoint | None:
    """The Endpoint a request was routed to (None for unmatched paths)."""
    endpoints = request.app.get(ENDPOINTS)
    if endpoints is None:
        return None
    return endpoints.get(request.match_info.handler)


def _aiohttp_handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    adapter = TypeAdapter(endpoint.response) if endpoint.response is not None else None

    async def handle(request: web.Request) -> web.StreamResponse:
        path = dict(request.match_info)
        for name, value in path.items():
            if not _SAFE_ID.fullmatch(value):
                # Such an ID cannot exist; answer as for any unknown one.
                raise NotFound(name.removesuffix("_id"), value)
        body = None
        if endpoint.body is not None:
            settings = request.config_dict[SETTINGS]
            raw = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
            body = (
                endpoint.body()
                if not raw and not endpoint.body_required
                # Strict: JSON true/false is not a number (lax pydantic reads false as 0, and an event
                # was modified and re-sent by {"start_after_seconds": false}); 2.0 is not an integer.
                # Strict JSON still reads ISO dates, enum values and an integer as a float.
                else endpoint.body.model_validate_json(raw, strict=True)
            )
        query = None
        if endpoint.query is not None:
            query = endpoint.query.model_validate(_single_valued(request))
        # The VTN's one clock (a simulated one in demos and tests), as OpenADR and the planner use it.
        now = request.config_dict.get(CLOCK, utc_now)()
        call: Call[Any, Any] = Call(request, body, query, path, now)
        result = await endpoint.handler(call)
        if adapter is None:
            return web.Response(status=endpoint.status)
        # Services return plain dataclasses; validating them into the response model checks the
        # output against the documented schema before it leaves.
        try:
            rendered = adapter.validate_python(result, from_attributes=True)
        except ValidationError as exc:
            # Our own output broke the contract: a server bug (500), not the client's input (422).
            raise ResponseContractError(f"{endpoint.operation_id}: {exc}") from exc
        if endpoint.csv is not None and wants_csv(request.headers.get("Accept", "")):
            return web.Response(status=endpoint.status, text=endpoint.csv(rendered), content_type="text/csv")
        return web.Response(
            status=endpoint.status, body=adapter.dump_json(rendered), content_type="application/json"
        )

    handle.__name__ = endpoint.operation_id
    return handle


def wants_csv(accept: str) -> bool:
    """Whether an Accept header prefers text/csv to JSON (by q, then by order; none: JSON)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media.lower() in ("text/csv", "application/json", "*/*", "application/*"):
            ranked.append((-q, position, media.lower()))
    return bool(ranked) and min(ranked)[2] == "text/csv" and -min(ranked)[0] > 0


class ResponseContractError(RuntimeError):
    """A handler returned something its declared response model refuses."""


class RepeatedParameter(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _single_valued(request: web.Request) -> dict[str, str]:
    query = request.query
    for name in query:
        if len(query.getall(name)) > 1:
            raise RepeatedParameter(name)
    return dict(query)
