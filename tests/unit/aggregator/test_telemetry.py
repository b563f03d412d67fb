"""Querying a VEN's stored telemetry (aggregator/telemetry.py) on in-memory ports.

The REST route (GET /vens/{ven_id}/telemetry) is tested at the edge, in tests/integration/vtn_api."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import InvalidInput, NotFound
from aggregator.records import ReportValueRecord, VenRecord
from aggregator.telemetry import TelemetryPoint, query_telemetry

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
VENS = [
    VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0),
    VenRecord(ven_id="ven-2", ven_name="home 2", site_id="site-2", created_at=T0),
]


def value(ven_id: str, r_id: str, minute: int, v: float) -> ReportValueRecord:
    return ReportValueRecord(ven_id, "r1", "TELEMETRY_USAGE", r_id, T0 + minute * MINUTE, 60, v, T0)


VALUES = [
    value("ven-1", "power", 1, 2.5),
    value("ven-1", "energy", 0, 9.0),
    value("ven-1", "power", 0, 1.5),
    value("ven-2", "power", 0, 7.0),
]


async def test_values_come_in_time_order_within_the_window() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_values=VALUES)

    every = await query_telemetry(uow, "ven-1", None, None)
    window = await query_telemetry(uow, "ven-1", T0 + MINUTE, T0 + 2 * MINUTE)

    assert [(p.r_id, p.value) for p in every] == [("energy", 9.0), ("power", 1.5), ("power", 2.5)]
    assert window == [TelemetryPoint("r1", "TELEMETRY_USAGE", "power", T0 + MINUTE, 60, 2.5)]


async def test_an_unknown_ven_is_not_found() -> None:
    with pytest.raises(NotFound):
        await query_telemetry(FakeUnitOfWork(vens=VENS), "ven-x", None, None)


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (datetime(2030, 1, 1), None, "since"),
        (None, datetime(2030, 1, 1), "until"),
        (T0, T0 - MINUTE, "until"),
    ],
)
async def test_a_naive_or_reversed_window_is_invalid(
    since: datetime | None, until: datetime | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        await query_telemetry(FakeUnitOfWork(vens=VENS), "ven-1", since, until)
    assert err.value.field == field
