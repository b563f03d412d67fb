"""Which VTN instance runs the planning loop and the once-only jobs (outbox pruning, webhook
delivery): the one that holds the loop's PostgreSQL advisory lock (vtn/db/instance_link.py).

Every instance (a `vtn serve` process, or one worker of `--workers N`: one design) runs the same
election: it tries the lock at start, then every `leader_takeover_seconds / 5`. The leader checks
its connection as often; if it fails, the leader stops its jobs at once (the lock may already be
another's). So a killed leader is replaced within a fifth of the bound (its lock goes with its
connection) and a vanished one within about the bound (the server's keepalives give it up).

The same connection LISTENs to the other instances: a message queued for a VEN and a changed
registration reach each poll cache at once, a new re-plan request wakes the leader. After a lost
connection the poll cache is re-read whole, since notifications sent meanwhile are gone.

On SQLite (one instance: the embedded default) this instance leads from its start, with no
lock and no notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from vtn.db.instance_link import InstanceLink, LinkError

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]  # runs until cancelled
Listener = Callable[[str], None]  # called with the notification's payload


class Leadership:
    def __init__(self, link: InstanceLink | None, takeover_s: float, name: str = "this instance") -> None:
        self._link = link
        self._check_s = takeover_s / 5
        self._name = name
        self._jobs: list[tuple[str, Job]] = []
        self._listeners: dict[str, list[Listener]] = {}
        self._reconnected: list[Job] = []
        self._running: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._connected_once = False
        self.leading = False

    # ---- set-up (before start) ------------------------------------------------------------------
    def add_job(self, name: str, job: Job) -> None:
        """Run `job()` while this instance leads (cancelled when it stops leading)."""
        self._jobs.append((name, job))

    def listen(self, channel: str, listener: Listener) -> None:
        self._listeners.setdefault(channel, []).append(listener)

    def on_reconnect(self, job: Job) -> None:
        """Run after the connection came back (notifications sent meanwhile were missed)."""
        self._reconnected.append(job)

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Lead at once on SQLite; on PostgreSQL try once now (so a lone instance leads from its
        start), then keep trying or checking in the background."""
        if self._link is None:
            self._lead()
            return
        await self._attempt()
        self._task = asyncio.create_task(self._elect(), name="leader-election")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._step_down()
        if self._link is not None:
            await self._link.close()

    # ---- the election -----------------------------------------------------------------------
    async def _elect(self) -> None:
        while True:
            await asyncio.sleep(self._check_s)
            await self._attempt()

    async def _attempt(self) -> None:
        link = self._link
        assert link is not None
        stepped_down = False
        try:
            if not link.connected:
                if self.leading:  # the lock went with the connection: another may hold it now
                    log.error("%s lost its database connection: it stops leading", self._name)
                    await self._step_down()
                    stepped_down = True
                await link.connect(self._notified)
                if self._connected_once:
                    for job in self._reconnected:
                        await job()
                self._connected_once = True
            if self.leading:
                await link.check()
            elif not stepped_down and await link.try_lock():  # the others get a round to take it first
                self._lead()
        except Exception as exc:
            # A lost connection (LinkError), or a driver left mid-operation by one (asyncpg's
            # InternalClientError), or a reconnect job's fault: start again on a new connection.
            if self.leading:
                log.error("%s lost its database connection (%r): it stops leading", self._name, exc)
                await self._step_down()
            elif isinstance(exc, LinkError):
                log.warning("%s cannot reach the database for the election: %s", self._name, exc)
            else:
                log.exception("leader election round failed")
            await link.close()

    def _notified(self, channel: str, payload: str) -> None:
        for listener in self._listeners.get(channel, ()):
            try:
                listener(payload)
            except Exception:
                log.exception("a listener of %s failed", channel)

    def _lead(self) -> None:
        log.info("%s leads: it runs the planning loop and the once-only jobs", self._name)
        self.leading = True
        self._running = [asyncio.create_task(_logged(name, job), name=name) for name, job in self._jobs]

    async def _step_down(self) -> None:
        """Stop the jobs and wait until they have ended (a job may take a moment: the planning loop
        stops its solver process)."""
        self.leading = False
        running = self._running
        for task in running:
            if not task.cancelling():  # a second cancel would cut its clean-up short
                task.cancel()
        if running:
            # asyncio.wait, not `await task` under suppress(CancelledError): that would swallow a
            # cancellation of the caller too (the election, stopped while it stepped down, then
            # ran on and stop() waited for it forever). Cancelled here, the tasks stay listed, so
            # stop() still waits for them.
            await asyncio.wait(running)
        self._running = [task for task in self._running if not task.done()]


async def _logged(name: str, job: Job) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except Exception:  # a job that ends with an error is logged; the others go on
        log.exception("leader job %s failed", name)
