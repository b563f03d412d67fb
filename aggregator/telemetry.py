"""A VEN's stored telemetry: the values of its oadrUpdateReports (and of its OpenADR 3.1
reports), for operators and the loop; several VENs' at once for the portfolio's view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.errors import InvalidInput, NotFound
from aggregator.records import ReportValueRecord
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
    _check_window(since, until)
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        values = await uow.reports.values(ven_id, since, until)
    return [_point(v) for v in values]


def _point(v: ReportValueRecord) -> TelemetryPoint:
    return TelemetryPoint(v.report_request_id, v.report_name, v.r_id, v.dtstart, v.duration_seconds, v.value)


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for field, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(field, "must carry a timezone")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until", "must not be before since")


MAX_VENS_PER_QUERY = 50  # one query's VENs: a page of a portfolio (and a URL that fits 8 KiB)


@dataclass(frozen=True, slots=True)
class VenTelemetryPoint:
    ven_id: str
    point: TelemetryPoint


async def query_vens_telemetry(
    uow: UnitOfWork, ven_ids: Sequence[str], since: datetime | None, until: datetime | None
) -> list[VenTelemetryPoint]:
    """`query_telemetry` for several VENs in one transaction (whichever protocol each reports
    over), ordered by time then venID. NotFound naming the first unknown VEN; InvalidInput
    ('ven_ids') for none or more than MAX_VENS_PER_QUERY."""
    ids = list(dict.fromkeys(ven_ids))
    if not 1 <= len(ids) <= MAX_VENS_PER_QUERY:
        raise InvalidInput("ven_ids", f"name 1 to {MAX_VENS_PER_QUERY} VENs")
    _check_window(since, until)
    out: list[VenTelemetryPoint] = []
    async with uow:
        known = await uow.vens.existing_ids(ids)
        for ven_id in ids:
            if ven_id not in known:
                raise NotFound("VEN", ven_id)
            out += [
                VenTelemetryPoint(ven_id, _point(v)) for v in await uow.reports.values(ven_id, since, until)
            ]
    return sorted(out, key=lambda p: (p.point.dtstart, p.ven_id, p.point.r_id))
