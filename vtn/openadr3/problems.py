"""Errors as the spec's Problem objects (application/json: type, title, status, detail).

One middleware maps every failure: the use cases' errors (NotFound 404, Conflict 409,
InvalidInput 400, Unauthorized 403, AuthFailed 401 or 400 as RFC 6749/6750 say), a body that is
not JSON or not the spec's object (400 naming the field), aiohttp's HTTP errors (their status),
anything else (500, logged; the process stays up).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from aggregator.errors import Conflict, DomainError, InvalidInput, NotFound, Unauthorized
from aggregator.openadr3_auth import AuthFailed

log = logging.getLogger(__name__)

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}
    return web.json_response({**body, **extra}, status=status, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part == "request" and not name:
            continue  # the venRequest/resourceRequest wrapper
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part or part.startswith("'")):
            continue
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def validation_detail(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        parts.append(f"{_field(tuple(error['loc']))}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _auth_failed(exc: AuthFailed) -> web.Response:
    if exc.error == "invalid_token":  # a request's bearer token (RFC 6750)
        challenge = f'Bearer realm="openadr3", error="invalid_token", error_description="{exc.description}"'
        return problem(401, exc.description, {"WWW-Authenticate": challenge})
    status = 401 if exc.error == "invalid_client" else 400  # the token endpoint (RFC 6749 5.2)
    return problem(status, exc.description, error=exc.error, error_description=exc.description)


def domain_problem(exc: DomainError) -> web.Response:
    if isinstance(exc, AuthFailed):
        return _auth_failed(exc)
    if isinstance(exc, NotFound):
        return problem(404, str(exc))
    if isinstance(exc, Conflict):
        return problem(409, str(exc))
    if isinstance(exc, InvalidInput):
        return problem(400, str(exc))
    if isinstance(exc, Unauthorized):
        return problem(403, str(exc))
    return problem(400, str(exc))


@web.middleware
async def problems_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return domain_problem(exc)
    except ValidationError as exc:
        return problem(400, validation_detail(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason, {k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception:  # a bug: logged, answered, and the VTN keeps serving
        log.exception("OpenADR 3 request %s %s failed", request.method, request.path)
        return problem(500, "internal error; the VTN's log says more")


async def json_body(request: web.Request) -> Any:
    """The request's JSON (400 naming what is wrong otherwise)."""
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", f"not JSON: {exc}") from None
