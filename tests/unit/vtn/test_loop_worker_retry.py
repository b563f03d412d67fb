"""The planning loop's worker outlives a database failure when it was woken with nothing of its own.

Found in a 20,000-VEN load run: a notified (stored) re-plan request woke the worker, reading the
stored requests found the pool exhausted, and with no local reason to retry the worker fell
through to the run record it never got (UnboundLocalError): the leader's planning loop ended.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from aggregator.ports import NullNotifier
from vtn.portfolio import loop as loop_module
from vtn.portfolio.loop import PortfolioLoop
from vtn.settings import VtnSettings


class FlakyState:
    """Stored re-plan requests whose first read fails as an exhausted database would."""

    def __init__(self) -> None:
        self.reads = 0

    async def pending_replans(self) -> list[Any]:
        self.reads += 1
        if self.reads == 1:
            raise OperationalError("SELECT replan_requests", {}, Exception("the database is away"))
        return []

    async def finish_replans(self, ids: list[int], run_id: int | None, at: datetime) -> None:
        raise AssertionError("nothing was run")


async def test_a_failed_read_with_no_reason_of_its_own_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_module, "RETRY_PAUSE_S", 0.01)
    settings = VtnSettings.model_validate({"db_url": f"sqlite:///{tmp_path / 'vtn.db'}"})
    loop = PortfolioLoop(None, settings, time.time, NullNotifier())  # type: ignore[arg-type]
    state = FlakyState()
    loop.state = state  # type: ignore[assignment]
    worker = asyncio.create_task(loop._worker())
    try:
        loop._wake.set()  # as a notified stored request wakes it: no reason of its own
        for _ in range(200):
            if state.reads >= 2 or worker.done():
                break
            await asyncio.sleep(0.01)
        assert not worker.done(), worker.exception() if worker.done() else None
        assert state.reads == 2, "the stored requests are read again after the failure"
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
