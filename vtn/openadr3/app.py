"""The OpenADR 3.1 sub-application, mounted at /openadr3 (a client's base URL is
http://HOST:PORT/openadr3): the Alliance's 3.1.0 API over the same database and use cases as
OpenADR 2.0b and the REST API (aggregator/openadr3.py has the mapping).

Its own document is the spec itself, served as is at /openadr3/openapi.yaml.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from vtn.openadr3 import auth, events, notifiers, programs, reports, vens
from vtn.openadr3.problems import problems_middleware
from vtn.settings import VtnSettings

SPEC_FILE = "openadr3-3.1.0.yaml"


def spec_text() -> str:
    """The OpenADR 3.1.0 OpenAPI document this face follows (a copy of the Alliance's)."""
    return resources.files("vtn.openadr3").joinpath(SPEC_FILE).read_text(encoding="utf-8")


async def openapi_yaml(_request: web.Request) -> web.Response:
    return web.Response(text=spec_text(), content_type="application/yaml")


def create_openadr3_app(settings: VtnSettings) -> web.Application:
    """Build the 3.1 face; the database, clock and poll cache come from the parent app."""
    app = web.Application(middlewares=[problems_middleware], client_max_size=settings.max_body_bytes)
    app.router.add_get("/openapi.yaml", openapi_yaml)
    for module in (auth, programs, events, vens, reports, notifiers):
        app.add_routes(module.routes)
    return app
