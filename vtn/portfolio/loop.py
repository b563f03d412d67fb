"""The closed loop's background work: serial planning runs, the day-ahead run, re-plan triggers.

Every run goes through one queue and one worker task, so runs never overlap; triggers that
arrive while a run is going are folded into the next run. Solving happens in a process pool
(`run_in_executor`), so the event loop keeps serving OpenADR polls meanwhile.

Only the leading instance runs the loop (`lead`, a job of vtn/services/leadership.py). Any
instance may ask for a re-plan (`request_replan`) or a run (`run_now`): the request is stored
(table replan_requests), and the leader takes every pending one into its next run, woken by
the request's notification (or at once when it made the request itself). What the loop keeps
between runs, the day-ahead bookkeeping and the homes it excluded, is stored too
(vtn/db/loop_state.py), so an instance that takes the loop over resumes where the last left it.
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
from aggregator.runs import get_run
from aggregator.services import run_planning
from aggregator.watch import EvKey, WatchRules, look, planned_evs
from flexmodel.parent_watch import exit_with_parent
from vtn.db.errors import DatabaseBusy, DatabaseError, log_failure
from vtn.db.loop_state import LoopStateRepository
from vtn.db.uow import Sessions, UnitOfWork
from vtn.services.uninterrupted import uninterrupted
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER = timedelta(minutes=15)  # VTN clock
RETRY_PAUSE_S = 1.0  # real seconds before a failed run or dispatch is tried again
# An excluded home's load is held fixed for a day (FIXED_SLOTS of aggregator/loop_store.py);
# then the loop steers it again (and excludes it again if it still does not follow). VTN clock.
EXCLUSION_LASTS = timedelta(days=1)
RUN_WAIT_S = 3600.0  # an on-demand run asked of another instance waits for runs already going
RUN_LOOK_S = 0.2  # how often such a request is looked at
REQUESTS_KEPT = timedelta(days=7)  # answered re-plan requests, then pruned (VTN clock)


class LoopStopped(Exception):
    """A solve asked for while the loop stops (its solver process is gone)."""


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
        self.state = LoopStateRepository(sessions)
        self.exclusions: dict[str, Exclusion] = {}  # as last read from the database
        self.leading = False  # `lead` is running: runs happen here
        self.warm_when_leading = False  # a served VTN starts the solver when it takes the loop
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._stopping = False  # the lead is ending: no new solve starts
        self._offer_pool: cf.ProcessPoolExecutor | None = None  # the flexibility offer's own
        self._tasks: list[asyncio.Task[None]] = []
        self._leader: asyncio.Task[None] | None = None  # start(): leading without an election
        self._last_dayahead: datetime | None = None
        self.last_run: RunRecord | None = None
        self._last_run_at: datetime | None = None
        self._last_evs: frozenset[EvKey] | None = None  # the (site, EV) pairs last planned
        self.offers = OfferCache()  # the flexibility offer of the latest plan (GET /portfolio/flexibility)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def lead(self) -> None:
        """Run the loop until cancelled (while this instance leads): resume from the stored state,
        take the pending re-plan requests, watch. The solver process ends with it."""
        tasks: list[asyncio.Task[None]] = []
        self.leading = True
        try:
            while True:
                try:
                    await self._resume()
                    break
                except (DatabaseError, OSError) as exc:  # the database may be briefly away
                    log_failure(log, "cannot read the planning loop's state; trying again", exc)
                    await asyncio.sleep(RETRY_PAUSE_S)
            if self.warm_when_leading:
                self.warm_up()
            # No solver process yet otherwise: the first run spawns it (_execute). Most apps never
            # plan (a test, a VTN without homes), and a process importing Pyomo and HiGHS costs
            # seconds of CPU.
            tasks.append(asyncio.create_task(self._worker(), name="portfolio-runs"))
            if self.settings.portfolio_loop:
                tasks.append(asyncio.create_task(self._watch(), name="portfolio-watch"))
            self._tasks = tasks
            self._wake.set()  # requests stored before this instance led
            # Not gather: cancelled, it waits for its tasks, and the worker waits for its solve.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a task's error ends the lead, as it did under gather
        finally:
            self.leading = False
            # The solver process goes first: a run waiting for its solve then fails at once, and
            # the worker, which finishes its round's database work before it stops, ends.
            self._stopping = True
            if self._pool is not None:
                _terminate(self._pool)
                self._pool = None
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)  # not `await task`: that would re-raise their errors here
            self._tasks = []
            self._stopping = False

    async def _resume(self) -> None:
        """What the previous leader left: its last run, the day-ahead bookkeeping, exclusions."""
        self._last_dayahead = await self.state.last_dayahead()
        async with UnitOfWork(self.sessions) as uow:
            latest = await uow.runs.newest(1)
        if latest:
            self.last_run, self._last_run_at = latest[0], latest[0].started_at
            self._last_evs = planned_evs(latest[0])
        await self._read_exclusions(self.clock())

    async def start(self) -> None:
        """Lead here without an election (a loop used on its own; the app elects, vtn/app.py)."""
        self._leader = asyncio.create_task(self.lead(), name="portfolio-loop")
        while not self.leading:  # runs asked for from here on are run here
            await asyncio.sleep(0)

    async def stop(self) -> None:
        leader, self._leader = self._leader, None
        if leader is not None:
            leader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leader
        # The offer's process serves on every instance, leader or not (the solver's ends with the lead).
        for pool in (self._pool, self._offer_pool):
            if pool is not None:
                _terminate(pool)
        self._pool = self._offer_pool = None

    def warm_up(self) -> None:
        """Spawn the solver process and import the planner in it now, not in the first run: that
        takes seconds on a busy machine, an hour of the demo's accelerated clock. A served VTN's
        leader does this when it takes the loop (vtn/server.py). Once per solver process."""
        if self._pool is None:
            self._solver().submit(_import_planner)

    def _solver(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _one_process()
        return self._pool

    async def _execute(self, fn: Callable[..., T], *args: Any) -> T:
        if self._stopping:
            raise LoopStopped("the planning loop is stopping")
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
        """Plan and dispatch now (waits for a run already going). On an instance that does not
        lead, the leader runs it: the request is stored and its run's record read back."""
        if self.leading:
            return await self._run(trigger)
        replan_id = await self.state.add_replan(trigger, True, self.clock())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RUN_WAIT_S
        while loop.time() < deadline:
            run_id = await self.state.replan_run(replan_id)
            if run_id is not None:
                return await get_run(UnitOfWork(self.sessions), run_id)
            await asyncio.sleep(RUN_LOOK_S)
        raise TimeoutError(f"no instance ran the planning run asked for (request {replan_id})")

    async def _run(self, trigger: str) -> RunRecord:
        async with self._lock:
            return await self._run_locked(trigger)

    async def _run_locked(self, trigger: str) -> RunRecord:
        now = self.clock()
        await self._read_exclusions(now)
        store = LoopStoreOverUow(UnitOfWork(self.sessions), self.exclusions, ZoneInfo(self.settings.timezone))
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

    async def request_replan(self, reason: str) -> None:
        """Ask the leader, wherever it runs, for a re-plan soon (stored, so a leader that dies
        before planning leaves it to the next)."""
        await self.state.add_replan(reason, False, self.clock())
        self.wake()

    def wake(self) -> None:
        """A re-plan request was stored (here, or by another instance: its notification)."""
        if self.leading:
            self._wake.set()

    def trigger(self, reason: str) -> None:
        """Ask this loop for a re-plan soon (folded with other triggers): the leader's own
        findings, which its successor would find again."""
        self._pending.append(reason)
        self._wake.set()

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # A stop waits for the round (vtn/services/uninterrupted.py): cancelled mid-query, a
            # round left SQLAlchemy closing an aiosqlite connection that never answered, and the
            # test's event loop hung at its end. A solve in progress does not hold the stop up:
            # the stop ends the solver process first (`lead`).
            retry = await uninterrupted(self._round())
            if retry is not None:
                await asyncio.sleep(RETRY_PAUSE_S)
                self.trigger(retry)

    async def _round(self) -> str | None:
        """Run the pending requests, if any; the reason to try again soon, or None."""
        # Under the run lock from the reading of the requests to their answer: whoever sees
        # the lock free and nothing pending knows no run is about to start or to finish.
        record: RunRecord | None = None
        async with self._lock:
            reasons, self._pending = self._pending, []
            try:
                stored = await self.state.pending_replans()
                reasons += [r.reason for r in stored]
                if not reasons:
                    return None
                record = await self._run_locked("; ".join(dict.fromkeys(reasons)))
                # Answered even when the run failed: an on-demand asker gets its record.
                await self.state.finish_replans([r.id for r in stored], record.run_id, self.clock())
            except Exception as exc:  # a failed run is logged and tried again; the loop keeps serving
                if self._stopping:  # its solver process was ended: the next leader runs it
                    log.info("planning run stopped with the loop (%s)", exc.__class__.__name__)
                    return None
                log_failure(log, "planning run failed; trying again", exc)
        if record is None:
            # Woken with nothing of its own (a notified request) and the database away, there
            # are no reasons to name: the stored requests stay pending and are read again.
            return "retry: " + ("; ".join(dict.fromkeys(reasons)) or "stored requests")[:200]
        failed = [d for d in (record.dispatch or {}).get("vens", []) if d["action"] == "failed"]
        if failed:
            return f"retry: dispatch to {len(failed)} VEN(s) failed"
        return None

    # ---- the watcher -------------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.replan_check_seconds)
            try:
                await uninterrupted(self._check())  # a stop waits for the round (see _worker)
            except Exception:
                log.exception("portfolio watch failed")
            # The stored requests are looked at each round too: a notification lost with the
            # leader's connection delays a request by this much, never more.
            self._wake.set()

    async def _dayahead_due(self, now: datetime) -> bool:
        """Whether today's day-ahead run is due; if so it is stored as queued (once per day, by
        whichever instance leads) together with its re-plan request."""
        if self.settings.dayahead_time is None:
            return False
        zone = ZoneInfo(self.settings.timezone)
        local = now.astimezone(zone)
        hour, minute = (int(x) for x in self.settings.dayahead_time.split(":"))
        due = datetime.combine(local.date(), time(hour, minute), zone).astimezone(UTC)
        if now < due or (self._last_dayahead is not None and self._last_dayahead >= due):
            return False
        await self.state.queue_dayahead(now, "day-ahead")
        self._last_dayahead = now
        return True

    async def _read_exclusions(self, now: datetime) -> None:
        self.exclusions = await self.state.exclusions(now - EXCLUSION_LASTS)

    async def _check(self) -> None:
        now = self.clock()
        if await self._dayahead_due(now):
            self._wake.set()
            return
        if self.last_run is None or self._last_run_at is None:
            return
        if self.last_run.status == "error" and self.last_run.trigger.startswith("day-ahead"):
            # Nothing to plan yet (no home had reported, no prices): try again a little later.
            if now - self._last_run_at >= RETRY_AFTER:
                self.trigger("day-ahead (retry)")
            return
        await self._read_exclusions(now)
        findings = await look(
            UnitOfWork(self.sessions), now, self._watch_rules(), self.exclusions, self._last_evs
        )
        found = {f.ven_id: f.exclusion for f in findings if f.exclusion is not None}
        await self.state.add_exclusions(found, now)
        self.exclusions.update(found)
        if findings:
            self.trigger("; ".join(f.reason for f in findings))
        elif now - self._last_run_at >= timedelta(minutes=self.settings.replan_every_minutes):
            self.trigger("rolling re-plan")

    async def prune(self) -> None:
        """Forget answered re-plan requests (the leader's hourly pruning, vtn/app.py)."""
        await self.state.prune_replans(self.clock() - REQUESTS_KEPT)

    def _watch_rules(self) -> WatchRules:
        settings = self.settings
        return WatchRules(
            # The setting is in real seconds, the stored poll times on the VTN's clock, which runs
            # clock_speed times faster (demos).
            offline_after=timedelta(seconds=settings.offline_after_seconds * settings.clock_speed),
            deviation_tolerance_kw=settings.deviation_tolerance_kw,
            # The schedule steers the site's net import (the meter) or the EV charger's power.
            steered_device="evse" if settings.dispatch_target == "ev" else "meter",
            # A changed schedule reaches the home on its next poll (real s, as offline_after).
            delivery_grace=timedelta(seconds=settings.poll_interval_seconds * settings.clock_speed),
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
