"""Bodies of the solar forecast's routes (vtn/api/solar.py): a site's PV array, a region's
irradiance forecast, the forecast the household's app shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from aggregator.solar_forecast import SolarSource
from vtn.api.schemas import UtcTime

# 8 days of 15-minute values: a weather model's full range, and a bound on the body.
MAX_VALUES = 8 * 96
# Intervals that fill 15-minute slots exactly (finer ones are averaged, coarser ones split).
RESOLUTIONS_MINUTES = (1, 3, 5, 15, 30, 45, 60)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PvIn(_In):
    latitude: float = Field(ge=-90, le=90, description="[°], north positive")
    longitude: float = Field(ge=-180, le=180, description="[°], east positive")
    peak_power_kw: float = Field(gt=0, le=1000, description="DC nameplate [kWp]")
    tilt_deg: float = Field(ge=0, le=90, description="from the horizontal: 0 = flat, 90 = vertical")
    azimuth_deg: float = Field(ge=0, lt=360, description="clockwise from north: 90 east, 180 south, 270 west")
    losses_percent: float = Field(14.0, ge=0, lt=100, description="system losses [%], PVWatts' 14 by default")


class PvOut(BaseModel):
    site_id: str
    latitude: float
    longitude: float
    peak_power_kw: float
    tilt_deg: float
    azimuth_deg: float
    losses_percent: float
    updated_at: datetime


Ghi = Annotated[float, Field(ge=0, le=1500)]
TempAir = Annotated[float, Field(ge=-60, le=70)]


class IrradianceIn(_In):
    latitude: float = Field(ge=-90, le=90, description="the forecast's point [°]")
    longitude: float = Field(ge=-180, le=180, description="the forecast's point [°]")
    start: UtcTime = Field(description="the first interval's start, on a quarter hour")
    resolution_minutes: int = Field(60, description=f"one of {', '.join(map(str, RESOLUTIONS_MINUTES))}")
    ghi_w_per_m2: list[Ghi] = Field(
        min_length=1,
        max_length=MAX_VALUES,
        description="global horizontal irradiance, each interval's mean [W/m²]",
    )
    temp_air_c: list[TempAir] | None = Field(
        None, max_length=MAX_VALUES, description="air temperature, each interval's mean [°C]"
    )

    @field_validator("start")
    @classmethod
    def _on_a_quarter(cls, start: datetime) -> datetime:
        if start.minute % 15 or start.second or start.microsecond:
            raise ValueError("must be on a quarter hour (hh:00, :15, :30, :45)")
        return start

    @field_validator("resolution_minutes")
    @classmethod
    def _fits_quarters(cls, value: int) -> int:
        if value not in RESOLUTIONS_MINUTES:
            raise ValueError(f"must be one of {', '.join(map(str, RESOLUTIONS_MINUTES))}")
        return value

    @field_validator("ghi_w_per_m2")
    @classmethod
    def _whole_quarters(cls, values: list[float], info: ValidationInfo) -> list[float]:
        resolution = info.data.get("resolution_minutes")
        if resolution is not None and resolution < 15 and len(values) % (15 // resolution):
            raise ValueError(f"{len(values)} values of {resolution} minutes do not fill whole quarter hours")
        return values

    @field_validator("temp_air_c")
    @classmethod
    def _as_many(cls, values: list[float] | None, info: ValidationInfo) -> list[float] | None:
        ghi = info.data.get("ghi_w_per_m2")
        if values is not None and ghi is not None and len(values) != len(ghi):
            raise ValueError(f"has {len(values)} values, ghi_w_per_m2 has {len(ghi)}")
        return values


class IrradianceOut(BaseModel):
    latitude: float
    longitude: float
    start: datetime
    end: datetime
    resolution_minutes: int
    received_at: datetime


class SolarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: SolarSource | None = Field(None, description="ask for this source (409 if it cannot be given)")


class SolarSlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: datetime
    pv_kw: float = Field(description="mean PV production over the 15-minute slot [kW]")


class SolarForecastOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: str
    source: SolarSource = Field(description="home: the home's own forecast; pvlib: the VTN's model")
    issued_at: datetime = Field(description="when the home's report or the irradiance forecast arrived")
    until: datetime = Field(description="the end of the last slot: as far as the forecast reaches (≤ 36 h)")
    distance_km: float | None = Field(description="pvlib: from the site to the irradiance forecast's point")
    slots: list[SolarSlotOut]
