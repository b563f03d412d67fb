"""SolarRepository (vtn/db/repos/solar.py) on SQLite and PostgreSQL: a site's PV array and the
regions' irradiance forecasts round-trip, and a point's newer forecast replaces its older one."""

from __future__ import annotations

from datetime import timedelta

from aggregator.solar_records import IrradianceRecord, PvParametersRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0


async def test_a_sites_pv_array_round_trips_and_a_new_one_replaces_it(sessions: Sessions) -> None:
    first = PvParametersRecord("site-1", 50.85, 4.35, 5.0, 35.0, 180.0, 14.0, T0)
    second = PvParametersRecord("site-1", 50.85, 4.35, 6.5, 20.0, 200.5, 10.0, T0 + timedelta(hours=1))
    for record in (first, second):
        async with UnitOfWork(sessions) as uow:
            await uow.solar.put_pv(record)
            await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.solar.pv_of("site-1") == second
        assert await uow.solar.pv_of("site-2") is None


async def test_the_latest_forecast_of_each_point_is_kept(sessions: Sessions) -> None:
    brussels = IrradianceRecord(50.85, 4.35, T0, 60, (0.0, 120.5, 640.25), (12.0, 14.5, 18.0), T0)
    ghent = IrradianceRecord(51.05, 3.72, T0, 15, (300.0,), None, T0)
    newer = IrradianceRecord(
        50.85, 4.35, T0 + timedelta(hours=6), 30, (90.0, 80.0), None, T0 + timedelta(hours=5)
    )
    for record in (brussels, ghent, newer):
        async with UnitOfWork(sessions) as uow:
            await uow.solar.put_irradiance(record)
            await uow.commit()
    async with UnitOfWork(sessions) as uow:
        stored = await uow.solar.irradiance_forecasts()
    assert sorted(stored, key=lambda r: r.latitude_deg) == [newer, ghent]


async def test_an_uncommitted_put_is_not_kept(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.solar.put_pv(PvParametersRecord("site-9", 50.0, 4.0, 3.0, 30.0, 180.0, 14.0, T0))
    async with UnitOfWork(sessions) as uow:
        assert await uow.solar.pv_of("site-9") is None
