"""ReportRepository's registrations and requests (vtn/db/repos/reports.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from aggregator.records import ReportRegistrationRecord, ReportRequestOwner, ReportRequestRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven

USAGE = {"r_id": "meter.power", "report_type": "usage", "reading_type": "Direct Read", "resource_id": None,
         "units": None, "sampling": {"min_period_seconds": 60, "max_period_seconds": 900}}  # fmt: skip


def _request(request_id: str, ven_id: str, minutes: int = 0) -> ReportRequestRecord:
    return ReportRequestRecord(
        request_id, ven_id, "spec-usage", "TELEMETRY_USAGE",
        ({"r_id": "meter.power", "reading_type": "Direct Read"},), 60, 60, T0 + timedelta(minutes=minutes),
    )  # fmt: skip


async def test_an_offer_replaces_the_previous_one(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    first = ReportRegistrationRecord("v1", "spec-usage", "METADATA_TELEMETRY_USAGE", (USAGE,), T0)
    second = ReportRegistrationRecord("v1", "spec-status", "METADATA_TELEMETRY_STATUS", (), T0)
    async with UnitOfWork(sessions) as uow:
        await uow.reports.replace_registrations("v1", [first])
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.reports.registrations("v1") == [first]
        await uow.reports.replace_registrations("v1", [second])
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.reports.registrations("v1") == [second]
        assert await uow.reports.registrations("v2") == []


async def test_requests_are_acknowledged_and_cancelled_once(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await add_ven(sessions, "v2")
    async with UnitOfWork(sessions) as uow:
        for request in (_request("r1", "v1"), _request("r2", "v1", 1), _request("r3", "v2")):
            uow.reports.add_request(request)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.reports.get_request("r1") == _request("r1", "v1")
        assert await uow.reports.get_request("nope") is None
        await uow.reports.acknowledge_request("r1", T0 + timedelta(minutes=1))
        await uow.reports.acknowledge_request("r1", T0 + timedelta(minutes=2))  # the first time stays
        await uow.reports.cancel_request("r2", T0 + timedelta(minutes=3))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.reports.get_request("r1") == replace(
            _request("r1", "v1"), acknowledged_at=T0 + timedelta(minutes=1)
        )
        assert [r.report_request_id for r in await uow.reports.live_requests("v1")] == ["r1"]
        await uow.reports.cancel_live_requests("v1", T0 + timedelta(minutes=4))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.reports.live_requests("v1") == []
        cancelled = await uow.reports.get_request("r2")
        assert cancelled is not None and cancelled.cancelled_at == T0 + timedelta(minutes=3)  # kept
        live_owners = await uow.reports.owners(None)
        named = await uow.reports.owners(["r1", "r3", "nope"])
    r_ids = ({"r_id": "meter.power", "reading_type": "Direct Read"},)
    assert live_owners == [ReportRequestOwner("r3", "v2", "TELEMETRY_USAGE", r_ids)]
    assert sorted(named, key=lambda o: o.report_request_id) == [
        ReportRequestOwner("r1", "v1", "TELEMETRY_USAGE", r_ids),
        ReportRequestOwner("r3", "v2", "TELEMETRY_USAGE", r_ids),
    ]
