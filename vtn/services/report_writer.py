"""Group commit for oadrUpdateReport values: many VENs' reports in one INSERT and one COMMIT.

A handler hands its rows to the writer and waits; the writer inserts everything that queued up
while the previous batch was being written, commits, and only then lets the handlers answer, so
a report acknowledged to a VEN is stored (durability is unchanged, the cost per report drops
from three round trips and a commit to a share of one). When a batch fails, its messages are
written one by one, so a bad message fails alone; a batch that lost its connection (the
database restarted) is tried once more on a fresh one.

Which VEN a reportRequestID belongs to, its report name and the rIDs it asked for are
remembered (a stored request never changes), so a report needs no read either.

It is the VTN's ReportSink (aggregator/ports.py): vtn/app.py opens one per process, and the
OpenADR edge hands it to aggregator.reports.store_report_values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aggregator.report_value_rows import RequestOwner, dedupe, requested_r_ids
from vtn.db.errors import DriverError
from vtn.db.uow import Sessions, UnitOfWork
from vtn.services.uninterrupted import uninterrupted

log = logging.getLogger(__name__)

MAX_BATCH_ROWS = 2000  # 8 parameters a row: well under PostgreSQL's and SQLite's limits
MAX_OWNERS = 200_000
MAX_LOOKUP = 1000  # reportRequestIDs per owner query


class ReportWriter:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._queue: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._writing = False  # a batch is taken off the queue and not yet committed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._owners: dict[str, RequestOwner] = {}  # by reportRequestID
        # One frozenset per distinct rID list: VENs of one kind ask for the same rIDs.
        self._r_id_sets: dict[frozenset[str], frozenset[str]] = {}
        self._lookups: dict[str, asyncio.Future[RequestOwner | None]] = {}
        self._resolver: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Remember the owners of the live report requests, then take reports."""
        await self._load_owners(None)
        self._task = asyncio.create_task(self._run(), name="report-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        # The batch being written is waited for too: cancelled mid-insert, its requests would
        # never be answered and (SQLite) its connection could keep the write lock a while.
        while self._queue or self._writing:
            self._wake.set()
            await asyncio.sleep(0.01)
        for task in (self._task, self._resolver):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- the owner of a report request -------------------------------------------------------
    async def owner(self, report_request_id: str) -> RequestOwner | None:
        """The VEN, report name and rIDs of a stored report request, or None when there is none.

        Unknown IDs are looked up together, in one query at a time: thousands of VENs sending
        their first report at once must not take every pooled connection (the fingerprint
        check and registrations need one too)."""
        known = self._owners.get(report_request_id)
        if known is not None:
            return known
        future = self._lookups.get(report_request_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._lookups[report_request_id] = future
            if self._resolver is None or self._resolver.done():
                self._resolver = asyncio.create_task(self._resolve(), name="report-owners")
        return await asyncio.shield(future)

    async def _resolve(self) -> None:
        while self._lookups:
            await asyncio.sleep(0)  # let the requests arriving now join this query
            ids = list(self._lookups)[:MAX_LOOKUP]
            try:
                # A stop cancels the resolver: the query ends first (vtn/services/uninterrupted.py).
                found = await uninterrupted(self._load_owners(ids))
            except Exception as exc:
                for report_request_id in ids:
                    future = self._lookups.pop(report_request_id)
                    if not future.done():
                        future.set_exception(exc)
                continue
            for report_request_id in ids:
                future = self._lookups.pop(report_request_id)
                if not future.done():  # not remembered when unknown: it may be created a moment later
                    future.set_result(found.get(report_request_id))

    async def _load_owners(self, ids: list[str] | None) -> dict[str, RequestOwner]:
        """Owners of `ids` (None: of every live request), remembered from now on."""
        async with UnitOfWork(self.sessions) as uow:
            rows = await uow.reports.owners(ids)
        if len(self._owners) + len(rows) > MAX_OWNERS:
            self._owners.clear()
            self._r_id_sets.clear()
        found = {
            row.report_request_id: RequestOwner(row.ven_id, row.report_name, self._shared(row.r_ids))
            for row in rows
        }
        self._owners.update(found)
        return found

    def _shared(self, r_ids: Sequence[Any]) -> frozenset[str]:
        wanted = requested_r_ids(r_ids)
        return self._r_id_sets.setdefault(wanted, wanted)

    # -- writing -----------------------------------------------------------------------------
    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Store `rows` (already stored keys are skipped); returns once they are committed."""
        if not rows:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._take()
                self._writing = True
                try:
                    await self._write_batch(batch)
                finally:
                    self._writing = False

    async def _write_batch(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[None]]]) -> None:
        try:
            await self._insert([row for rows, _ in batch for row in rows])
        except Exception:
            log.debug("a report batch failed; writing its messages one by one", exc_info=True)
            for rows, future in batch:
                try:
                    await self._insert(rows)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(None)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    def _take(self) -> list[tuple[list[dict[str, Any]], asyncio.Future[None]]]:
        taken, count = 0, 0
        for rows, _ in self._queue:
            if taken and count + len(rows) > MAX_BATCH_ROWS:
                break
            taken += 1
            count += len(rows)
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        for attempt in (1, 2):
            try:
                async with UnitOfWork(self.sessions) as uow:
                    await uow.reports.add_values(dedupe(rows))
                    await uow.commit()
                return
            except DriverError as exc:
                # A connection lost to a database restart is dropped from the pool (with every
                # other pooled one); the insert is idempotent, so it is tried once more.
                if attempt == 2 or not exc.connection_invalidated:
                    raise
