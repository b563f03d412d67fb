"""The REST sub-application mounted at /api/v1."""

from __future__ import annotations

from aiohttp import web

from vtn.api.middleware import auth_middleware, errors_middleware
from vtn.api.openapi import build_openapi
from vtn.api.routes import OPENAPI, ROUTES
from vtn.settings import VtnSettings


def create_api_app(settings: VtnSettings) -> web.Application:
    """Build the REST API; the database sessions come from the parent app (vtn.app.SESSIONS)."""
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    ROUTES.add_to(app)
    app[OPENAPI] = build_openapi(ROUTES.endpoints)
    return app
