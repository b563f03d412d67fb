"""A stop of the planning loop lets a round's database work end, and does not wait for a solve.

Cancelled mid-query, a round left SQLAlchemy closing an aiosqlite connection whose close never
answered: in CI a test's event loop then hung 300 s at its end (a household's "charging stop"
had asked for a re-plan just before the app stopped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.ports import NullNotifier
from vtn.portfolio.loop import PortfolioLoop
from vtn.settings import VtnSettings


class SlowState:
    """Stored re-plan requests whose read waits until the test lets it end."""

    def __init__(self, requests: list[Any]) -> None:
        self.requests = requests
        self.reading = asyncio.Event()
        self.release = asyncio.Event()
        self.reads_ended = 0

    async def pending_replans(self) -> list[Any]:
        self.reading.set()
        await self.release.wait()
        self.reads_ended += 1
        return self.requests

    async def finish_replans(self, ids: list[int], run_id: int | None, at: datetime) -> None:
        raise AssertionError("no run finishes here")


def _loop(tmp_path: Path, state: SlowState) -> PortfolioLoop:
    settings = VtnSettings.model_validate(
        {"db_url": f"sqlite:///{tmp_path / 'vtn.db'}", "portfolio_loop": False}
    )
    loop = PortfolioLoop(None, settings, time.time, NullNotifier())  # type: ignore[arg-type]
    loop.state = state  # type: ignore[assignment]
    return loop


async def test_a_cancelled_worker_finishes_the_read_it_is_in(tmp_path: Path) -> None:
    state = SlowState([])
    loop = _loop(tmp_path, state)
    worker = asyncio.create_task(loop._worker())
    loop._wake.set()
    await state.reading.wait()
    worker.cancel()
    await asyncio.sleep(0.05)
    assert not worker.done(), "the worker ended with its query still in flight"
    state.release.set()
    await asyncio.wait({worker})
    assert worker.cancelled() and state.reads_ended == 1


async def test_a_stop_during_a_solve_ends_the_solver_and_logs_no_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = SlowState([])
    state.release.set()
    loop = _loop(tmp_path, state)
    solving = asyncio.Event()

    async def resume() -> None:
        pass

    async def run_locked(trigger: str) -> Any:
        solving.set()
        return await loop._execute(time.sleep, 600)  # a solve far longer than the test's bound

    loop._resume = resume  # type: ignore[method-assign]
    loop._run_locked = run_locked  # type: ignore[method-assign]
    await loop.start()
    loop.trigger("a household's change")
    await solving.wait()
    with caplog.at_level(logging.INFO, logger="vtn.portfolio.loop"):
        await asyncio.wait_for(loop.stop(), 60)
    assert "planning run stopped with the loop" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
