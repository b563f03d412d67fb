"""The report writer's group commits (vtn/services/report_writer.py) around a shutdown."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from vtn.db import tables
from vtn.db.uow import Sessions
from vtn.services.report_writer import ReportWriter

from .conftest import T0, add_ven

pytestmark = pytest.mark.db_backends("sqlite")


async def test_stop_waits_for_the_batch_being_written(sessions: Sessions) -> None:
    """A shutdown while a batch is mid-insert answers its requests and keeps its rows (it used to
    cancel the insert: the reports were lost and the VEN never got its reply)."""
    ven = await add_ven(sessions, "v1")
    writer = ReportWriter(sessions)
    await writer.start()
    rows = [
        {"ven_id": ven.ven_id, "report_request_id": "rr-1", "report_name": "TELEMETRY_USAGE",
         "r_id": f"meter-{i}", "dtstart": T0, "duration_seconds": 900, "value": float(i)}
        for i in range(200)
    ]  # fmt: skip
    write = asyncio.create_task(writer.write(rows))
    while not writer._writing:  # the batch is taken off the queue: the insert has begun
        await asyncio.sleep(0)
    await writer.stop()
    assert write.done() and write.exception() is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(tables.ReportValue)) == 200
