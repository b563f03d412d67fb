"""Stored report values (oadrUpdateReport)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.tables import as_utc
from vtn.db.uow import UnitOfWork
from vtn.errors import InvalidInput, NotFound
from vtn.services.types import TelemetryPoint

Sessions = async_sessionmaker[AsyncSession]


async def query_telemetry(
    sessions: Sessions, ven_id: str, since: datetime | None, until: datetime | None
) -> list[TelemetryPoint]:
    """Values with since <= dtstart < until, ordered by time. NotFound if no such VEN."""
    for field, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(field, "must carry a timezone")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until", "must not be before since")
    async with UnitOfWork(sessions) as uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        rows = await uow.reports.values(ven_id, since, until)
    points = []
    for row in rows:
        dtstart = as_utc(row.dtstart)
        assert dtstart is not None
        points.append(
            TelemetryPoint(
                row.report_request_id, row.report_name, row.r_id, dtstart, row.duration_seconds, row.value
            )
        )
    return points
