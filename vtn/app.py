"""The VTN process: one aiohttp application with OpenADR 2.0b, OpenADR 3.1 and the REST API as sub-apps.

State lives under typed `web.AppKey`s; each resource is opened in its own cleanup context,
so shutdown runs in reverse order and only for what started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from vtn.api import create_api_app
from vtn.db.engine import create_engine, sessions_for
from vtn.db.uow import Sessions
from vtn.keys import CLOCK, ENGINE, POLL_CACHE, REPORT_WRITER, SESSIONS, SETTINGS, WORKER
from vtn.notifications import webhook_delivery
from vtn.openadr import create_openadr_app
from vtn.openadr3 import create_openadr3_app
from vtn.openadr3.notifiers_delivery import openadr3_notification_delivery
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings
from vtn.worker import Worker

log = logging.getLogger(__name__)

# The keys live in vtn/keys.py (the handlers read them); tests and tools import them from here too.
__all__ = ["CLOCK", "ENGINE", "POLL_CACHE", "SESSIONS", "SETTINGS", "WORKER", "create_app"]

# How often unsaved poll times are written and the cache re-reads the database (for a second worker).
POLL_CACHE_SYNC_SECONDS = 2.0
# Delivered outbox messages are kept this long (for inspection), then pruned about hourly.
OUTBOX_RETENTION = timedelta(days=7)
OUTBOX_PRUNE_EVERY = 1800  # sync rounds


def create_app(settings: VtnSettings, worker: Worker | None = None) -> web.Application:
    """Build the VTN application (of `worker`; default: the only one). Nothing connects until it starts."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[WORKER] = worker = worker or Worker()
    if worker.count > 1:  # which worker answered (tests, debugging); nothing to add for one
        app.on_response_prepare.append(_worker_header(str(worker.index)))
    from vtn.portfolio.clock import vtn_clock

    simulated = vtn_clock(settings)
    if simulated is not None:  # a simulated clock (demo, tests) drives OpenADR and the planner alike
        app[CLOCK] = simulated
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_poll_cache)
    app.cleanup_ctx.append(_report_writer)
    app.cleanup_ctx.append(_portfolio_loop)
    app.cleanup_ctx.append(webhook_delivery)  # the households' webhooks (primary worker)
    app.cleanup_ctx.append(openadr3_notification_delivery)  # 3.1 notifications (primary worker)
    app.add_subapp(settings.openadr_path, create_openadr_app(settings))
    app.add_subapp("/api/v1", create_api_app(settings))
    app.add_subapp("/openadr3", create_openadr3_app(settings))  # OpenADR 3.1 (vtn/openadr3)
    return app


def _worker_header(
    index: str,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    async def add(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-VTN-Worker"] = index

    return add


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].db_url)
    app[ENGINE] = engine
    app[SESSIONS] = sessions_for(engine)
    yield
    await engine.dispose()


async def _poll_cache(app: web.Application) -> AsyncIterator[None]:
    sessions = app[SESSIONS]
    cache = PollCache()
    await cache.reload(sessions)
    app[POLL_CACHE] = cache
    primary = app[WORKER].primary
    task = asyncio.create_task(_sync_poll_cache(cache, sessions, primary), name="poll-cache-sync")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await cache.flush_polls(sessions)


async def _report_writer(app: web.Application) -> AsyncIterator[None]:
    """oadrUpdateReport values are written in group commits (vtn/services/report_writer.py)."""
    from vtn.services.report_writer import ReportWriter

    writer = ReportWriter(app[SESSIONS])
    await writer.start()
    app[REPORT_WRITER] = writer
    yield
    await writer.stop()


async def _sync_poll_cache(cache: PollCache, sessions: Sessions, primary: bool = True) -> None:
    """Every worker saves its own poll times and re-reads the database; the primary alone prunes."""
    from aggregator.outbox import prune_delivered
    from vtn.db.uow import UnitOfWork

    rounds = 0
    while True:
        await asyncio.sleep(POLL_CACHE_SYNC_SECONDS)
        rounds += 1
        try:
            await cache.flush_polls(sessions)
            await cache.reload(sessions)
            if primary and rounds % OUTBOX_PRUNE_EVERY == 0:
                await prune_delivered(UnitOfWork(sessions), datetime.now(UTC) - OUTBOX_RETENTION)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("poll cache sync failed")


async def _portfolio_loop(app: web.Application) -> AsyncIterator[None]:
    """The closed loop runs in the primary worker only; another worker forwards to it."""
    from vtn.portfolio.loop import PORTFOLIO, PortfolioLoop
    from vtn.portfolio.remote import RemotePortfolio, serve_primary

    clock = app.get(CLOCK) or (lambda: datetime.now(UTC))
    worker = app[WORKER]
    loop: PortfolioLoop
    if worker.primary:
        loop = PortfolioLoop(app[SESSIONS], app[SETTINGS], clock, app[POLL_CACHE])
    else:
        assert worker.control_path is not None
        loop = RemotePortfolio(app[SESSIONS], app[SETTINGS], clock, worker.control_path)
    await loop.start()
    app[PORTFOLIO] = loop
    control = None
    if worker.primary and worker.control_path is not None:
        control = await serve_primary(loop, worker.control_path)
    yield
    if control is not None:
        await control.cleanup()
    await loop.stop()
