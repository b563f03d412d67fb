"""On real Belgian day-ahead prices, the heat pump pre-heats: its energy moves out of the
expensive evening hours, and the comfort band holds all day (issue 15, done-when 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from hp_cases import heat_pump
from hp_check import check_site
from planner_realdata import IMPORT_ADDER_EUR_PER_KWH, day_ahead_eur_per_kwh

from flexmodel.planner import plan_scenario
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

# 12 December 2024, a cold day with an evening peak of 565 EUR/MWh (the local day, UTC+1).
START = datetime(2024, 12, 11, 23, tzinfo=UTC)
SLOTS = 96
EVENING = slice(16 * 4, 20 * 4)  # 16:00-20:00 local


def _doc(import_eur_per_kwh: list[float]) -> dict[str, Any]:
    # Outdoor temperature: a December day around 2 °C (no weather data in ../shared/data).
    hp = heat_pump(SLOTS)
    return {
        "start": START.isoformat(),
        "resolution_minutes": 15,
        "horizon_slots": SLOTS,
        "tariff": {
            "import_eur_per_kwh": import_eur_per_kwh,
            "export_eur_per_kwh": [p - 0.2 for p in import_eur_per_kwh],
            "capacity_eur_per_kw_month": 0.0,
        },
        "sites": [
            {
                "site_id": "home-hp",
                "import_limit_kw": 9.2,
                "export_limit_kw": 5.0,
                "base_load_kw": [0.4] * SLOTS,
                "heat_pump": hp,
            }
        ],
    }


def _heat_pump_plan(doc: dict[str, Any]) -> dict[str, Any]:
    plan = json.loads(plan_scenario(parse_scenario(doc), SolverOptions()).plan.to_json())
    [site] = plan["sites"]
    assert site["status"] == "optimal"
    check_site(doc, doc["sites"][0], site)  # the comfort band holds in every slot
    return dict(site["heat_pump"])


def test_preheating_moves_energy_out_of_the_evening_on_real_prices(shared_data: Path) -> None:
    dam = day_ahead_eur_per_kwh(shared_data)
    real = [round(dam[START + i * timedelta(minutes=15)] + IMPORT_ADDER_EUR_PER_KWH, 6) for i in range(SLOTS)]
    assert np.mean(real[EVENING]) > 1.5 * np.mean(real), "the day's evening is expensive"
    flat = [round(float(np.mean(real)), 6)] * SLOTS  # the same mean price, nothing to gain by moving
    priced = _heat_pump_plan(_doc(real))
    unpriced = _heat_pump_plan(_doc(flat))
    evening_kwh = {k: sum(p["power_kw"][EVENING]) / 4 for k, p in (("real", priced), ("flat", unpriced))}
    total_kwh = {k: sum(p["power_kw"]) / 4 for k, p in (("real", priced), ("flat", unpriced))}
    print(f"heat-pump energy 16-20 h: {evening_kwh}, whole day: {total_kwh}")
    assert evening_kwh["real"] < 0.5 * evening_kwh["flat"]
    # Pre-heating: warmer than the flat-price plan when the evening starts, paid by a little
    # more energy over the day (a warmer house loses more).
    assert priced["temp_c"][EVENING.start] > unpriced["temp_c"][EVENING.start] + 0.5
    assert total_kwh["real"] >= total_kwh["flat"] - 1e-6
