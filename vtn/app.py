"""The VTN process: one aiohttp application with OpenADR and the REST API as sub-apps.

State lives under typed `web.AppKey`s; each resource is opened in its own cleanup context,
so shutdown runs in reverse order and only for what started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vtn.db.engine import create_engine
from vtn.settings import VtnSettings

SETTINGS = web.AppKey("settings", VtnSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])


def create_app(settings: VtnSettings) -> web.Application:
    """Build the VTN application. Nothing connects until the app starts."""
    from vtn.api import create_api_app
    from vtn.openadr import create_openadr_app

    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.add_subapp(settings.openadr_path, create_openadr_app(settings))
    app.add_subapp("/api/v1", create_api_app(settings))
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].db_url)
    app[ENGINE] = engine
    app[SESSIONS] = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()
