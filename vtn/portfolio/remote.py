"""The portfolio loop across worker processes (vtn/server.py): one loop, in the primary worker.

Planning state (the run queue, the exclusions the watcher found, the day-ahead bookkeeping)
lives in one process, so runs never overlap and nothing is planned twice. A REST request that
another worker receives forwards its trigger, or its on-demand run, to the primary over a Unix
socket; the on-demand run's record is then read back from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from aggregator.ports import NullNotifier, RunRecord
from aggregator.runs import get_run
from vtn.db.uow import Sessions, UnitOfWork
from vtn.portfolio.loop import PortfolioLoop
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

RUN_TIMEOUT_S = 3600.0  # an on-demand run waits for runs already going


class RemotePortfolio(PortfolioLoop):
    """A worker's stand-in for the primary's PortfolioLoop: starts nothing, forwards calls."""

    def __init__(
        self, sessions: Sessions, settings: VtnSettings, clock: Callable[[], datetime], control_path: str
    ) -> None:
        super().__init__(sessions, settings, clock, NullNotifier())  # the primary dispatches
        self.control_path = control_path
        self._session: aiohttp.ClientSession | None = None
        self._sent: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.control_path))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        # The flexibility offer (GET /portfolio/flexibility) is computed by each worker in a
        # process of its own, spawned at the first request: it reads only the stored runs.
        await super().stop()

    def warm_up(self) -> None:
        """Nothing to warm: the primary worker plans."""

    def trigger(self, reason: str) -> None:
        """Ask the primary for a re-plan (in the background; logged if the primary is away)."""
        task = asyncio.get_running_loop().create_task(self._post("/trigger", {"reason": reason}))
        self._sent.add(task)
        task.add_done_callback(self._sent.discard)

    async def run_now(self, trigger: str) -> RunRecord:
        answer = await self._post("/run", {"trigger": trigger}, timeout=RUN_TIMEOUT_S)
        return await get_run(UnitOfWork(self.sessions), answer["run_id"])

    async def _post(self, path: str, body: dict[str, str], timeout: float = 30.0) -> dict[str, Any]:
        assert self._session is not None, "RemotePortfolio used before start()"
        try:
            async with self._session.post(
                f"http://primary{path}", json=body, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                response.raise_for_status()
                answer: dict[str, Any] = await response.json()
                return answer
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.error("cannot reach the primary worker's portfolio loop (%s %s): %s", path, body, exc)
            raise


async def serve_primary(loop: PortfolioLoop, path: str) -> web.AppRunner:
    """Serve the primary's loop to the other workers on a Unix socket at `path`."""

    async def trigger(request: web.Request) -> web.Response:
        loop.trigger(str((await request.json())["reason"]))
        return web.json_response({"queued": True})

    async def run(request: web.Request) -> web.Response:
        record = await loop.run_now(str((await request.json())["trigger"]))
        return web.json_response({"run_id": record.run_id, "status": record.status})

    app = web.Application()
    app.router.add_post("/trigger", trigger)
    app.router.add_post("/run", run)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, path).start()
    return runner
