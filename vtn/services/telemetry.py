"""Stored report values (oadrUpdateReport)."""

from __future__ import annotations

from datetime import datetime

from vtn.db.uow import Sessions, UnitOfWork
from vtn.errors import InvalidInput, NotFound
from vtn.services.types import TelemetryPoint


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
        values = await uow.reports.values(ven_id, since, until)
    return [
        TelemetryPoint(v.report_request_id, v.report_name, v.r_id, v.dtstart, v.duration_seconds, v.value)
        for v in values
    ]
