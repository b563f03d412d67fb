"""The REST API's two middlewares: errors to JSON (outermost) and bearer-token auth.

One place maps every failure to an HTTP status and an `ErrorBody`:
VtnError subclasses (NotFound 404, Conflict 409, InvalidInput 422), pydantic validation and
JSON errors (422 naming the field and the reason), aiohttp's own HTTP errors, and anything
unexpected (500, logged; the process stays up).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import ValidationError

from vtn.api.endpoints import PRINCIPAL, RepeatedParameter, endpoint_of
from vtn.api.schemas import ErrorBody, FieldError
from vtn.api.tokens import TokenRejected, verify_token
from vtn.errors import Conflict, InvalidInput, NotFound, Unauthorized, VtnError
from vtn.keys import SESSIONS
from vtn.request_body import BodyRefused, send_and_close

log = logging.getLogger(__name__)

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
REALM = 'Bearer realm="flexvpp"'


def error_response(
    status: int,
    error: str,
    message: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = ErrorBody(status=status, error=error, message=message, errors=errors or [])
    return web.Response(
        status=status, body=body.model_dump_json(), content_type="application/json", headers=headers
    )


def field_name(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as one readable path: ("intervals", 0, "start") -> intervals[0].start."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue  # validator wrappers and union branch tags, not fields
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors(include_url=False, include_input=False):
        reason = error["msg"]
        if error["type"] == "json_invalid":
            reason = f"invalid JSON: {error.get('ctx', {}).get('error', reason)}"
        reason = reason.removeprefix("Value error, ")
        item = FieldError(field=field_name(tuple(error["loc"])), reason=reason)
        if item not in errors:
            errors.append(item)
    return errors


def _vtn_error(exc: VtnError) -> web.Response:
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, InvalidInput):
        errors = [FieldError(field=exc.field, reason=exc.reason)]
        return error_response(422, "invalid_input", str(exc), errors)
    if isinstance(exc, Unauthorized):
        return error_response(403, "forbidden", str(exc))
    return error_response(400, "bad_request", str(exc))


@web.middleware
async def errors_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    try:
        return await handler(request)
    except VtnError as exc:
        return _vtn_error(exc)
    except ValidationError as exc:
        errors = _validation_errors(exc)
        summary = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        return error_response(422, "invalid_input", summary, errors)
    except RepeatedParameter as exc:
        reason = "given more than once"
        errors = [FieldError(field=exc.name, reason=reason)]
        return error_response(422, "invalid_input", f"{exc.name}: {reason}", errors)
    except BodyRefused as exc:  # too large, too slow or cut off: answer, then close (vtn/request_body.py)
        return await send_and_close(request, error_response(exc.status, exc.error, str(exc)))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = exc.reason.lower().replace(" ", "_")
        return error_response(exc.status, error, exc.text or exc.reason, headers=_allow_header(exc))
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error; the VTN logged the cause")


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


@web.middleware
async def auth_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    """Admit a request if its route is public or its bearer token has one of the route's roles."""
    endpoint = endpoint_of(request)
    if endpoint is None or not endpoint.roles:
        return await handler(request)  # public route, or no route (404/405 follow)
    token = _bearer_token(request)
    if token is None:
        return error_response(
            401,
            "unauthorized",
            "a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": REALM},
        )
    try:
        principal = await verify_token(request.config_dict[SESSIONS], token, datetime.now(UTC))
    except TokenRejected as exc:
        return error_response(
            401,
            "unauthorized",
            str(exc),
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{exc}"'},
        )
    if principal.role not in endpoint.roles:
        allowed = ", ".join(sorted(endpoint.roles))
        return error_response(
            403, "forbidden", f"a {principal.role} token may not use this route (allowed: {allowed})"
        )
    request[PRINCIPAL] = principal
    return await handler(request)


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
