"""Contract tests of the repositories and the unit of work (vtn/db), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from aggregator.records import VenRecord
from vtn.db.engine import open_database
from vtn.db.uow import Sessions, UnitOfWork

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    async with open_database(db_url) as opened:
        yield opened


async def add_ven(sessions: Sessions, ven_id: str, **fields: object) -> VenRecord:
    """A stored VEN named `name-{ven_id}` at site `site-{ven_id}`."""
    ven = VenRecord(ven_id, f"name-{ven_id}", f"site-{ven_id}", T0, **fields)  # type: ignore[arg-type]
    async with UnitOfWork(sessions) as uow:
        uow.vens.add(ven)
        await uow.commit()
    return ven
