"""A PV array's AC power per 15-minute slot from a GHI forecast, with pvlib (pure: no I/O).

The chain is pvlib's own, step by step: the sun's position at each slot's midpoint
(`pvlib.solarposition`), Erbs' decomposition of GHI into DNI and DHI (`pvlib.irradiance.erbs`),
the irradiance on the array's plane (`pvlib.irradiance.get_total_irradiance`, Hay-Davies sky
diffuse), the cell temperature (`pvlib.temperature.sapm_cell`, roof mounted) when the air
temperature is known, else 25 °C, and the PVWatts DC and inverter models
(`pvlib.pvsystem.pvwatts_dc`, `pvlib.inverter.pvwatts`).

Conventions (pvlib's): azimuth in degrees clockwise from north (180 = south), tilt from the
horizontal. Power is production, positive [kW]; slots are labelled by their start, UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# pvlib and pandas are imported where they are used: the VTN's forecast needs them (the `server`
# extra), a home gateway installing flexmodel with `.[ven]` does not (.ci/run checks both).

SLOT = timedelta(minutes=15)
# PVWatts' defaults (NREL's PVWatts v5 manual): -0.37 %/°C for standard modules; the nominal
# inverter efficiency. The inverter is sized at the array's kWp (DC/AC ratio 1: no clipping to guess).
GAMMA_PDC_PER_C = -0.0037
ETA_INVERTER = 0.96
# Roof-mounted modules run hotter than open-rack ones; a home's array is on a roof.
CELL_TEMPERATURE_MODEL = ("sapm", "close_mount_glass_glass")
WIND_SPEED_M_PER_S = 1.0  # the forecast carries no wind: a calm day's value (pvlib's own default)
EARTH_RADIUS_KM = 6371.0


class SolarInputError(ValueError):
    """The forecast does not cover the slots asked for, or its grid is not one we can split."""


@dataclass(frozen=True, slots=True)
class PvArray:
    """A site's PV array as its installer describes it."""

    latitude_deg: float
    longitude_deg: float
    peak_power_kw: float  # DC nameplate [kWp]
    tilt_deg: float  # 0 = flat, 90 = vertical
    azimuth_deg: float  # clockwise from north: 180 = facing south
    losses_percent: float = 14.0  # wiring, soiling, mismatch, ... (PVWatts' default ~14 %)


@dataclass(frozen=True, slots=True)
class IrradianceForecast:
    """Global horizontal irradiance [W/m²] (and air temperature [°C]) per interval from `start`,
    each the interval's mean; `start` on a quarter hour, the resolution a divisor or a multiple of
    15 minutes."""

    start: datetime
    resolution: timedelta
    ghi_w_per_m2: tuple[float, ...]
    temp_air_c: tuple[float, ...] | None = None

    @property
    def end(self) -> datetime:
        return self.start + self.resolution * len(self.ghi_w_per_m2)


def distance_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle (haversine) distance between two points [km]."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _midpoints(start: datetime, slots: int) -> pd.DatetimeIndex:
    import pandas as pd

    first = pd.Timestamp(start.astimezone(UTC)) + pd.Timedelta(SLOT / 2)
    return pd.date_range(first, periods=slots, freq=pd.Timedelta(SLOT))


def _quarters(array: PvArray, forecast: IrradianceForecast) -> tuple[np.ndarray, np.ndarray | None]:
    """The forecast on the 15-minute grid from its start: finer intervals averaged; a coarser
    interval's mean GHI spread over its quarters in proportion to clear-sky GHI (Haurwitz), which
    keeps the interval's energy and puts none before sunrise or after sunset."""
    import pvlib

    ghi = np.asarray(forecast.ghi_w_per_m2, dtype=float)
    temp = None if forecast.temp_air_c is None else np.asarray(forecast.temp_air_c, dtype=float)
    step = forecast.resolution
    if step <= SLOT:
        per = SLOT // step
        if SLOT % step or len(ghi) % per:
            raise SolarInputError("the forecast's intervals do not fill whole 15-minute slots")
        ghi = ghi.reshape(-1, per).mean(axis=1)
        temp = None if temp is None else temp.reshape(-1, per).mean(axis=1)
        return ghi, temp
    if step % SLOT:
        raise SolarInputError(f"a resolution of {step} is not a multiple of 15 minutes")
    per = step // SLOT
    times = _midpoints(forecast.start, len(ghi) * per)
    zenith = pvlib.solarposition.get_solarposition(times, array.latitude_deg, array.longitude_deg)
    clear = pvlib.clearsky.haurwitz(zenith["apparent_zenith"])["ghi"].to_numpy().reshape(-1, per)
    means = clear.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(means > 0, clear / means, 0.0)
    spread = (shares * ghi[:, None]).reshape(-1)
    return spread, None if temp is None else np.repeat(temp, per)


