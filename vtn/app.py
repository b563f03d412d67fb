"""The VTN process: one aiohttp application with OpenADR 2.0b, OpenADR 3.1 and the REST API as sub-apps.

State lives under typed `web.AppKey`s; each resource is opened in its own cleanup context,
so shutdown runs in reverse order and only for what started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from vtn.api import create_api_app
from vtn.dashboard import create_dashboard_app
from vtn.db.engine import PoolLimits, create_engine, sessions_for
from vtn.db.errors import log_failure
from vtn.db.instance_link import (
    OUTBOX_CHANNEL,
    REGISTRATION_CHANNEL,
    REPLAN_CHANNEL,
    InstanceLink,
    is_postgresql,
)
from vtn.db.uow import Sessions
from vtn.keys import CLOCK, ENGINE, LEADERSHIP, POLL_CACHE, REPORT_WRITER, SESSIONS, SETTINGS, WORKER
from vtn.notifications import webhook_delivery
from vtn.openadr import create_openadr_app
from vtn.openadr3 import create_openadr3_app
from vtn.openadr3.notifiers_delivery import openadr3_notification_delivery
from vtn.services.leadership import Leadership
from vtn.services.poll_cache import PollCache
from vtn.services.uninterrupted import uninterrupted
from vtn.settings import VtnSettings
from vtn.worker import Worker

log = logging.getLogger(__name__)

# The keys live in vtn/keys.py (the handlers read them); tests and tools import them from here too.
__all__ = ["CLOCK", "ENGINE", "LEADERSHIP", "POLL_CACHE", "SESSIONS", "SETTINGS", "WORKER", "create_app"]

# How often unsaved poll times are written and the cache re-reads the database (for a second worker).
POLL_CACHE_SYNC_SECONDS = 2.0
# Delivered outbox messages are kept this long (for inspection), then pruned hourly by the leader.
OUTBOX_RETENTION = timedelta(days=7)
PRUNE_EVERY_S = 3600.0


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
    app.cleanup_ctx.append(webhook_delivery)  # the households' webhooks (a leader's job)
    app.cleanup_ctx.append(openadr3_notification_delivery)  # 3.1 notifications (a leader's job)
    app.cleanup_ctx.append(_elect)  # last: every leader job and listener is known by then
    app.add_subapp(settings.openadr_path, create_openadr_app(settings))
    app.add_subapp("/api/v1", create_api_app(settings))
    app.add_subapp("/openadr3", create_openadr3_app(settings))  # OpenADR 3.1 (vtn/openadr3)
    app.router.add_get("/dashboard", _to_dashboard)  # before the sub-app, whose prefix also matches it
    app.add_subapp("/dashboard/", create_dashboard_app(settings))
    return app


async def _to_dashboard(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=308, headers={"Location": "/dashboard/"})


def _worker_header(
    index: str,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    async def add(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-VTN-Worker"] = index

    return add


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = PoolLimits(settings.db_pool_size, settings.db_pool_overflow, settings.db_pool_timeout_seconds)
    engine = create_engine(settings.db_url, pool)
    app[ENGINE] = engine
    app[SESSIONS] = sessions_for(engine)
    # The election between instances (vtn/services/leadership.py); SQLite: this one leads.
    takeover_s = settings.leader_takeover_seconds
    link = InstanceLink(settings.db_url, takeover_s) if is_postgresql(settings.db_url) else None
    worker = app[WORKER]
    name = f"VTN instance {os.getpid()}" + (f" (worker {worker.index})" if worker.count > 1 else "")
    app[LEADERSHIP] = Leadership(link, takeover_s, name)
    yield
    await engine.dispose()


async def _poll_cache(app: web.Application) -> AsyncIterator[None]:
    sessions = app[SESSIONS]
    cache = PollCache()
    await cache.reload(sessions)
    app[POLL_CACHE] = cache
    # Another instance's writes reach this cache at once through notifications (PostgreSQL), and
    # in any case with the reload every POLL_CACHE_SYNC_SECONDS.
    leadership = app[LEADERSHIP]
    leadership.listen(OUTBOX_CHANNEL, lambda ven_id: cache.mark_pending([ven_id]))
    leadership.listen(REGISTRATION_CHANNEL, cache.forget_registration)
    leadership.on_reconnect(lambda: cache.reload(sessions))
    leadership.add_job("outbox-prune", lambda: _hourly(lambda: _prune_outbox(sessions)))
    task = asyncio.create_task(_sync_poll_cache(cache, sessions), name="poll-cache-sync")
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


async def _sync_poll_cache(cache: PollCache, sessions: Sessions) -> None:
    """Every instance saves its own poll times and re-reads the database."""
    while True:
        await asyncio.sleep(POLL_CACHE_SYNC_SECONDS)
        try:
            await uninterrupted(_sync_once(cache, sessions))
        except Exception as exc:  # the database may be briefly away; try again next round
            log_failure(log, "poll cache sync failed", exc)


async def _sync_once(cache: PollCache, sessions: Sessions) -> None:
    await cache.flush_polls(sessions)
    await cache.reload(sessions)


async def _prune_outbox(sessions: Sessions) -> None:
    """Delivered outbox messages past their retention go (an hourly job of the leader)."""
    from aggregator.outbox import prune_delivered
    from vtn.db.uow import UnitOfWork

    await prune_delivered(UnitOfWork(sessions), datetime.now(UTC) - OUTBOX_RETENTION)


async def _portfolio_loop(app: web.Application) -> AsyncIterator[None]:
    """Every instance has the loop's object (to ask for runs); the leader runs it (`lead`)."""
    from vtn.portfolio.loop import PORTFOLIO, PortfolioLoop

    clock = app.get(CLOCK) or (lambda: datetime.now(UTC))
    loop = PortfolioLoop(app[SESSIONS], app[SETTINGS], clock, app[POLL_CACHE])
    app[PORTFOLIO] = loop
    leadership = app[LEADERSHIP]
    leadership.add_job("portfolio-loop", loop.lead)
    leadership.add_job("replan-prune", lambda: _hourly(loop.prune))
    leadership.listen(REPLAN_CHANNEL, lambda _id: loop.wake())
    leadership.on_reconnect(_async(loop.wake))  # requests made while it was away
    yield


async def _hourly(job: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(PRUNE_EVERY_S)
        try:
            await uninterrupted(job())
        except Exception as exc:  # the database may be briefly away; next hour
            log_failure(log, "hourly pruning failed", exc)


def _async(call: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        call()

    return run


async def _elect(app: web.Application) -> AsyncIterator[None]:
    leadership = app[LEADERSHIP]
    await leadership.start()
    yield
    await leadership.stop()
