"""A site's PV forecast for the customer app: the next 36 h in 15-minute slots, and its source.

Two sources. "pvlib": the site's PV array (PUT /sites/{site_id}/pv) and the irradiance forecast
of the nearest point within MAX_DISTANCE_KM (PUT /weather/irradiance, from the market
integration) through flexmodel/solar.py. "home": the PV forecast in the home's latest
flexibility snapshot (aggregator/site.py), as far as it reaches. Without a wish, pvlib when it
covers the slot under way (a model of the array under a weather forecast beats nothing, and the
home's agent may have no forecast of its own but a flat guess), else the home's; neither: 409
naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aggregator.errors import Conflict
from aggregator.site import NoFlexibilityYet, site_flexibility
from aggregator.sites import site_ven
from aggregator.solar_records import IrradianceRecord, PvParametersRecord
from aggregator.uow import UnitOfWork
from flexmodel.energy_counter import floor_to
from flexmodel.solar import (
    SLOT,
    IrradianceForecast,
    PvArray,
    SolarInputError,
    distance_km,
    pv_power_kw,
)

HORIZON_SLOTS = 144  # 36 h of 15-minute slots
# A forecast for a point farther than this is another weather: 50 km is about the grid spacing of
# the coarser numerical weather models and the size of a Belgian province.
MAX_DISTANCE_KM = 50.0


class SolarSource(StrEnum):
    HOME = "home"
    PVLIB = "pvlib"


class SourceUnavailable(Conflict):
    """The source asked for (or every source) cannot give a forecast now; the message says why."""


@dataclass(frozen=True, slots=True)
class SolarSlot:
    start: datetime
    pv_kw: float  # mean production over the slot, positive [kW]


@dataclass(frozen=True, slots=True)
class SolarForecast:
    site_id: str
    source: SolarSource
    issued_at: datetime  # when the home's snapshot or the irradiance forecast arrived
    until: datetime  # the end of the last slot: as far as the source reaches (≤ 36 h)
    slots: tuple[SolarSlot, ...]
    distance_km: float | None = None  # pvlib: from the site to the irradiance forecast's point


async def put_pv(
    uow: UnitOfWork, site_id: str, own_site: str | None, array: PvArray, now: datetime
) -> PvParametersRecord:
    """Store the site's PV array (values checked at the edge); NotFound as for any site route."""
    record = PvParametersRecord(
        site_id=site_id,
        latitude_deg=array.latitude_deg,
        longitude_deg=array.longitude_deg,
        peak_power_kw=array.peak_power_kw,
        tilt_deg=array.tilt_deg,
        azimuth_deg=array.azimuth_deg,
        losses_percent=array.losses_percent,
        updated_at=now,
    )
    async with uow:
        await site_ven(uow, site_id, own_site)
        await uow.solar.put_pv(record)
        await uow.commit()
    return record


async def put_irradiance(uow: UnitOfWork, forecast: IrradianceRecord) -> IrradianceRecord:
    """Store a point's irradiance forecast; it replaces that point's previous one."""
    async with uow:
        await uow.solar.put_irradiance(forecast)
        await uow.commit()
    return forecast


def pv_array(pv: PvParametersRecord) -> PvArray:
    """The site's stored PV parameters as flexmodel's array."""
    return PvArray(
        pv.latitude_deg, pv.longitude_deg, pv.peak_power_kw, pv.tilt_deg, pv.azimuth_deg, pv.losses_percent
    )


def irradiance_forecast(record: IrradianceRecord) -> IrradianceForecast:
    """The stored forecast as flexmodel's pvlib chain takes it (its `end` included)."""
    return IrradianceForecast(
        record.start, timedelta(minutes=record.resolution_minutes), record.ghi_w_per_m2, record.temp_air_c
    )


def _slots(start: datetime, values: list[float]) -> tuple[SolarSlot, ...]:
    return tuple(SolarSlot(start + i * SLOT, v) for i, v in enumerate(values))


