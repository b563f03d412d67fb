"""The solar forecast's routes: a site's PV array, the regions' irradiance forecasts, and the
PV forecast the household's app shows (aggregator/solar_forecast.py, docs/customer-api.md).

A customer token reaches its own site only (another is 404, like a missing one); an operator
every site. Irradiance forecasts come from the market integration (`market` or `operator`).
"""

from __future__ import annotations

from typing import Any

from aggregator import solar_forecast as sf
from aggregator.solar_records import IrradianceRecord
from flexmodel.solar import PvArray
from vtn.api import solar_schemas as ss
from vtn.api.customer import HOUSEHOLD
from vtn.api.endpoints import Call
from vtn.api.portfolio import MARKET
from vtn.api.routes import ROUTES, own_site
from vtn.db.uow import UnitOfWork


@ROUTES.route(
    "PUT", "/sites/{site_id}/pv", summary="The site's PV array, for the pvlib forecast", roles=HOUSEHOLD,
    body=ss.PvIn, response=ss.PvOut, errors=(404,),
)  # fmt: skip
async def put_pv(call: Call[ss.PvIn, None]) -> Any:
    b = call.body
    array = PvArray(b.latitude, b.longitude, b.peak_power_kw, b.tilt_deg, b.azimuth_deg, b.losses_percent)
    record = await sf.put_pv(UnitOfWork(call.sessions), call.path["site_id"], own_site(call), array, call.now)
    return ss.PvOut(
        site_id=record.site_id,
        latitude=record.latitude_deg,
        longitude=record.longitude_deg,
        peak_power_kw=record.peak_power_kw,
        tilt_deg=record.tilt_deg,
        azimuth_deg=record.azimuth_deg,
        losses_percent=record.losses_percent,
        updated_at=record.updated_at,
    )


@ROUTES.route(
    "PUT", "/weather/irradiance", summary="A point's irradiance forecast (replaces its previous one)",
    roles=MARKET, body=ss.IrradianceIn, response=ss.IrradianceOut,
)  # fmt: skip
async def put_irradiance(call: Call[ss.IrradianceIn, None]) -> Any:
    """Sites within 50 km of the point (the nearest point's forecast wins) get pvlib forecasts."""
    b = call.body
    record = await sf.put_irradiance(
        UnitOfWork(call.sessions),
        IrradianceRecord(
            latitude_deg=b.latitude,
            longitude_deg=b.longitude,
            start=b.start,
            resolution_minutes=b.resolution_minutes,
            ghi_w_per_m2=tuple(b.ghi_w_per_m2),
            temp_air_c=None if b.temp_air_c is None else tuple(b.temp_air_c),
            received_at=call.now,
        ),
    )
    return ss.IrradianceOut(
        latitude=record.latitude_deg,
        longitude=record.longitude_deg,
        start=record.start,
        end=sf.irradiance_forecast(record).end,
        resolution_minutes=record.resolution_minutes,
        received_at=record.received_at,
    )


@ROUTES.route(
    "GET", "/sites/{site_id}/forecast/solar", summary="The PV forecast for the next 36 h",
    roles=HOUSEHOLD, query=ss.SolarQuery, response=ss.SolarForecastOut, errors=(404, 409),
)  # fmt: skip
async def get_solar_forecast(call: Call[None, ss.SolarQuery]) -> Any:
    """15-minute slots from the one under way: pvlib when the site's PV array and a near
    irradiance forecast allow, else the home's own; `?source=` asks for one (409 if it cannot)."""
    forecast = await sf.solar_forecast(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.now, call.query.source
    )
    return ss.SolarForecastOut.model_validate(forecast)
