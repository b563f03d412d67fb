"""The solar forecast's use cases (aggregator/solar_forecast.py) on in-memory ports: which source
answers, how far each reaches, and what a 409 names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import NotFound
from aggregator.records import ReportValueRecord, VenRecord
from aggregator.solar_forecast import (
    HORIZON_SLOTS,
    SolarSource,
    SourceUnavailable,
    put_irradiance,
    put_pv,
    solar_forecast,
)
from aggregator.solar_records import IrradianceRecord, PvParametersRecord
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points
from flexmodel.solar import PvArray

T0 = datetime(2025, 6, 21, 10, tzinfo=UTC)  # a quarter hour's start, the sun up
NOW = T0 + timedelta(minutes=20)  # in the slot 10:15-10:30
SLOT = timedelta(minutes=15)
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0, registration_id="r")
PV = PvParametersRecord("site-1", 50.85, 4.35, 5.0, 35.0, 180.0, 14.0, T0)
NEAR = IrradianceRecord(50.9, 4.4, T0, 60, (600.0,) * 48, None, T0 - timedelta(hours=1))  # ~7 km
FAR = IrradianceRecord(51.9, 4.4, T0, 60, (900.0,) * 48, None, T0)  # ~117 km


def snapshot(forecast_kw: list[float], minutes: int = 15, pv: bool = True) -> list[ReportValueRecord]:
    """A flexibility report from T0 whose PV forecast is `forecast_kw` (no PV: only its length)."""
    site: dict[str, Any] = {
        "site_id": "site-1",
        "import_limit_kw": 9.2,
        "export_limit_kw": 6.0,
        "base_load_kw": [0.3] * len(forecast_kw),
    }
    if pv:
        site["pv"] = {"forecast_kw": forecast_kw, "curtailable": True}
    return [
        ReportValueRecord(
            "ven-1", "flex", FLEX_REPORT_NAME, point.r_id, interval.start,
            int(interval.duration.total_seconds()), interval.value, T0,
        )
        for point in site_to_points(site, T0, timedelta(minutes=minutes))
        for interval in point.intervals
    ]  # fmt: skip


async def test_pvlib_answers_when_the_site_has_an_array_and_a_near_forecast() -> None:
    uow = FakeUnitOfWork(vens=[VEN], pv=[PV], irradiance=[FAR, NEAR], report_values=snapshot([1.0] * 8))
    got = await solar_forecast(uow, "site-1", "site-1", NOW)
    assert got.source is SolarSource.PVLIB
    assert got.distance_km == pytest.approx(6.6, abs=0.5)  # the near point's, not the far one's
    assert got.issued_at == NEAR.received_at
    assert got.slots[0].start == T0 + SLOT  # the slot under way
    assert len(got.slots) == HORIZON_SLOTS  # the forecast reaches 48 h: cut at 36 h
    assert got.until == T0 + SLOT + 36 * timedelta(hours=1)
    assert [s.start for s in got.slots[:2]] == [T0 + SLOT, T0 + 2 * SLOT]
    assert 2.0 < got.slots[0].pv_kw < 4.5  # 600 W/m² late morning on a 5 kWp south array
    assert got.slots[60].pv_kw == 0.0  # 01:15 UTC the next night


async def test_the_home_answers_without_pv_parameters_as_far_as_it_reaches() -> None:
    uow = FakeUnitOfWork(vens=[VEN], irradiance=[NEAR], report_values=snapshot([0.5, 1.0, 1.5, 2.0]))
    got = await solar_forecast(uow, "site-1", None, NOW)
    assert got.source is SolarSource.HOME
    assert [(s.start, s.pv_kw) for s in got.slots] == [
        (T0 + SLOT, 1.0),
        (T0 + 2 * SLOT, 1.5),
        (T0 + 3 * SLOT, 2.0),
    ]
    assert got.until == T0 + 4 * SLOT
    assert got.distance_km is None


async def test_a_homes_hourly_forecast_is_given_in_quarters_from_the_one_under_way() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot([1.0, 2.0], minutes=60))
    got = await solar_forecast(uow, "site-1", None, NOW)
    assert [s.pv_kw for s in got.slots] == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert got.slots[0].start == T0 + SLOT


async def test_a_forecast_that_does_not_cover_now_leaves_it_to_the_home() -> None:
    tomorrow = IrradianceRecord(50.85, 4.35, T0 + timedelta(days=1), 60, (500.0,) * 24, None, T0)
    uow = FakeUnitOfWork(vens=[VEN], pv=[PV], irradiance=[tomorrow], report_values=snapshot([1.0] * 4))
    assert (await solar_forecast(uow, "site-1", None, NOW)).source is SolarSource.HOME
    with pytest.raises(SourceUnavailable, match="not the slot under way"):
        await solar_forecast(uow, "site-1", None, NOW, SolarSource.PVLIB)


async def test_asking_for_a_source_gives_it_or_says_why_not() -> None:
    uow = FakeUnitOfWork(vens=[VEN], pv=[PV], irradiance=[NEAR], report_values=snapshot([1.0] * 4))
    assert (await solar_forecast(uow, "site-1", None, NOW, SolarSource.HOME)).source is SolarSource.HOME
    only_far = FakeUnitOfWork(vens=[VEN], pv=[PV], irradiance=[FAR])
    with pytest.raises(SourceUnavailable, match="no irradiance forecast within 50 km"):
        await solar_forecast(only_far, "site-1", None, NOW, SolarSource.PVLIB)
    with pytest.raises(SourceUnavailable, match="the home has sent no usable forecast"):
        await solar_forecast(only_far, "site-1", None, NOW, SolarSource.HOME)


async def test_neither_source_is_a_conflict_naming_both() -> None:
    uow = FakeUnitOfWork(vens=[VEN], irradiance=[NEAR])
    with pytest.raises(SourceUnavailable) as caught:
        await solar_forecast(uow, "site-1", None, NOW)
    assert "pvlib: site 'site-1' has no PV parameters" in str(caught.value)
    assert "home: the home has sent no usable forecast" in str(caught.value)


async def test_a_home_report_without_pv_is_no_forecast() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot([1.0] * 4, pv=False))
    with pytest.raises(SourceUnavailable, match="home: the home's latest flexibility report has no PV"):
        await solar_forecast(uow, "site-1", None, NOW)


async def test_a_customer_reaches_only_its_own_site() -> None:
    uow = FakeUnitOfWork(vens=[VEN], pv=[PV], irradiance=[NEAR])
    with pytest.raises(NotFound):
        await solar_forecast(uow, "site-1", "site-2", NOW)
    with pytest.raises(NotFound):
        await put_pv(uow, "site-1", "site-2", PvArray(50.0, 4.0, 3.0, 30.0, 180.0), NOW)
    with pytest.raises(NotFound):
        await put_pv(uow, "no-such-site", None, PvArray(50.0, 4.0, 3.0, 30.0, 180.0), NOW)
    assert not uow.committed


async def test_pv_and_irradiance_are_stored_the_latest_per_point_winning() -> None:
    uow = FakeUnitOfWork(vens=[VEN])
    await put_pv(uow, "site-1", "site-1", PvArray(50.85, 4.35, 4.0, 30.0, 170.0, 10.0), NOW)
    assert uow.stored.pv["site-1"] == PvParametersRecord("site-1", 50.85, 4.35, 4.0, 30.0, 170.0, 10.0, NOW)
    await put_irradiance(uow, NEAR)
    newer = IrradianceRecord(50.9, 4.4, T0, 15, (100.0,), None, NOW)
    await put_irradiance(uow, newer)
    assert list(uow.stored.irradiance.values()) == [newer]
