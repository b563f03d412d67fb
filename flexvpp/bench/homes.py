"""A realistic portfolio for the planning benchmark (`flexvpp bench plan`).

Pure: the inputs of one day (prices, a PV load-factor curve, household load profiles, EV
sessions) come in as arrays, either read from the shared public data by the CLI or made up by
`synthetic_day`, and `make_portfolio` turns them into a plan-format scenario document (a dict
ready for the scenario model). The repository carries no copy of the data.

Tariff of the generated homes (a Flemish dynamic contract, roughly): import pays the day-ahead
price plus `IMPORT_ADDER_EUR_PER_KWH` (distribution, levies, supplier fee); export earns the
day-ahead price minus `EXPORT_FEE_EUR_PER_KWH`. On a day with a deeply negative day-ahead price
the import price itself goes negative, which is what makes the LP want to dump energy through
simultaneous battery charge and discharge, and so what exercises the binaries fallback.

Heat pumps and shiftable appliances (docs/plan-format-extensions.md) are added to a share of the
homes when asked (`heat_pump_share`, `appliance_share`), drawn from a random stream of their own
so the rest of the portfolio is the same with or without them. The outdoor temperature is a
Belgian seasonal mean for the day of the year with a daily swing (no weather data is shared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SLOTS_PER_DAY = 96
SLOT_HOURS = 0.25
IMPORT_ADDER_EUR_PER_KWH = 0.115
EXPORT_FEE_EUR_PER_KWH = 0.01
CAPACITY_EUR_PER_KW_MONTH = 3.37  # Fluvius capacity tariff, order of magnitude 2025

# Shares of homes with each device (Flemish early adopters, not the whole population).
PV_SHARE = 0.7
BATTERY_SHARE = 0.4
EV_SHARE = 0.45
EV_MODE_WEIGHTS = {"smart": 0.7, "solar": 0.2, "boost": 0.1}


@dataclass(frozen=True, slots=True)
class EvSessions:
    """Charging sessions to draw from: plug-in hour of day [h], duration [h], energy [kWh]."""

    arrival_hour: FloatArray
    duration_h: FloatArray
    energy_kwh: FloatArray


@dataclass(frozen=True, slots=True)
class DayInputs:
    """Everything the generator needs about one day, all on the day's 96 quarter-hours."""

    start: datetime  # tz-aware local midnight of the day
    day_ahead_eur_per_kwh: FloatArray  # [EUR/kWh], 96 values
    pv_load_factor: FloatArray  # PV output per kWp [kW/kWp], 96 values in [0, 1]
    base_profiles_kw: FloatArray  # household load profiles [kW], shape (k, 96)
    ev_sessions: EvSessions
    source: str  # where the inputs came from, printed by the benchmark


def synthetic_day(start: datetime, seed: int = 0) -> DayInputs:
    """A made-up but realistic sunny spring Sunday with negative midday prices."""
    rng = np.random.default_rng(seed)
    hour = np.arange(SLOTS_PER_DAY) * SLOT_HOURS
    sun = np.clip(np.sin((hour - 6.0) / 14.0 * math.pi), 0.0, None)
    # Evening and morning peaks, a midday trough that goes well below zero (like 2025-05-11).
    price_eur_mwh = (
        90.0
        + 40.0 * np.exp(-(((hour - 8.0) / 1.5) ** 2))
        + 70.0 * np.exp(-(((hour - 20.0) / 2.0) ** 2))
        - 330.0 * sun**2
    )
    load_factor = np.clip(0.68 * sun**1.3 * (1.0 + 0.05 * rng.standard_normal(SLOTS_PER_DAY)), 0.0, 1.0)
    profiles = _synthetic_profiles(rng, hour, count=40)
    sessions = EvSessions(
        arrival_hour=np.clip(rng.normal(18.0, 2.5, 500), 0.0, 23.75),
        duration_h=np.clip(rng.lognormal(2.4, 0.5, 500), 1.0, 30.0),
        energy_kwh=np.clip(rng.lognormal(2.4, 0.6, 500), 2.0, 70.0),
    )
    return DayInputs(
        start=start,
        day_ahead_eur_per_kwh=price_eur_mwh / 1000.0,
        pv_load_factor=load_factor,
        base_profiles_kw=profiles,
        ev_sessions=sessions,
        source="synthetic (generated in code)",
    )


