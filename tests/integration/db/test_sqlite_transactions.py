"""A SQLite writer waits for another's long transaction instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vtn.db.engine import create_engine

HOLD_S = 6.0  # longer than the 5 s busy timeout that let the loaded demo's polls fail


async def test_a_writer_waits_for_a_transaction_that_holds_the_lock_for_seconds(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'vtn.db'}")
    try:
        async with engine.begin() as setup:
            await setup.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
            await setup.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")

        async def slow_writer() -> None:
            async with engine.begin() as slow:
                await slow.exec_driver_sql("UPDATE counter SET n = n + 1")
                await asyncio.sleep(HOLD_S)  # holds the write lock, as a starved transaction does

        holder = asyncio.create_task(slow_writer())
        await asyncio.sleep(0.5)
        async with engine.begin() as waiting:
            await waiting.exec_driver_sql("UPDATE counter SET n = n + 10")
        await holder

        async with engine.connect() as check:
            assert (await check.exec_driver_sql("SELECT n FROM counter")).scalar_one() == 11
    finally:
        await engine.dispose()
