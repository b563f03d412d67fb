"""Scratch PostgreSQL databases for the benchmarks (vtn/db/admin.py)."""

from __future__ import annotations

import os

import pytest

from vtn.db.admin import ServerUnreachable, scratch_postgres_database
from vtn.db.engine import open_database
from vtn.db.errors import DatabaseError
from vtn.db.uow import UnitOfWork

pytestmark = pytest.mark.postgres
# the server tests/conftest.py uses
PG_ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _answers(url: str) -> bool:
    async with open_database(url) as sessions:
        try:
            async with UnitOfWork(sessions) as uow:
                await uow.ping()
        except DatabaseError:
            return False
    return True


async def test_a_scratch_database_exists_while_used_and_is_dropped_after() -> None:
    async with scratch_postgres_database(PG_ADMIN_URL, prefix="flexvpp_t_scratch_") as url:
        assert "/flexvpp_t_scratch_" in url
        assert await _answers(url)
    assert not await _answers(url)


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    unreachable = "postgresql://postgres:secret@127.0.0.1:1/test"
    with pytest.raises(ServerUnreachable, match=r"127\.0\.0\.1:1") as raised:
        async with scratch_postgres_database(unreachable):
            pass
    assert "secret" not in str(raised.value)
