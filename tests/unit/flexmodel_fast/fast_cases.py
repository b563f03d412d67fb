"""Scenario documents for the array-path tests: each exercises one part of the spec's model.

96 quarter-hours of a spring day. Prices follow a day like 2025-05-11 in Belgium: a deep
negative midday trough, so the LP burns energy in batteries and the binaries fallback runs.
"""

from __future__ import annotations

import math
from typing import Any

N = 96
START = "2025-05-11T00:00:00+02:00"
HOURS = [t / 4 for t in range(N)]


def _day_ahead(depth_eur_per_kwh: float) -> list[float]:
    out = []
    for h in HOURS:
        sun = max(0.0, math.sin((h - 6.0) / 14.0 * math.pi))
        out.append(0.09 + 0.05 * math.exp(-(((h - 19.5) / 2.0) ** 2)) - depth_eur_per_kwh * sun**2)
    return out


def pv_kw(kwp: float) -> list[float]:
    return [round(kwp * 0.68 * max(0.0, math.sin((h - 6.0) / 14.0 * math.pi)) ** 1.3, 4) for h in HOURS]


def base_kw(scale: float = 1.0) -> list[float]:
    return [
        round(
            scale
            * (0.3 + 0.5 * math.exp(-(((h - 7.5) / 1.0) ** 2)) + 1.2 * math.exp(-(((h - 19.0) / 2.0) ** 2))),
            4,
        )
        for h in HOURS
    ]


def tariff(depth_eur_per_kwh: float = 0.3, adder: float = 0.115, fee: float = 0.01) -> dict[str, Any]:
    dam = _day_ahead(depth_eur_per_kwh)
    return {
        "import_eur_per_kwh": [round(p + adder, 5) for p in dam],
        "export_eur_per_kwh": [round(p - fee, 5) for p in dam],
        "capacity_eur_per_kw_month": 3.37,
    }


def _export_premium(slots: range, premium_eur_per_kwh: float) -> dict[str, Any]:
    """A tariff where, in a few evening slots, export earns more than import costs."""
    out = tariff()
    for t in slots:
        out["export_eur_per_kwh"][t] = out["import_eur_per_kwh"][t] + premium_eur_per_kwh
    return out


def battery(capacity_kwh: float = 10.0, soc_kwh: float = 5.0, **extra: Any) -> dict[str, Any]:
    out = {
        "capacity_kwh": capacity_kwh,
        "soc_kwh": soc_kwh,
        "min_soc_kwh": 0.5,
        "max_charge_kw": 5.0,
        "max_discharge_kw": 5.0,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
    }
    out.update(extra)
    return out


def ev(
    ev_id: str, arrival: str, departure: str, kwh: float, mode: str, power_kw: float = 7.4
) -> dict[str, Any]:
    return {
        "ev_id": ev_id,
        "arrival": f"2025-05-11T{arrival}:00+02:00",
        "departure": f"2025-05-{departure}:00+02:00",
        "energy_needed_kwh": kwh,
        "max_power_kw": power_kw,
        "efficiency": 0.92,
        "mode": mode,
    }


def site(site_id: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "site_id": site_id,
        "import_limit_kw": 9.2,
        "export_limit_kw": 5.0,
        "month_peak_kw": 3.0,
        "base_load_kw": base_kw(),
    }
    out.update(fields)
    return out


def scenario(
    *sites: dict[str, Any], top_tariff: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "start": START,
        "resolution_minutes": 15,
        "horizon_slots": N,
        "tariff": top_tariff or tariff(),
        "sites": list(sites),
    }
    doc.update(extra)
    return doc


def cases() -> dict[str, dict[str, Any]]:
    """Named scenarios; each site of each is planned by both paths in the equivalence test."""
    pv = {"forecast_kw": pv_kw(6.0), "curtailable": True}
    return {
        "negative_prices_battery": scenario(
            site("full-battery", pv=pv, battery=battery(soc_kwh=9.0)),
            site(
                "empty-battery-fixed-pv",
                pv={"forecast_kw": pv_kw(8.0), "curtailable": False},
                battery=battery(capacity_kwh=5.0, soc_kwh=0.5),
            ),
            site(
                "deep-negative",
                pv=pv,
                battery=battery(final_soc_min_kwh=2.0),
                tariff=tariff(depth_eur_per_kwh=0.6),
            ),
        ),
        "ev_shortfall": scenario(
            site("short-window", evs=[ev("car", "18:00", "11T19:00", 40.0, "smart", power_kw=3.7)]),
            site(
                "limit-bound",
                import_limit_kw=4.0,
                base_load_kw=base_kw(1.5),
                evs=[ev("car", "17:00", "11T23:00", 45.0, "smart")],
                battery=battery(),
            ),
        ),
        "solar_and_boost_evs": scenario(
            site("solar-ev", pv=pv, evs=[ev("sun", "08:00", "11T17:00", 20.0, "solar")]),
            site("boost-ev", pv=pv, battery=battery(), evs=[ev("now", "17:30", "11T23:30", 15.0, "boost")]),
            site(
                "three-evs",
                pv=pv,
                import_limit_kw=17.3,
                battery=battery(),
                evs=[
                    ev("a", "07:00", "11T18:00", 12.0, "solar"),
                    ev("b", "16:00", "12T07:00", 30.0, "smart"),
                    ev("c", "18:00", "11T21:00", 6.0, "boost"),
                ],
            ),
        ),
        "no_battery": scenario(
            site("pv-only", pv=pv),
            site(
                "pv-ev",
                pv={"forecast_kw": pv_kw(4.0), "curtailable": False},
                evs=[ev("car", "10:00", "12T08:00", 25.0, "smart")],
            ),
        ),
        "no_pv": scenario(
            site("battery-only", battery=battery(soc_kwh=2.0)),
            site("bare", month_peak_kw=0.0, min_billed_peak_kw=0.0),
            site("ev-only", evs=[ev("car", "19:00", "12T07:00", 35.0, "smart", power_kw=11.0)]),
        ),
        # Full at midnight, with 2 kW of uncurtailable PV in the first slot only: the LP absorbs
        # the 0.2 kW above the export limit by charging and discharging at once; the MILP cannot,
        # and must overrun. The overruns are fixed at 0 only while a plan can do without them.
        "burn_hides_an_overrun": scenario(
            site(
                "full-at-midnight",
                base_load_kw=[0.3] * N,
                pv={"forecast_kw": [2.0] + [0.0] * (N - 1), "curtailable": False},
                export_limit_kw=1.5,
                battery=battery(soc_kwh=10.0),
            ),
        ),
        "overrun_and_imbalance": scenario(
            site(
                "overload",
                import_limit_kw=0.8,
                pv={"forecast_kw": pv_kw(9.0), "curtailable": False},
                export_limit_kw=2.0,
            ),
            site(
                "export-pays-more",
                pv=pv,
                battery=battery(charge_efficiency=1.0, discharge_efficiency=1.0),
                tariff=_export_premium(slots=range(72, 78), premium_eur_per_kwh=0.05),
            ),
            portfolio={
                "imbalance_eur_per_kwh": [0.02 * math.sin(t / 7.0) for t in range(N)],
                "nominated_net_kw": [1.0] * N,
            },
        ),
    }
