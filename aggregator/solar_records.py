"""What the solar forecast stores: a site's PV array and a region's irradiance forecast.

Kept apart from aggregator/records.py so that the solar forecast's records travel together
(aggregator/solar_forecast.py uses them, vtn/db/repos/solar.py stores them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PvParametersRecord:
    """A site's PV array (PUT /sites/{site_id}/pv); azimuth clockwise from north, 180 = south."""

    site_id: str
    latitude_deg: float
    longitude_deg: float
    peak_power_kw: float  # DC nameplate [kWp]
    tilt_deg: float
    azimuth_deg: float
    losses_percent: float
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IrradianceRecord:
    """The latest irradiance forecast for a region (PUT /weather/irradiance): one per point."""

    latitude_deg: float
    longitude_deg: float
    start: datetime
    resolution_minutes: int
    ghi_w_per_m2: tuple[float, ...]  # the mean of each interval [W/m²]
    temp_air_c: tuple[float, ...] | None  # the mean air temperature of each interval [°C]
    received_at: datetime