def _from_pvlib(
    site_id: str,
    pv: PvParametersRecord | None,
    forecasts: list[IrradianceRecord],
    now: datetime,
) -> SolarForecast:
    if pv is None:
        raise SourceUnavailable(f"site {site_id!r} has no PV parameters (PUT /sites/{site_id}/pv)")
    nearest = min(
        (
            (distance_km(pv.latitude_deg, pv.longitude_deg, f.latitude_deg, f.longitude_deg), f)
            for f in forecasts
        ),
        key=lambda found: found[0],
        default=None,
    )
    if nearest is None or nearest[0] > MAX_DISTANCE_KM:
        raise SourceUnavailable(
            f"no irradiance forecast within {MAX_DISTANCE_KM:g} km of site {site_id!r} "
            "(PUT /weather/irradiance)"
        )
    distance, record = nearest
    forecast = irradiance_forecast(record)
    start = floor_to(now, SLOT)
    if not forecast.start <= start < forecast.end:
        raise SourceUnavailable(
            f"the nearest irradiance forecast ({distance:.0f} km) covers {forecast.start.isoformat()} "
            f"to {forecast.end.isoformat()}, not the slot under way ({start.isoformat()})"
        )
    slots = min(HORIZON_SLOTS, int((forecast.end - start) / SLOT))
    try:
        power = list(pv_power_kw(pv_array(pv), forecast, start, slots))
    except SolarInputError as exc:
        raise SourceUnavailable(f"the nearest irradiance forecast is unusable: {exc}") from exc
    return SolarForecast(
        site_id, SolarSource.PVLIB, record.received_at, start + slots * SLOT, _slots(start, power),
        round(distance, 1),
    )  # fmt: skip


def _quarters(values: list[float], resolution_minutes: int) -> list[float]:
    """A snapshot's series on the 15-minute grid: a coarser slot repeated, finer ones averaged."""
    if resolution_minutes % 15 == 0:
        return [v for v in values for _ in range(resolution_minutes // 15)]
    if 15 % resolution_minutes == 0:
        per = 15 // resolution_minutes
        return [sum(values[i : i + per]) / per for i in range(0, len(values) - per + 1, per)]
    raise SourceUnavailable(
        f"the home's forecast has {resolution_minutes}-minute slots, which do not fit 15-minute ones"
    )


async def _from_home(uow: UnitOfWork, site_id: str, ven_id: str, now: datetime) -> SolarForecast:
    try:
        flex = await site_flexibility(uow, ven_id, now, site_id)
    except NoFlexibilityYet as exc:
        raise SourceUnavailable(f"the home has sent no usable forecast: {exc}") from exc
    pv = flex.site.get("pv")
    if not pv or not pv.get("forecast_kw"):
        raise SourceUnavailable("the home's latest flexibility report has no PV forecast")
    quarters = _quarters([float(v) for v in pv["forecast_kw"]], flex.resolution_minutes)
    # The snapshot's grid starts at its slot under way; a coarse slot may hold earlier quarters.
    skip = max(0, int((floor_to(now, SLOT) - flex.start) / SLOT))
    start = flex.start + skip * SLOT
    values = quarters[skip : skip + HORIZON_SLOTS]
    if not values:
        raise SourceUnavailable("the home's PV forecast ends before the slot under way")
    return SolarForecast(
        site_id, SolarSource.HOME, flex.received_at, start + len(values) * SLOT, _slots(start, values)
    )


async def solar_forecast(
    uow: UnitOfWork,
    site_id: str,
    own_site: str | None,
    now: datetime,
    wanted: SolarSource | None = None,
) -> SolarForecast:
    """The site's PV forecast from the slot under way, ≤ 36 h. NotFound as for any site route;
    SourceUnavailable (409) when the wanted source, or without a wish both, cannot give one."""
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        # pvlib's inputs only when it is to be tried, and every point's forecast only for an array
        pv = await uow.solar.pv_of(site_id) if wanted != SolarSource.HOME else None
        forecasts = await uow.solar.irradiance_forecasts() if pv is not None else []
    reasons: list[str] = []
    if wanted in (None, SolarSource.PVLIB):
        try:
            return _from_pvlib(site_id, pv, forecasts, now)
        except SourceUnavailable as exc:
            if wanted is not None:
                raise
            reasons.append(f"pvlib: {exc}")
    try:
        return await _from_home(uow, site_id, ven.ven_id, now)
    except SourceUnavailable as exc:
        if wanted is not None:
            raise
        reasons.append(f"home: {exc}")
    raise SourceUnavailable(f"no solar forecast for site {site_id!r}: " + "; ".join(reasons))
