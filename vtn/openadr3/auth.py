"""GET /auth/server and POST /auth/token (OAuth2 client credentials, form-encoded)."""

from __future__ import annotations

from aiohttp import web

from aggregator.openadr3_auth import AuthFailed, issue_token
from vtn.openadr3.context import now, uow

routes = web.RouteTableDef()


@routes.get("/auth/server")
async def auth_server(request: web.Request) -> web.Response:
    base = str(request.url.with_query(None)).removesuffix("/server")
    return web.json_response({"tokenURL": f"{base}/token"})


@routes.post("/auth/token")
async def auth_token(request: web.Request) -> web.Response:
    if request.content_type != "application/x-www-form-urlencoded":
        raise AuthFailed("invalid_request", "the body must be application/x-www-form-urlencoded (RFC 6749)")
    form = await request.post()

    def field(name: str) -> str | None:
        values = form.getall(name, [])
        if len(values) > 1:  # RFC 6749 3.2: parameters must not repeat
            raise AuthFailed("invalid_request", f"{name} is given more than once")
        return values[0] if values and isinstance(values[0], str) else None

    token = await issue_token(
        uow(request),
        field("grant_type"),
        field("client_id"),
        field("client_secret"),
        field("scope"),
        now(request),
    )
    body = {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "expires_in": token.expires_in_s,
        "scope": " ".join(s.value for s in token.scopes),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
