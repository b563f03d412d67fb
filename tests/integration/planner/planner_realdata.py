"""Scenario documents built from the real public data in ../shared/data (read, never copied).

- prices: Belgian day-ahead (ENTSO-E, EUR/MWh, UTC) -> EUR/kWh; import = price + a retail adder
  (distribution, levies, supplier), export = price - a feed-in fee (lower than import);
- PV: Elia ods032 Belgian load factor (%, UTC) x the home's kWp;
- base load: the Fluvius household's quarter-hour offtake (kWh -> kW), one local day as a profile;
- EVs: Trondheim residential sessions (plug-in time of day, duration, energy).
"""

from __future__ import annotations

import csv
import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

IMPORT_ADDER_EUR_PER_KWH = 0.12
EXPORT_FEE_EUR_PER_KWH = 0.015
SLOTS = 96
DT = timedelta(minutes=15)


@functools.cache
def day_ahead_eur_per_kwh(data: Path) -> dict[datetime, float]:
    out = {}
    with open(data / "be_dam_prices_15min" / "dam_prices.csv", newline="") as f:
        for row in csv.DictReader(f):
            at = datetime.fromisoformat(row["datetime_utc"]).replace(tzinfo=UTC)
            out[at] = float(row["price_eur_mwh"]) / 1000.0
    return out


@functools.cache
def pv_load_factor(data: Path, year: int) -> dict[datetime, float]:
    out = {}
    path = data / "be_solar_pv_elia_15min" / f"elia_ods032_solar_belgium_{year}_15min.csv"
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["loadfactor_pct"]:
                out[datetime.fromisoformat(row["datetime_utc"])] = float(row["loadfactor_pct"]) / 100.0
    return out


@functools.cache
def fluvius_offtake_kw(data: Path) -> dict[tuple[str, str], float]:
    """(dd/mm/yyyy, HH:MM:SS) -> offtake [kW] (day + night registers, kWh per quarter x 4)."""
    out: dict[tuple[str, str], float] = {}
    path = data / "household_fluvius_15min_be" / "fluvius_consumption_history_electricity_15min.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f, delimiter=";"):
            if row["Register"].startswith("Offtake") and row["Volume"]:
                key = (row["From (date)"], row["From (time)"])
                out[key] = out.get(key, 0.0) + float(row["Volume"].replace(",", ".")) * 4.0
    return out


def base_profile_kw(data: Path, day: str) -> list[float]:
    """One local day (dd/mm/yyyy) of the Fluvius home as 96 values [kW]."""
    offtake = fluvius_offtake_kw(data)
    values = []
    for q in range(SLOTS):
        label = f"{q // 4:02d}:{(q % 4) * 15:02d}:00"
        values.append(round(offtake.get((day, label), 0.0), 6))
    return values


@functools.cache
def ev_sessions(data: Path) -> list[tuple[float, float, float]]:
    """(plug-in hour of day, duration [h], energy [kWh]) of the Trondheim sessions."""
    out = []
    path = data / "ev_sessions_trondheim_residential" / "Dataset_1_EV_charging_reports.csv"
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            if "NA" in (row["Duration_hours"], row["El_kWh"]):
                continue
            plug = datetime.strptime(row["Start_plugin"], "%d.%m.%Y %H:%M")
            out.append(
                (
                    plug.hour + plug.minute / 60,
                    float(row["Duration_hours"].replace(",", ".")),
                    float(row["El_kWh"].replace(",", ".")),
                )
            )
    return out


def evening_sessions(data: Path, count: int, offset: int = 0) -> list[tuple[float, float, float]]:
    """Sessions plugged in 16:00-21:00 for 8-16 h with 5-40 kWh: the usual home overnight charge."""
    picked = [s for s in ev_sessions(data) if 16 <= s[0] < 21 and 8 <= s[1] <= 16 and 5 <= s[2] <= 40]
    return picked[offset : offset + count]


