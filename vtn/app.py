"""The VTN process: one aiohttp application with OpenADR and the REST API as sub-apps.

State lives under typed `web.AppKey`s; each resource is opened in its own cleanup context,
so shutdown runs in reverse order and only for what started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vtn.db.engine import create_engine
from vtn.services.poll_cache import PollCache, attach_cache, detach_cache
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", VtnSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
POLL_CACHE = web.AppKey("poll_cache", PollCache)
# The time source of the OpenADR side; tests put a fixed clock here (tz-aware UTC).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")

# How often unsaved poll times are written and the cache re-reads the database (for a second worker).
POLL_CACHE_SYNC_SECONDS = 2.0
# Delivered outbox messages are kept this long (for inspection), then pruned about hourly.
OUTBOX_RETENTION = timedelta(days=7)
OUTBOX_PRUNE_EVERY = 1800  # sync rounds


def create_app(settings: VtnSettings) -> web.Application:
    """Build the VTN application. Nothing connects until the app starts."""
    from vtn.api import create_api_app
    from vtn.openadr import create_openadr_app

    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    from vtn.portfolio.clock import vtn_clock

    simulated = vtn_clock(settings)
    if simulated is not None:  # a simulated clock (demo, tests) drives OpenADR and the planner alike
        app[CLOCK] = simulated
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_poll_cache)
    app.cleanup_ctx.append(_portfolio_loop)
    app.add_subapp(settings.openadr_path, create_openadr_app(settings))
    app.add_subapp("/api/v1", create_api_app(settings))
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].db_url)
    app[ENGINE] = engine
    app[SESSIONS] = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


async def _poll_cache(app: web.Application) -> AsyncIterator[None]:
    sessions = app[SESSIONS]
    cache = PollCache()
    await cache.reload(sessions)
    attach_cache(sessions, cache)
    app[POLL_CACHE] = cache
    task = asyncio.create_task(_sync_poll_cache(cache, sessions), name="poll-cache-sync")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await cache.flush_polls(sessions)
    finally:
        detach_cache(sessions)


async def _sync_poll_cache(cache: PollCache, sessions: async_sessionmaker[AsyncSession]) -> None:
    from vtn.services.outbox import prune_delivered

    rounds = 0
    while True:
        await asyncio.sleep(POLL_CACHE_SYNC_SECONDS)
        rounds += 1
        try:
            await cache.flush_polls(sessions)
            await cache.reload(sessions)
            if rounds % OUTBOX_PRUNE_EVERY == 0:
                await prune_delivered(sessions, datetime.now(UTC) - OUTBOX_RETENTION)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("poll cache sync failed")


async def _portfolio_loop(app: web.Application) -> AsyncIterator[None]:
    from vtn.portfolio.loop import PORTFOLIO, PortfolioLoop

    clock = app.get(CLOCK) or (lambda: datetime.now(UTC))
    loop = PortfolioLoop(app[SESSIONS], app[SETTINGS], clock)
    await loop.start()
    app[PORTFOLIO] = loop
    yield
    await loop.stop()
