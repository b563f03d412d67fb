"""What the household's app shows (aggregator/site_views.py): its devices and its schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fakes import FakeRecentPolls, FakeUnitOfWork
from samples import REGISTERED_VEN, T0

from aggregator.errors import Conflict, NotFound
from aggregator.ports import RunRecord
from aggregator.records import ReportValueRecord
from aggregator.site_views import DeviceKind, site_schedule, site_view

Q = timedelta(minutes=15)


def value(report: str, r_id: str, at_minutes: int, v: float) -> ReportValueRecord:
    at = T0 + timedelta(minutes=at_minutes)
    return ReportValueRecord("ven-1", "rr", report, r_id, at, 0, v, at)


TELEMETRY = [
    value("TELEMETRY_USAGE", "meter-1.power", 0, 2500.0),
    value("TELEMETRY_USAGE", "meter-1.power", 1, 9800.0),
    value("TELEMETRY_USAGE", "evse-1.power", 1, 7400.0),
    value("TELEMETRY_USAGE", "evse-1.energy_import", 1, 1234.0),
    value("TELEMETRY_STATUS", "evse-1.online", 1, 1.0),
    value("TELEMETRY_STATUS", "evse-1.plugged_in", 1, 1.0),
    value("TELEMETRY_STATUS", "evse-1.soc", 1, -1.0),
    value("TELEMETRY_STATUS", "battery-1.soc", 2, 55.0),
    value("TELEMETRY_STATUS", "battery-1.online", 2, 0.0),
]


async def test_the_site_shows_each_device_with_its_newest_values_and_the_last_poll() -> None:
    uow = FakeUnitOfWork(vens=[replace(REGISTERED_VEN, last_poll_at=T0)], report_values=TELEMETRY)
    view = await site_view(uow, "site-1", "site-1", FakeRecentPolls({"ven-1": T0 + Q}))
    assert (view.ven_id, view.registered, view.last_seen_at) == ("ven-1", True, T0 + Q)
    devices = {d.device_id: d for d in view.devices}
    assert set(devices) == {"battery-1", "evse-1", "meter-1"}
    evse, battery, meter = devices["evse-1"], devices["battery-1"], devices["meter-1"]
    assert (evse.kind, evse.online, evse.power_kw, evse.plugged_in, evse.soc_percent) == (
        DeviceKind.EV_CHARGER, True, 7.4, True, None,
    )  # fmt: skip
    assert (battery.kind, battery.online, battery.soc_percent, battery.power_kw) == (
        DeviceKind.BATTERY, False, 55.0, None,
    )  # fmt: skip
    assert (meter.kind, meter.power_kw) == (DeviceKind.METER, 9.8)


async def test_another_customers_site_is_not_found() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], report_values=TELEMETRY)
    with pytest.raises(NotFound):
        await site_view(uow, "site-1", "site-2", FakeRecentPolls())
    with pytest.raises(NotFound):
        await site_schedule(uow, "site-1", "site-2", T0)


def run(started: Any, site_id: str = "site-1") -> RunRecord:
    scenario = {
        "start": T0.isoformat(),
        "resolution_minutes": 15,
        "horizon_slots": 3,
        "tariff": {"import_eur_per_kwh": [0.30, 0.10, 0.20], "export_eur_per_kwh": [0.05, 0.02, 0.04]},
        "sites": [],
    }
    plan = {
        "status": "optimal",
        "sites": [
            {
                "site_id": site_id,
                "status": "optimal",
                "grid_import_kw": [1.0, 8.0, 0.0],
                "grid_export_kw": [0.0, 0.0, 2.0],
                "pv_used_kw": [0.0, 0.0, 3.0],
                "battery_kw": [0.0, 0.0, 0.5],
                "ev_kw": {"evse-1": [0.5, 7.4, 0.0]},
                "ev_energy_kwh": {"evse-1": 1.96},
            }
        ],
    }
    return RunRecord("run-1", "test", started, 1.0, "optimal", "highs", None, None,
                     {"scenario": scenario}, plan, None)  # fmt: skip


async def test_the_schedule_shows_the_slots_from_the_one_under_way_with_their_cost() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], runs=[run(T0)])
    schedule = await site_schedule(uow, "site-1", "site-1", T0 + Q + timedelta(minutes=5))
    assert [s.start for s in schedule.slots] == [T0 + Q, T0 + 2 * Q]  # the first slot is over
    second, third = schedule.slots
    assert (second.grid_kw, second.ev_kw, second.import_eur_per_kwh) == (8.0, 7.4, 0.10)
    assert (third.grid_kw, third.pv_kw, third.battery_kw) == (-2.0, 3.0, 0.5)
    # by hand: 8 kW * 0.25 h * 0.10 EUR - 2 kW * 0.25 h * 0.04 EUR
    assert schedule.expected_cost_eur == pytest.approx(0.2 - 0.02)
    assert (schedule.ev_energy_at_departure_kwh, schedule.run_id) == (1.96, "run-1")


async def test_before_a_run_planned_the_site_there_is_no_schedule() -> None:
    for runs in ([], [run(T0, site_id="site-9")]):
        uow = FakeUnitOfWork(vens=[REGISTERED_VEN], runs=runs)
        with pytest.raises(Conflict, match="not been planned"):
            await site_schedule(uow, "site-1", None, T0)
