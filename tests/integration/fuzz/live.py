"""A VTN on a real port in a thread of its own, for fuzzers that drive it with blocking clients.

Hypothesis and schemathesis run synchronous test bodies; the VTN's event loop must keep running
while they wait for a reply, so it gets its own thread and loop. Database work for a test (setup,
snapshots) is handed to that loop with `run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select

from vtn.app import CLOCK, POLL_CACHE, SESSIONS, create_app
from vtn.db import tables
from vtn.portfolio.loop import PORTFOLIO
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings

T = TypeVar("T")
# Written in the background (poll times are batched every 2 s), so a change there is no write
# made by the request under test.
VOLATILE_COLUMNS = frozenset(
    {
        ("vens", "last_poll_at"),
        ("api_tokens", "last_used_at"),
        # The 3.1 notifications' delivery rounds (aggregator/openadr3_notifications.py) resolve,
        # send and settle what an earlier accepted request queued; the rows themselves are the
        # requests' own writes and still count.
        *(
            ("oa3_notifications", column)
            for column in (
                "rendered",
                "destinations",
                "state",
                "attempts",
                "next_attempt_at",
                "last_error",
                "delivered_at",
            )
        ),
    }
)


class LiveVtn:
    def __init__(self, settings: VtnSettings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-vtn", daemon=True)
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> LiveVtn:
        self.thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sessions(self) -> Any:
        assert self.app is not None
        return self.app[SESSIONS]

    @property
    def cache(self) -> PollCache:
        """The app's poll cache, for use cases a test calls directly (a PollNotifier)."""
        assert self.app is not None
        return self.app[POLL_CACHE]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.app = create_app(self.settings)
        if self.clock is not None:
            self.app[CLOCK] = self.clock
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """All stored rows, once the re-planning queued by earlier accepted requests is done."""
        assert self.app is not None
        return self.run(_settled_snapshot(self.app))


async def _settled_snapshot(app: web.Application) -> dict[str, list[tuple[Any, ...]]]:
    await _settle(app)
    return await _snapshot(app[SESSIONS])


async def _settle(app: web.Application, timeout_s: float = 60) -> None:
    """Wait until the portfolio loop has no run going or queued.

    An accepted price, imbalance or DR request queues a re-plan that writes planning_runs (and
    dispatches events) a moment later; without waiting, that write would be blamed on whatever
    request came next. The loop has no public "idle" flag, so its queue and lock are read here.
    """
    portfolio = app.get(PORTFOLIO)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while portfolio is not None:
        await asyncio.sleep(0)
        busy = portfolio._pending or portfolio._wake.is_set() or portfolio._lock.locked()
        if not busy:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the portfolio loop is still busy after {timeout_s} s")
        await asyncio.sleep(0.02)


async def _snapshot(sessions: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (less the background-written columns): any write shows."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for table in tables.Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            rows = (await session.execute(select(*columns))).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]
