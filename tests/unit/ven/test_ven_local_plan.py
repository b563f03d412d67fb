"""ELECTRICITY_PRICE: the agent re-plans the home with flexmodel (real HiGHS) and follows the plan."""

from __future__ import annotations

import pytest
from ven_rig import T0, Rig

from ven.agent.events import DrEvent, EventInterval
from ven.agent.local_plan import TariffDefaults
from ven.agent.site_entry import Grid


def test_site_entry_is_a_valid_plan_format_site() -> None:
    from flexmodel.scenario import parse_scenario

    rig = Rig(battery_kwh=10.0, pv_kw=4.0, heat_pump=True, smart_plug_kw=1.0)
    grid = Grid.at(rig.clock.now())
    entry = rig.core.site_entry(grid)
    assert entry["evs"][0]["energy_needed_kwh"] == pytest.approx(20.0, abs=0.5)  # type: ignore[index]
    assert entry["battery"]["capacity_kwh"] == 10.0  # type: ignore[index]
    assert len(entry["pv"]["forecast_kw"]) == 96  # type: ignore[index]
    scenario = parse_scenario(
        {
            "start": grid.start.isoformat(),
            "resolution_minutes": 15,
            "horizon_slots": 96,
            "tariff": {
                "import_eur_per_kwh": [0.2] * 96,
                "export_eur_per_kwh": [0.0] * 96,
                "capacity_eur_per_kw_month": 3.37,
            },
            "sites": [entry],
        }
    )
    assert scenario.sites[0].import_limit_kw == 9.2


def test_prices_replan_and_the_ev_charges_when_cheap() -> None:
    rig = Rig(base_load_kw=0.5)
    rig.core.tariff = TariffDefaults(capacity_eur_per_kw_month=0.0)  # only the energy price matters here
    hour = 3600.0
    cheap_from, cheap_to = T0 + 5 * hour, T0 + 8 * hour  # 01:00-04:00 UTC
    intervals = (
        EventInterval(T0, 5 * hour, 0.40),
        EventInterval(cheap_from, 3 * hour, 0.05),
        EventInterval(cheap_to, 6 * hour, 0.40),
    )
    rig.core.set_event([DrEvent("tariff-1", 0, "ELECTRICITY_PRICE", "price", intervals)])
    assert rig.core.replan()
    rig.advance(120)
    assert rig.last.setpoints["evse-1"] == pytest.approx(0.0, abs=1e-6)  # expensive now: wait
    rig.advance(cheap_from + 600 - rig.clock.now())
    assert rig.last.setpoints["evse-1"] > 5.0
    rig.advance(cheap_to + 60 - rig.clock.now())
    assert rig.ev.delivered_kwh == pytest.approx(20.0, abs=0.1)  # the promise is kept
