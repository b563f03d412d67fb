"""PreferenceRepository (vtn/db/repos/preferences.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from aggregator.records import PreferencesRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0

MINE = PreferencesRecord(
    "site-1", "solar", T0, ev_target_kwh=30.0, departure_local="07:30",
    departure_by_weekday={"sat": "10:00"}, charging_action="stop", charging_action_at=T0,
)  # fmt: skip


async def test_preferences_round_trip_are_replaced_whole_and_read_by_site(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.preferences.put(MINE)
        await uow.preferences.put(replace(MINE, site_id="site-2", charge_mode="off"))
        await uow.commit()
    changed = replace(MINE, charge_mode="boost", ev_target_kwh=None, updated_at=T0 + timedelta(hours=1))
    async with UnitOfWork(sessions) as uow:
        assert await uow.preferences.get("site-1") == MINE  # times come back tz-aware UTC
        await uow.preferences.put(changed)  # one upsert
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.preferences.get("site-1") == changed
        assert await uow.preferences.get("site-9") is None
        found = await uow.preferences.of_sites(["site-1", "site-2", "site-9"])
    assert set(found) == {"site-1", "site-2"} and found["site-2"].charge_mode == "off"
