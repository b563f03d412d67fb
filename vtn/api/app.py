"""The REST sub-application mounted at /api/v1."""

from __future__ import annotations

from aiohttp import web

from vtn.api import customer as _customer  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import forecast_scores as _forecast_scores  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import notifications as _notifications  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import performance as _performance  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import portfolio as _portfolio  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import ratelimit
from vtn.api import settlement as _settlement  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import site_history as _site_history  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import solar as _solar  # noqa: F401  (its routes join ROUTES on import)
from vtn.api import token_admin as _token_admin  # noqa: F401  (its routes join ROUTES on import)
from vtn.api.middleware import auth_middleware, errors_middleware
from vtn.api.openapi import build_openapi
from vtn.api.routes import OPENAPI, ROUTES
from vtn.settings import VtnSettings


def create_api_app(settings: VtnSettings) -> web.Application:
    """Build the REST API; the database sessions come from the parent app (vtn.app.SESSIONS)."""
    app = web.Application(middlewares=[errors_middleware, ratelimit.middleware, auth_middleware])
    ratelimit.install(app, settings)
    ROUTES.add_to(app)
    app[OPENAPI] = build_openapi(ROUTES.endpoints)
    return app
