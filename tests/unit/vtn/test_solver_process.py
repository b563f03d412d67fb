"""The portfolio loop's solver process: spawned by the first run, and ended by stop().

An app that never plans (a secondary worker, most tests, a VTN without homes) must not pay for a
process importing Pyomo and HiGHS; a VTN told to stop must not wait for a solve in progress
(`vtn serve --workers 2` took 30 s to exit on SIGTERM while that process was still busy).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from aggregator.ports import NullNotifier
from vtn.db.engine import create_engine
from vtn.portfolio.loop import PortfolioLoop
from vtn.settings import VtnSettings


async def test_the_solver_process_starts_with_the_first_run_and_ends_with_stop(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'vtn.db'}"
    engine = create_engine(db_url)
    settings = VtnSettings.model_validate({"db_url": db_url, "portfolio_loop": False})
    loop = PortfolioLoop(async_sessionmaker(engine), settings, time.time, NullNotifier())  # type: ignore[arg-type]
    await loop.start()
    try:
        assert loop._pool is None, "no solver process before anything is planned"

        solve = asyncio.create_task(loop._execute(time.sleep, 600))  # a long solve, in the process
        while loop._pool is None or not loop._pool._processes:  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
        processes = list(loop._pool._processes.values())  # type: ignore[attr-defined]
        assert processes and all(p.is_alive() for p in processes)
    finally:
        await loop.stop()
        await engine.dispose()
    for process in processes:
        process.join(timeout=30)  # only stops a hang: a sleeping process is not ended by waiting
    assert not any(p.is_alive() for p in processes), "stop() ended the solve in progress"
    solve.cancel()
