"""The closed loop's background work: serial planning runs, the day-ahead run, re-plan triggers.

Every run goes through one queue and one worker task, so runs never overlap; triggers that
arrive while a run is going are folded into the next run. Solving happens in a process pool
(`run_in_executor`), so the event loop keeps serving OpenADR polls meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator.bidding import OfferCache
from aggregator.dispatch import EventDispatcher
from aggregator.loop_store import Exclusion, LoopStoreOverUow
from aggregator.ports import PollNotifier, RunRecord
from aggregator.services import run_planning
from aggregator.watch import EvKey, WatchRules, look, planned_evs
from flexmodel.parent_watch import exit_with_parent
from vtn.db.errors import DatabaseBusy
from vtn.db.uow import Sessions, UnitOfWork
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER = timedelta(minutes=15)  # VTN clock
RETRY_PAUSE_S = 1.0  # real seconds before a failed run or dispatch is tried again


class PortfolioLoop:
    def __init__(
        self,
        sessions: Sessions,
        settings: VtnSettings,
        clock: Callable[[], datetime],
        notifier: PollNotifier,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.notifier = notifier  # told of the distributes a run's dispatch queues
        self.exclusions: dict[str, Exclusion] = {}
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._offer_pool: cf.ProcessPoolExecutor | None = None  # the flexibility offer's own
        self._tasks: list[asyncio.Task[None]] = []
        self._last_dayahead: datetime | None = None
        self.last_run: RunRecord | None = None
        self._last_run_at: datetime | None = None
        self._last_evs: frozenset[EvKey] | None = None  # the (site, EV) pairs last planned
        self.offers = OfferCache()  # the flexibility offer of the latest plan (GET /portfolio/flexibility)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        # No solver process yet: the first run spawns it (_execute), or warm_up() does. Most apps
        # never plan (a secondary worker, a test, a VTN without homes), and a spawned process
        # importing Pyomo and HiGHS costs seconds of CPU.
        self._tasks = [asyncio.create_task(self._worker(), name="portfolio-runs")]
        if self.settings.portfolio_loop:
            self._tasks.append(asyncio.create_task(self._watch(), name="portfolio-watch"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pool in (self._pool, self._offer_pool):
            if pool is not None:
                _terminate(pool)
        self._pool = self._offer_pool = None

    def warm_up(self) -> None:
        """Spawn the solver process and import the planner in it now, not in the first run: that
        takes seconds on a busy machine, an hour of the demo's accelerated clock. A served VTN's
        primary worker does this at start (vtn/server.py)."""
        self._solver().submit(_import_planner)

    def _solver(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _one_process()
        return self._pool

    async def _execute(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._solver(), fn, *args)

    async def execute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking function in a process of its own (the flexibility offer: a large
        portfolio's takes minutes, and a planning run, a DR request's, must not wait for it)."""
        if self._offer_pool is None:
            self._offer_pool = _one_process()
        return await asyncio.get_running_loop().run_in_executor(self._offer_pool, fn, *args)

    # ---- runs --------------------------------------------------------------------------------
    async def run_now(self, trigger: str) -> RunRecord:
        """Plan and dispatch now (waits for a run already going)."""
        async with self._lock:
            now = self.clock()
            store = LoopStoreOverUow(
                UnitOfWork(self.sessions), self.exclusions, ZoneInfo(self.settings.timezone)
            )
            dispatcher = EventDispatcher(
                UnitOfWork(self.sessions), self.notifier, self.settings.near_window_seconds, (DatabaseBusy,)
            )
            record = await run_planning(
                store,
                dispatcher,
                self._execute,
                trigger,
                now,
                self.settings.planner_solver,
                self.settings.planner_method,
                self.settings.dispatch_target,
            )
            self.last_run, self._last_run_at = record, now
            self._last_evs = planned_evs(record)
            return record

    def trigger(self, reason: str) -> None:
        """Ask for a re-plan soon (folded with other triggers)."""
        self._pending.append(reason)
        self._wake.set()

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            reasons, self._pending = self._pending, []
            if not reasons:
                continue
            try:
                record = await self.run_now("; ".join(dict.fromkeys(reasons)))
            except Exception:  # a failed run is logged and tried again; the loop keeps serving
                log.exception("planning run failed; trying again")
                await asyncio.sleep(RETRY_PAUSE_S)
                self.trigger("retry: " + "; ".join(dict.fromkeys(reasons))[:200])
                continue
            failed = [d for d in (record.dispatch or {}).get("vens", []) if d["action"] == "failed"]
            if failed:
                await asyncio.sleep(RETRY_PAUSE_S)
                self.trigger(f"retry: dispatch to {len(failed)} VEN(s) failed")

    # ---- the watcher -------------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.replan_check_seconds)
            try:
                await self._check()
            except Exception:
                log.exception("portfolio watch failed")

    def _dayahead_due(self, now: datetime) -> bool:
        if self.settings.dayahead_time is None:
            return False
        zone = ZoneInfo(self.settings.timezone)
        local = now.astimezone(zone)
        hour, minute = (int(x) for x in self.settings.dayahead_time.split(":"))
        due = datetime.combine(local.date(), time(hour, minute), zone).astimezone(UTC)
        if now < due or (self._last_dayahead is not None and self._last_dayahead >= due):
            return False
        self._last_dayahead = now
        return True

    async def _check(self) -> None:
        now = self.clock()
        if self._dayahead_due(now):
            self.trigger("day-ahead")
            return
        if self.last_run is None or self._last_run_at is None:
            return
        if self.last_run.status == "error" and self.last_run.trigger.startswith("day-ahead"):
            # Nothing to plan yet (no home had reported, no prices): try again a little later.
            if now - self._last_run_at >= RETRY_AFTER:
                self.trigger("day-ahead (retry)")
            return
        findings = await look(
            UnitOfWork(self.sessions), now, self._watch_rules(), self.exclusions, self._last_evs
        )
        for finding in findings:
            if finding.exclusion is not None:
                self.exclusions[finding.ven_id] = finding.exclusion
        if findings:
            self.trigger("; ".join(f.reason for f in findings))
        elif now - self._last_run_at >= timedelta(minutes=self.settings.replan_every_minutes):
            self.trigger("rolling re-plan")

    def _watch_rules(self) -> WatchRules:
        settings = self.settings
        return WatchRules(
            # The setting is in real seconds, the stored poll times on the VTN's clock, which runs
            # clock_speed times faster (demos).
            offline_after=timedelta(seconds=settings.offline_after_seconds * settings.clock_speed),
            deviation_tolerance_kw=settings.deviation_tolerance_kw,
            # The schedule steers the site's net import (the meter) or the EV charger's power.
            steered_device="evse" if settings.dispatch_target == "ev" else "meter",
        )


def _one_process() -> cf.ProcessPoolExecutor:
    spawn = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(
        max_workers=1, mp_context=spawn, initializer=exit_with_parent, initargs=(os.getpid(),)
    )


def _import_planner() -> None:
    # Every formulation with it: the array path (highspy, scipy) and the joint model (Pyomo).
    import flexmodel.planner  # noqa: F401


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop the solver process now, a run in progress included.

    `shutdown(wait=False)` alone leaves the process running its current call, and the interpreter
    joins it at exit: a VTN stopped while its solver process was busy did not exit before the
    call ended (in test_workers, `vtn serve --workers 2` took 30 s to stop: the planner's import
    at start).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # CPython's executor
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


PORTFOLIO = web.AppKey("portfolio", PortfolioLoop)
