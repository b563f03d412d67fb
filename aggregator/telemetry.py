"""A VEN's stored telemetry: the values of its oadrUpdateReports, for operators and the loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.errors import InvalidInput, NotFound
from aggregator.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    report_request_id: str
    report_name: str
    r_id: str
    dtstart: datetime
    duration_seconds: int
    value: float


async def query_telemetry(
    uow: UnitOfWork, ven_id: str, since: datetime | None, until: datetime | None
) -> list[TelemetryPoint]:
    """Values with since <= dtstart < until, ordered by time. NotFound if no such VEN."""
    for field, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(field, "must carry a timezone")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until", "must not be before since")
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        values = await uow.reports.values(ven_id, since, until)
    return [
        TelemetryPoint(v.report_request_id, v.report_name, v.r_id, v.dtstart, v.duration_seconds, v.value)
        for v in values
    ]