def pv_power_kw(
    array: PvArray, forecast: IrradianceForecast, start: datetime, slots: int
) -> tuple[float, ...]:
    """The array's AC power [kW] per 15-minute slot from `start` (a slot of the forecast's
    15-minute grid), `slots` of them, all inside the forecast."""
    offset = (start - forecast.start) / SLOT
    if offset != int(offset) or offset < 0 or start + slots * SLOT > forecast.end:
        raise SolarInputError(
            f"the forecast ({forecast.start.isoformat()} to {forecast.end.isoformat()}) does not "
            f"hold {slots} quarter-hour slots from {start.isoformat()}"
        )
    ghi_q, temp_q = _quarters(array, forecast)
    window = slice(int(offset), int(offset) + slots)
    return plane_power_kw(array, start, ghi_q[window], None if temp_q is None else temp_q[window])


def plane_power_kw(
    array: PvArray,
    start: datetime,
    ghi_w_per_m2: Sequence[float] | np.ndarray,
    temp_air_c: Sequence[float] | np.ndarray | None = None,
) -> tuple[float, ...]:
    """AC power [kW] per 15-minute slot from `start`, given each slot's mean GHI [W/m²]."""
    import pandas as pd
    import pvlib

    times = _midpoints(start, len(ghi_w_per_m2))
    ghi = pd.Series(np.asarray(ghi_w_per_m2, dtype=float), index=times).clip(lower=0.0)
    sun = pvlib.solarposition.get_solarposition(times, array.latitude_deg, array.longitude_deg)
    parts = pvlib.irradiance.erbs(ghi, sun["zenith"], times)
    poa = pvlib.irradiance.get_total_irradiance(
        array.tilt_deg,
        array.azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        dni=parts["dni"],
        ghi=ghi,
        dhi=parts["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        model="haydavies",
    )
    # With the sun below the horizon the transposition has nothing to transpose (NaN), and a
    # forecast's GHI then is twilight or an interpolation artefact: no power.
    poa_global = poa["poa_global"].fillna(0.0).clip(lower=0.0).where(sun["apparent_elevation"] > 0, 0.0)
    if temp_air_c is None:
        temp_cell: pd.Series | float = 25.0
    else:
        temp_air = pd.Series(np.asarray(temp_air_c, dtype=float), index=times)
        family, mounting = CELL_TEMPERATURE_MODEL
        model = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS[family][mounting]
        temp_cell = pvlib.temperature.sapm_cell(poa_global, temp_air, WIND_SPEED_M_PER_S, **model)
    pdc0_w = array.peak_power_kw * 1000.0
    dc_w = pvlib.pvsystem.pvwatts_dc(poa_global, temp_cell, pdc0_w, GAMMA_PDC_PER_C)
    dc_w = dc_w * (1.0 - array.losses_percent / 100.0)
    ac_w = pvlib.inverter.pvwatts(dc_w, pdc0_w / ETA_INVERTER, eta_inv_nom=ETA_INVERTER)
    ac_kw = np.clip(np.nan_to_num(np.asarray(ac_w, dtype=float)), 0.0, None) / 1000.0
    return tuple(round(float(v), 4) for v in ac_kw)


def clear_sky_power_kw(array: PvArray, start: datetime, slots: int) -> tuple[float, ...]:
    """AC power [kW] per 15-minute slot from `start` under a cloudless sky: Haurwitz' clear-sky
    GHI (from the sun's zenith alone: no turbidity table to read) at 25 °C cells. The reference
    a site's calibration and its forecast without weather are built on (flexmodel/forecast/pv.py)."""
    import pvlib

    times = _midpoints(start, slots)
    zenith = pvlib.solarposition.get_solarposition(times, array.latitude_deg, array.longitude_deg)
    ghi = pvlib.clearsky.haurwitz(zenith["apparent_zenith"])["ghi"].to_numpy()
    return plane_power_kw(array, start, ghi)
