"""Sites' PV arrays (site_pv) and the regions' latest irradiance forecasts (irradiance_forecasts)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.solar_records import IrradianceRecord, PvParametersRecord
from vtn.db.repos import insert_on_conflict, utc
from vtn.db.tables import Base, IrradianceForecast, SitePv


def _pv(row: SitePv) -> PvParametersRecord:
    return PvParametersRecord(
        site_id=row.site_id,
        latitude_deg=row.latitude_deg,
        longitude_deg=row.longitude_deg,
        peak_power_kw=row.peak_power_kw,
        tilt_deg=row.tilt_deg,
        azimuth_deg=row.azimuth_deg,
        losses_percent=row.losses_percent,
        updated_at=utc(row.updated_at),
    )


def _irradiance(row: IrradianceForecast) -> IrradianceRecord:
    return IrradianceRecord(
        latitude_deg=row.latitude_deg,
        longitude_deg=row.longitude_deg,
        start=utc(row.start),
        resolution_minutes=row.resolution_minutes,
        ghi_w_per_m2=tuple(float(v) for v in row.ghi_w_per_m2),
        temp_air_c=None if row.temp_air_c is None else tuple(float(v) for v in row.temp_air_c),
        received_at=utc(row.received_at),
    )


class SolarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pv_of(self, site_id: str) -> PvParametersRecord | None:
        row = await self.session.get(SitePv, site_id)
        return None if row is None else _pv(row)

    async def _upsert(self, table: type[Base], values: dict[str, Any], key: tuple[str, ...]) -> None:
        """One INSERT ... ON CONFLICT (key) DO UPDATE: concurrent writers both succeed, the later wins."""
        statement = (
            insert_on_conflict(self.session)(table)
            .values(**values)
            .on_conflict_do_update(
                index_elements=list(key), set_={k: v for k, v in values.items() if k not in key}
            )
        )
        await self.session.execute(statement)

    async def put_pv(self, pv: PvParametersRecord) -> None:
        """One upsert: two changes to one site at once both succeed, the later one wins."""
        await self._upsert(SitePv, asdict(pv), ("site_id",))

    async def put_irradiance(self, forecast: IrradianceRecord) -> None:
        """One upsert on the point: a region's newer forecast replaces its older one."""
        values = asdict(forecast)
        values["ghi_w_per_m2"] = list(forecast.ghi_w_per_m2)
        values["temp_air_c"] = None if forecast.temp_air_c is None else list(forecast.temp_air_c)
        await self._upsert(IrradianceForecast, values, ("latitude_deg", "longitude_deg"))

    async def irradiance_forecasts(self) -> list[IrradianceRecord]:
        rows = await self.session.scalars(select(IrradianceForecast).order_by(IrradianceForecast.id))
        return [_irradiance(row) for row in rows]
