"""Operator login: an operator API token pasted once, then a signed session cookie.

Every page but the login form and the static files needs a session whose token is still valid
(unknown, expired or revoked: back to the login form); a customer or market token cannot log in.
Every POST must carry its session's CSRF token (vtn/dashboard/session.py). Failed logins are
limited per client address as failed REST authentications are (vtn/api/ratelimit.py), with a
limiter of their own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from vtn.api import ratelimit
from vtn.api.tokens import TOKEN_PREFIX, Principal, Role, TokenRejected, hash_token, verify_token_hash
from vtn.dashboard.render import VIEWER, Viewer, render
from vtn.dashboard.session import CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, SessionCodec
from vtn.keys import SESSIONS

log = logging.getLogger(__name__)

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
CODEC = web.AppKey("dashboard_sessions", SessionCodec)
LOGIN = "/dashboard/login"
HOME = "/dashboard/"
PUBLIC_PREFIXES = (LOGIN, "/dashboard/static/")


def _now(_request: web.Request) -> datetime:
    """Sessions and tokens expire on the wall clock (as REST tokens do), not a simulated VTN clock."""
    return datetime.now(UTC)


def redirect(location: str) -> web.Response:
    """303: the browser follows with a GET (after a form's POST too)."""
    return web.Response(status=303, headers={"Location": location})


def _cookie_flags(request: web.Request) -> dict[str, object]:
    # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it; Secure over TLS.
    return {"httponly": True, "samesite": "Strict", "path": "/dashboard", "secure": request.secure}


@web.middleware
async def session_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    codec = request.app[CODEC]
    now = _now(request)
    session = codec.read(request.cookies.get(SESSION_COOKIE), now)
    reason = "please log in"
    principal: Principal | None = None
    if session is not None:
        try:
            principal = await verify_token_hash(request.config_dict[SESSIONS], session.token_hash, now)
        except TokenRejected as exc:
            reason = f"your session ended: {exc}"
    if session is None or principal is None or principal.role != Role.OPERATOR:
        return _to_login(request, reason)
    if request.method == "POST":
        form = await request.post()
        if not codec.csrf_ok(session.nonce, form.get(CSRF_FIELD)):
            log.warning("dashboard: %s %s without a valid CSRF token", request.method, request.path)
            return render(
                request,
                "error.html",
                status=403,
                title="Refused",
                message="The form's CSRF token is missing or wrong. Reload the page and send it again.",
            )
    request[VIEWER] = Viewer(principal, codec.csrf_token(session.nonce))
    return await handler(request)


def _to_login(request: web.Request, reason: str) -> web.StreamResponse:
    if request.path.endswith(".json"):  # the overview's refresh: a status its script understands
        response: web.StreamResponse = web.json_response({"error": reason}, status=401)
    else:
        target = request.path if request.method == "GET" else HOME
        response = redirect(f"{LOGIN}?next={quote(target)}&reason={quote(reason)}")
    if SESSION_COOKIE in request.cookies:
        response.del_cookie(SESSION_COOKIE, path="/dashboard")
    return response


def _safe_next(target: str | None) -> str:
    """Only a dashboard path (an open redirect to another site would help a phishing page)."""
    if target and target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, message=request.query.get("reason", ""), status=200)


def _login_page(request: web.Request, message: str, status: int) -> web.StreamResponse:
    codec = request.app[CODEC]
    nonce = codec.new_nonce()
    response = render(
        request,
        "login.html",
        status=status,
        title="Log in",
        message=message,
        next=_safe_next(request.query.get("next")),
        csrf_token=codec.csrf_token(nonce),
    )
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **_cookie_flags(request))  # type: ignore[arg-type]
    return response


async def login(request: web.Request) -> web.StreamResponse:
    codec = request.app[CODEC]
    limiter = request.app[ratelimit.LIMITER]
    address = ratelimit.client_address(request)
    wait_s = limiter.retry_after_s(address)
    if wait_s is not None:
        return _login_page(request, f"Too many failed logins; try again in {math.ceil(wait_s)} s.", 429)
    form = await request.post()
    if not codec.csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), form.get(CSRF_FIELD)):
        return _login_page(request, "The login form expired (its CSRF token did not match): try again.", 403)
    token = str(form.get("token", "")).strip()
    now = _now(request)
    message: str | None = None
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128 or not token.isascii():
        message = f"That is not an API token (they start with {TOKEN_PREFIX})."
    else:
        try:
            principal = await verify_token_hash(request.config_dict[SESSIONS], hash_token(token), now)
        except TokenRejected as exc:
            message = f"Token refused: {exc}."
        else:
            if principal.role != Role.OPERATOR:
                message = f"A {principal.role} token cannot open the dashboard: an operator token is needed."
    if message is not None:
        limiter.record_failure(address)
        return _login_page(request, message, 401)
    _, cookie = codec.issue(hash_token(token), now)
    response = redirect(_safe_next(request.query.get("next") or str(form.get("next", ""))))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(codec.lifetime.total_seconds()),
        **_cookie_flags(request),  # type: ignore[arg-type]
    )
    response.del_cookie(LOGIN_COOKIE, path="/dashboard")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST only (CSRF-checked by the middleware), so another site cannot log the operator out."""
    response = redirect(f"{LOGIN}?reason={quote('you logged out')}")
    response.del_cookie(SESSION_COOKIE, path="/dashboard")
    return response