def make_scenario(
    data: Path,
    *,
    start: datetime,
    fluvius_day: str,
    homes: int = 3,
    kwp: float = 6.0,
    ev_modes: tuple[str, ...] = ("smart", "solar", "boost"),
    capacity_eur_per_kw_month: float = 3.37,
    ev_offset: int = 0,
) -> dict[str, Any]:
    """A scenario of `homes` homes from start (UTC) over 96 quarter-hours of real data."""
    slots = [start + i * DT for i in range(SLOTS)]
    prices = day_ahead_eur_per_kwh(data)
    lf = pv_load_factor(data, start.year)
    dam = [prices[t] for t in slots]
    base = base_profile_kw(data, fluvius_day)
    sessions = evening_sessions(data, homes, ev_offset)
    sites = []
    for h in range(homes):
        scale = 0.8 + 0.2 * h  # homes differ a little in size
        site: dict[str, Any] = {
            "site_id": f"home-{h:03d}",
            "import_limit_kw": 9.2,
            "export_limit_kw": 5.0 + h,
            "month_peak_kw": 2.0 + h,
            "base_load_kw": [round(b * scale, 6) for b in base],
            "pv": {
                "forecast_kw": [round(lf.get(t, 0.0) * kwp * scale, 6) for t in slots],
                "curtailable": h % 2 == 0,
            },
        }
        if h % 3 != 2:
            site["battery"] = {
                "capacity_kwh": 10.0,
                "soc_kwh": 4.0 + h,
                "min_soc_kwh": 1.0,
                "max_charge_kw": 5.0,
                "max_discharge_kw": 5.0,
                "charge_efficiency": 0.95,
                "discharge_efficiency": 0.95,
                "final_soc_min_kwh": 4.0,
            }
        if h < len(sessions):
            hour, duration, energy = sessions[h]
            arrival = start.replace(hour=0, minute=0) + timedelta(hours=hour)
            if arrival < start:
                arrival += timedelta(days=1)
            mode = ev_modes[h % len(ev_modes)]
            if mode == "solar":  # a solar session at midday, when there is a surplus to use
                arrival = start.replace(hour=9, minute=7)
            site["evs"] = [
                {
                    "ev_id": f"ev-{h}",
                    "arrival": arrival.isoformat(),
                    "departure": (arrival + timedelta(hours=duration)).isoformat(),
                    "energy_needed_kwh": round(energy, 3),
                    "max_power_kw": 7.4,
                    "efficiency": 0.92,
                    "mode": mode,
                }
            ]
        sites.append(site)
    return {
        "start": start.isoformat(),
        "resolution_minutes": 15,
        "horizon_slots": SLOTS,
        "tariff": {
            "import_eur_per_kwh": [round(p + IMPORT_ADDER_EUR_PER_KWH, 6) for p in dam],
            "export_eur_per_kwh": [round(p - EXPORT_FEE_EUR_PER_KWH, 6) for p in dam],
            "capacity_eur_per_kw_month": capacity_eur_per_kw_month,
        },
        "sites": sites,
    }


@functools.cache
def imbalance_eur_per_kwh(data: Path) -> dict[datetime, float]:
    out = {}
    with open(data / "be_imbalance_prices_15min" / "imbalance_actual.csv", newline="") as f:
        for row in csv.DictReader(f):
            at = datetime.fromisoformat(row["datetime_utc"]).replace(tzinfo=UTC)
            out[at] = float(row["price_eur_mwh"]) / 1000.0
    return out


def with_imbalance(data: Path, scenario: dict[str, Any], nominated_kw: float) -> dict[str, Any]:
    """Add the Elia imbalance price of the same quarter-hours and a flat nomination."""
    start = datetime.fromisoformat(scenario["start"])
    prices = imbalance_eur_per_kwh(data)
    scenario = dict(scenario)
    scenario["portfolio"] = {
        "imbalance_eur_per_kwh": [round(prices[start + i * DT], 6) for i in range(SLOTS)],
        "nominated_net_kw": [nominated_kw] * SLOTS,
    }
    return scenario
