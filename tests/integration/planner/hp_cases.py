"""Scenario documents with heat pumps and shiftable appliances, shared by their planner tests."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

START = datetime.fromisoformat("2025-01-15T00:00:00+01:00")


def prices(n: int, dt_h: float = 0.25) -> list[float]:
    """A day's shape: cheap at night, expensive in the evening (EUR/kWh)."""
    return [round(0.22 + 0.14 * math.sin(2 * math.pi * (t * dt_h - 12.0) / 24.0), 6) for t in range(n)]


def heat_pump(n: int, dt_h: float = 0.25, **over: Any) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "max_power_kw": 3.0,
        "thermal_capacity_kwh_per_k": 4.0,
        "thermal_resistance_k_per_kw": 6.0,
        "initial_temp_c": 20.0,
        "outdoor_temp_c": [
            round(2.0 + 3.0 * math.sin(2 * math.pi * (t * dt_h - 9.0) / 24.0), 4) for t in range(n)
        ],
        "comfort_min_c": [19.0 if 7 <= (t * dt_h) % 24 < 23 else 17.5 for t in range(n)],  # night set-back
        "comfort_max_c": [22.5] * n,
        "cop_intercept": 3.0,
        "cop_slope_per_k": 0.08,
    }
    hp.update(over)
    return hp


def appliance(
    appliance_id: str = "washer",
    profile: list[float] | None = None,
    earliest_h: float = 8.0,
    deadline_h: float = 22.0,
) -> dict[str, Any]:
    return {
        "appliance_id": appliance_id,
        "profile_kw": profile or [2.0, 0.2, 0.2, 0.2, 0.2, 2.0, 2.0],
        "earliest_start": (START + timedelta(hours=earliest_h)).isoformat(),
        "deadline": (START + timedelta(hours=deadline_h)).isoformat(),
    }


def scenario(
    n: int = 96, resolution_minutes: int = 15, capacity: float = 3.0, export_gap: float = 0.1, **site: Any
) -> dict[str, Any]:
    """One site with a base load; keyword arguments add or override the site's fields."""
    dt_h = resolution_minutes / 60
    price = prices(n, dt_h)
    base: dict[str, Any] = {
        "site_id": "home-hp",
        "import_limit_kw": 12.0,
        "export_limit_kw": 6.0,
        "base_load_kw": [round(0.3 + 0.2 * (t % 7) / 7, 4) for t in range(n)],
    }
    base.update(site)
    return {
        "start": START.isoformat(),
        "resolution_minutes": resolution_minutes,
        "horizon_slots": n,
        "tariff": {
            "import_eur_per_kwh": price,
            "export_eur_per_kwh": [round(p - export_gap, 6) for p in price],
            "capacity_eur_per_kw_month": capacity,
        },
        "sites": [base],
    }
