"""What every 3.1 handler needs from the VTN app: a unit of work, the clock, the poll notifier,
the caller (its bearer token), the spec's query parameters and its request bodies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from aggregator.errors import InvalidInput
from aggregator.openadr3_auth import AuthFailed, authenticate
from aggregator.openadr3_common import MAX_LIMIT, Caller, Page
from vtn.db.uow import UnitOfWork
from vtn.keys import CLOCK, POLL_CACHE, SESSIONS, utc_now
from vtn.openadr3.problems import json_body
from vtn.openadr3.schemas import body_of
from vtn.services.poll_cache import PollCache


def uow(request: web.Request) -> UnitOfWork:
    return UnitOfWork(request.config_dict[SESSIONS])


def now(request: web.Request) -> datetime:
    clock = request.config_dict.get(CLOCK)
    return clock() if clock is not None else utc_now()


def notifier(request: web.Request) -> PollCache:
    return request.config_dict[POLL_CACHE]


async def caller(request: web.Request) -> Caller:
    """The client behind the request's bearer token; AuthFailed (401) without a valid one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthFailed("invalid_token", "a bearer token from /auth/token is required")
    return await authenticate(uow(request), token.strip(), now(request))


def _int(request: web.Request, name: str, default: int) -> int:
    values = request.query.getall(name, [])
    if not values:
        return default
    if len(values) > 1:
        raise InvalidInput(name, "given more than once")
    try:
        return int(values[0])
    except ValueError:
        raise InvalidInput(name, f"must be a whole number, not {values[0][:40]!r}") from None


def page(request: web.Request) -> Page:
    return Page(_int(request, "skip", 0), _int(request, "limit", MAX_LIMIT))


OBJECT_ID = re.compile(r"[a-zA-Z0-9_-]*")


def one(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise InvalidInput(name, "given more than once")
    if values and not 1 <= len(values[0]) <= 128:
        raise InvalidInput(name, "must have 1 to 128 characters")
    if values and name.endswith("ID") and not OBJECT_ID.fullmatch(values[0]):
        # programID, eventID, venID: the spec's objectID (found by schemathesis: 200 [] before)
        raise InvalidInput(name, "must be an objectID: letters, digits, '_' and '-'")
    return values[0] if values else None


def targets(request: web.Request) -> Sequence[str] | None:
    """`targets` (form, exploded: targets=a&targets=b); None when not given."""
    values = request.query.getall("targets", [])
    for value in values:
        if not 1 <= len(value) <= 128:
            raise InvalidInput("targets", "each target has 1 to 128 characters")
    return values or None


async def request_body(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    """The request's JSON checked against the spec's schema `model` (400 naming what is wrong),
    as the use cases take it."""
    return body_of(model.model_validate(await json_body(request)))