def _synthetic_profiles(
    rng: np.random.Generator, hour: npt.NDArray[np.floating[Any]], count: int
) -> FloatArray:
    """Household base loads: a night floor, morning and evening bumps, random appliance spikes."""
    shape = (
        0.25
        + 0.5 * np.exp(-(((hour - 7.5) / 1.0) ** 2))
        + 1.0 * np.exp(-(((hour - 19.0) / 2.0) ** 2))
        + 0.2 * np.exp(-(((hour - 13.0) / 2.5) ** 2))
    )
    profiles = np.empty((count, SLOTS_PER_DAY))
    for k in range(count):
        spikes = rng.binomial(1, 0.06, SLOTS_PER_DAY) * rng.uniform(0.5, 2.5, SLOTS_PER_DAY)
        profiles[k] = shape * rng.uniform(0.6, 1.5) + spikes
    return profiles


def make_portfolio(
    day: DayInputs, homes: int, seed: int = 1, *, heat_pump_share: float = 0.0, appliance_share: float = 0.0
) -> dict[str, Any]:
    """A plan-format scenario document with `homes` sites drawn from the day's inputs; the given
    shares of them also get a heat pump and shiftable appliances."""
    if homes < 1:
        raise ValueError(f"homes must be at least 1, got {homes}")
    for name, share in (("heat_pump_share", heat_pump_share), ("appliance_share", appliance_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {share}")
    rng = np.random.default_rng(seed)
    sites = [_make_site(day, rng, index) for index in range(homes)]
    extra = np.random.default_rng([seed, 15])  # its own stream: the sites above stay the same
    outdoor = outdoor_temp_c(day.start)
    for site in sites:
        if extra.random() < heat_pump_share:
            site["heat_pump"] = _make_heat_pump(extra, outdoor)
        if extra.random() < appliance_share:
            site["appliances"] = _make_appliances(day, extra)
    price = day.day_ahead_eur_per_kwh
    return {
        "start": day.start.isoformat(),
        "resolution_minutes": 15,
        "horizon_slots": SLOTS_PER_DAY,
        "tariff": {
            "import_eur_per_kwh": _rounded(price + IMPORT_ADDER_EUR_PER_KWH, 5),
            "export_eur_per_kwh": _rounded(price - EXPORT_FEE_EUR_PER_KWH, 5),
            "capacity_eur_per_kw_month": CAPACITY_EUR_PER_KW_MONTH,
        },
        "sites": sites,
    }


def outdoor_temp_c(start: datetime) -> FloatArray:
    """A Belgian day's outdoor temperature [°C] per quarter-hour: a seasonal mean (about 3 °C in
    January, 18 °C in July) and a daily swing of ±3 K peaking at 15:00."""
    doy = start.timetuple().tm_yday
    mean = 10.5 - 7.5 * math.cos(2 * math.pi * (doy - 20) / 365)
    hours = np.arange(SLOTS_PER_DAY) * SLOT_HOURS
    temps: FloatArray = mean + 3.0 * np.cos(2 * math.pi * (hours - 15.0) / 24.0)
    return temps


def _make_heat_pump(rng: np.random.Generator, outdoor: FloatArray) -> dict[str, Any]:
    hours = np.arange(SLOTS_PER_DAY) * SLOT_HOURS
    max_kw = float(rng.choice([2.0, 3.0, 4.5]))
    # A third of the heat pumps cannot modulate below 30 % of their power: binaries.
    min_kw = round(0.3 * max_kw, 2) if rng.random() < 1 / 3 else 0.0
    day_min = float(rng.choice([19.0, 20.0]))
    return {
        "max_power_kw": max_kw,
        "min_power_kw": min_kw,
        "thermal_capacity_kwh_per_k": round(float(rng.uniform(3.0, 8.0)), 2),
        "thermal_resistance_k_per_kw": round(float(rng.uniform(4.0, 10.0)), 2),
        "initial_temp_c": round(float(rng.uniform(day_min + 0.2, day_min + 1.5)), 2),
        "outdoor_temp_c": _rounded(outdoor, 2),
        "comfort_min_c": [day_min if 7.0 <= h < 23.0 else day_min - 2.0 for h in hours],  # night set-back
        "comfort_max_c": [day_min + 3.0] * SLOTS_PER_DAY,
        "cop_intercept": round(float(rng.uniform(2.8, 3.4)), 2),
        "cop_slope_per_k": 0.08,
    }


WASHER_KW = [2.0, 0.3, 0.3, 0.3, 0.3, 2.0, 0.8]  # heat, wash, heat again, spin (15-minute steps)
DISHWASHER_KW = [1.8, 1.8, 0.1, 0.1, 0.1, 1.8, 1.8]


def _make_appliances(day: DayInputs, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for name, profile in (("washer", WASHER_KW), ("dishwasher", DISHWASHER_KW)):
        if name == "dishwasher" and rng.random() < 0.5:
            continue
        earliest_h = float(rng.integers(8, 16))
        deadline_h = min(24.0, earliest_h + float(rng.integers(3, 9)))
        out.append(
            {
                "appliance_id": name,
                "profile_kw": profile,
                "earliest_start": (day.start + timedelta(hours=earliest_h)).isoformat(),
                "deadline": (day.start + timedelta(hours=deadline_h)).isoformat(),
            }
        )
    return out


def _make_site(day: DayInputs, rng: np.random.Generator, index: int) -> dict[str, Any]:
    profile = day.base_profiles_kw[rng.integers(len(day.base_profiles_kw))]
    # Shift the profile by up to an hour so homes do not peak in the same quarter-hour.
    base = np.roll(profile * rng.uniform(0.7, 1.4), int(rng.integers(-4, 5)))
    three_phase = bool(rng.random() < 0.4)
    site: dict[str, Any] = {
        "site_id": f"home-{index:05d}",
        "import_limit_kw": 17.3 if three_phase else 9.2,
        "export_limit_kw": 10.0 if three_phase else 5.0,
        "month_peak_kw": round(float(rng.uniform(2.0, 6.0)), 2),
        "base_load_kw": _rounded(base, 3),
    }
    if rng.random() < PV_SHARE:
        kwp = float(rng.uniform(3.0, 9.0))
        site["pv"] = {
            "forecast_kw": _rounded(day.pv_load_factor * kwp, 3),
            "curtailable": bool(rng.random() < 0.8),
        }
    if rng.random() < BATTERY_SHARE:
        site["battery"] = _make_battery(rng)
    if rng.random() < EV_SHARE:
        site["evs"] = [_make_ev(day, rng, three_phase)]
    return site


def _make_battery(rng: np.random.Generator) -> dict[str, Any]:
    capacity_kwh = float(rng.choice([5.0, 7.7, 10.0, 13.5]))
    power_kw = float(min(5.0, capacity_kwh / 2.0))
    soc_kwh = round(float(rng.uniform(0.1, 0.9)) * capacity_kwh, 2)
    return {
        "capacity_kwh": capacity_kwh,
        "soc_kwh": soc_kwh,
        "min_soc_kwh": round(0.05 * capacity_kwh, 2),
        "max_charge_kw": power_kw,
        "max_discharge_kw": power_kw,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
    }


def _make_ev(day: DayInputs, rng: np.random.Generator, three_phase: bool) -> dict[str, Any]:
    sessions = day.ev_sessions
    k = int(rng.integers(len(sessions.arrival_hour)))
    arrival = day.start + timedelta(hours=float(sessions.arrival_hour[k]))
    departure = arrival + timedelta(hours=float(sessions.duration_h[k]))
    # Sessions past the horizon are cut there by the spec; plug-in times near midnight are
    # moved to the previous evening so the car is plugged in from the start.
    if arrival.hour >= 22:
        arrival -= timedelta(days=1)
        departure -= timedelta(days=1)
    modes = list(EV_MODE_WEIGHTS)
    mode = str(rng.choice(modes, p=list(EV_MODE_WEIGHTS.values())))
    return {
        "ev_id": "ev-1",
        "arrival": arrival.isoformat(),
        "departure": departure.isoformat(),
        "energy_needed_kwh": round(float(sessions.energy_kwh[k]), 2),
        "max_power_kw": 11.0 if three_phase else 7.4,
        "efficiency": 0.92,
        "mode": mode,
    }


def _rounded(values: FloatArray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]
