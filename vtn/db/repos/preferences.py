"""A household's preferences (site_preferences), one row per site."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import PreferencesRecord
from vtn.db.repos import insert_on_conflict, utc
from vtn.db.tables import SitePreferences, as_utc


def _record(row: SitePreferences) -> PreferencesRecord:
    return PreferencesRecord(
        site_id=row.site_id,
        charge_mode=row.charge_mode,
        updated_at=utc(row.updated_at),
        ev_target_kwh=row.ev_target_kwh,
        departure_local=row.departure_local,
        departure_by_weekday=row.departure_by_weekday,
        solar_min_kwh=row.solar_min_kwh,
        battery_reserve_percent=row.battery_reserve_percent,
        max_peak_kw=row.max_peak_kw,
        notify_url=row.notify_url,
        charging_action=row.charging_action,
        charging_action_at=as_utc(row.charging_action_at),
    )


class PreferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, site_id: str) -> PreferencesRecord | None:
        row = await self.session.get(SitePreferences, site_id)
        return None if row is None else _record(row)

    async def of_sites(self, site_ids: Iterable[str]) -> dict[str, PreferencesRecord]:
        wanted = list(site_ids)
        rows = await self.session.scalars(select(SitePreferences).where(SitePreferences.site_id.in_(wanted)))
        return {row.site_id: _record(row) for row in rows}

    async def put(self, preferences: PreferencesRecord) -> None:
        """One upsert: two changes to one site at once both succeed, the later one wins."""
        values = asdict(preferences)
        changed = {k: v for k, v in values.items() if k != "site_id"}
        statement = (
            insert_on_conflict(self.session)(SitePreferences)
            .values(**values)
            .on_conflict_do_update(index_elements=["site_id"], set_=changed)
        )
        await self.session.execute(statement)
