"""The closed loop's repositories (vtn/db/repos/portfolio.py) and the report reads and writes
that the portfolio and site services use (vtn/db/repos/reports.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from aggregator.inputs import WindowKind
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven


async def test_the_newest_prices_and_imbalance_are_the_current_ones(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        assert await uow.prices.latest() is None and await uow.imbalance.latest() is None
        first = await uow.prices.add(T0, 15, [0.30, 0.31], [0.05, 0.06], 2.5, T0)
        second = await uow.prices.add(T0, 60, [0.2], [0.0], 0.0, T0 + timedelta(minutes=1))
        signal = await uow.imbalance.add(T0, 15, [0.5, 0.6], None, "short", T0)
        await uow.commit()
    assert second.id > first.id
    assert (first.import_eur_per_kwh, first.export_eur_per_kwh, first.capacity_eur_per_kw_month) == (
        (0.30, 0.31),
        (0.05, 0.06),
        2.5,
    )
    async with UnitOfWork(sessions) as uow:
        assert await uow.prices.latest() == second
        assert await uow.imbalance.latest() == signal
    assert signal.nominated_net_kw is None and signal.reason == "short"


async def test_requests_are_added_listed_and_cancelled(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        cap = await uow.requests.add(WindowKind.CAP, T0, T0 + timedelta(hours=1), 40.0, "peak", T0)
        floor = await uow.requests.add(
            WindowKind.FLOOR, T0, T0 + timedelta(hours=2), 5.0, "surplus", T0 + timedelta(seconds=1)
        )
        await uow.commit()
    assert cap.request_id != floor.request_id and cap.kind is WindowKind.CAP
    async with UnitOfWork(sessions) as uow:
        cancelled = await uow.requests.cancel(cap.request_id, T0 + timedelta(minutes=5))
        assert cancelled == replace(cap, cancelled_at=T0 + timedelta(minutes=5))
        assert await uow.requests.cancel("nope", T0) is None
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.requests.all() == [cancelled, floor]
        assert await uow.requests.live() == [floor]
        assert await uow.requests.get(floor.request_id) == floor


def _run(run_id: str, minutes: int, status: str, seconds: float = 1.0) -> RunRecord:
    return RunRecord(
        run_id, "t" * 80, T0 + timedelta(minutes=minutes), seconds, status, "highs", 0.0, None,
        {"scenario": {"sites": []}}, {"sites": []} if status != "error" else None, None,
    )  # fmt: skip


async def test_runs_newest_first_and_the_latest_that_planned(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        uow.runs.add(_run("r1", 0, "optimal"))
        uow.runs.add(_run("r2", 5, "optimal", seconds=0.5))
        uow.runs.add(_run("r3", 5, "optimal", seconds=2.0))  # same start, planned longer
        uow.runs.add(_run("r4", 10, "error"))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        newest = [r.run_id for r in await uow.runs.newest(3)]
        latest = await uow.runs.latest_planned()
        stored = await uow.runs.get("r1")
        assert await uow.runs.get("nope") is None
    assert newest[0] == "r4" and set(newest[1:]) == {"r2", "r3"}
    assert latest is not None and latest.run_id == "r3"
    assert stored is not None and stored.trigger == "t" * 64  # cut to the column
    assert stored == replace(_run("r1", 0, "optimal"), trigger="t" * 64)


async def test_dispatch_records_are_saved_replaced_and_removed(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await add_ven(sessions, "v2")
    first = DispatchRecord("v1", "e1", "r1", T0, 15, (1.0, 2.5), T0)
    async with UnitOfWork(sessions) as uow:
        await uow.dispatches.save([first, DispatchRecord("v2", "e2", "r1", T0, 15, (0.0,), T0)])
        await uow.commit()
    again = replace(first, run_id="r2", setpoint_kw=(3.0,), updated_at=T0 + timedelta(minutes=15))
    async with UnitOfWork(sessions) as uow:
        await uow.dispatches.save([again])
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.dispatches.of_vens(["v1", "v3"]) == {"v1": again}
        assert set(await uow.dispatches.all()) == {"v1", "v2"}
        assert await uow.dispatches.remove("v2") is not None
        assert await uow.dispatches.remove("v2") is None
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.dispatches.get("v1") == again and await uow.dispatches.get("v2") is None


def _value(
    ven_id: str, r_id: str, minutes: int, value: float, report: str = "TELEMETRY_STATUS"
) -> dict[str, object]:
    return {
        "ven_id": ven_id,
        "report_request_id": "rr-1",
        "report_name": report,
        "r_id": r_id,
        "dtstart": T0 + timedelta(minutes=minutes),
        "duration_seconds": 60,
        "value": value,
        "received_at": T0,
    }


async def test_report_values_come_back_as_records_in_utc(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    rows = [
        _value("v1", "ev1.soc", 0, 40.0),
        _value("v1", "ev1.soc", 5, 45.0),
        _value("v1", "hp.online", 1, 1.0),
        _value("v1", "ev1.energy_needed_kwh", 0, 12.0, "x-SITE_FLEXIBILITY"),
        _value("v1", "ev2Xenergy_needed_kwh", 0, 3.0, "x-SITE_FLEXIBILITY"),  # no "." before the suffix
    ]
    async with UnitOfWork(sessions) as uow:
        await uow.reports.add_values(rows)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        status = await uow.reports.values_of("v1", "TELEMETRY_STATUS")
        latest = await uow.reports.latest_values("v1", "TELEMETRY_STATUS", timedelta(days=1))
        window = await uow.reports.values("v1", T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))
        evs = await uow.reports.r_ids_ending("x-SITE_FLEXIBILITY", ".energy_needed_kwh")
        every_status = await uow.reports.values_named("TELEMETRY_STATUS")
    assert [(v.r_id, v.value) for v in status] == [("ev1.soc", 40.0), ("ev1.soc", 45.0), ("hp.online", 1.0)]
    assert all(v.dtstart.utcoffset() == timedelta(0) for v in status)
    assert [(v.r_id, v.value) for v in latest] == [("ev1.soc", 45.0), ("hp.online", 1.0)]
    assert [(v.r_id, v.dtstart) for v in window] == [("hp.online", T0 + timedelta(minutes=1))]
    assert evs == {("v1", "ev1.energy_needed_kwh")}  # "_" is not a wildcard here
    assert sorted(every_status, key=lambda v: (v.r_id, v.dtstart)) == status
