"""The unit of work: nothing is stored without `commit()` (cosmicpython's test_uow, async)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vtn.db.engine import open_database
from vtn.db.errors import DatabaseError
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven


async def test_leaving_without_commit_rolls_back(sessions: Sessions) -> None:
    ven = await add_ven(sessions, "v1")
    async with UnitOfWork(sessions) as uow:
        await uow.prices.add(T0, 15, [0.3], [0.1], 0.0, T0)
        await uow.vens.save(replace(ven, fingerprint="AA"))
    async with UnitOfWork(sessions) as uow:
        assert await uow.prices.latest() is None
        assert (await uow.vens.get("v1")) == ven


async def test_an_error_inside_rolls_back(sessions: Sessions) -> None:
    with pytest.raises(RuntimeError):
        async with UnitOfWork(sessions) as uow:
            await uow.prices.add(T0, 15, [0.3], [0.1], 0.0, T0)
            raise RuntimeError("the use case failed")
    async with UnitOfWork(sessions) as uow:
        assert await uow.prices.latest() is None


async def test_ping_answers_and_an_unreachable_database_raises(sessions: Sessions, db_url: str) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.ping()
    if db_url.startswith("sqlite"):
        unreachable = db_url.replace("vtn.db", "no/such/dir/vtn.db")
    else:
        unreachable = db_url.replace("127.0.0.1:5432", "127.0.0.1:1")
    async with open_database(unreachable) as unreachable_sessions:
        # What GET /health turns into a 503 (vtn/api/routes.py).
        with pytest.raises((DatabaseError, OSError)):
            async with UnitOfWork(unreachable_sessions) as uow:
                await uow.ping()
