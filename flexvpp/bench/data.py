"""Read one day of the shared public data (../shared/data) for the planning benchmark.

This is the I/O half of `flexvpp bench plan`; flexvpp.bench.homes turns the arrays into a portfolio.
Sources (see each folder's SOURCE.md): Belgian day-ahead prices (ENTSO-E, 15 min, UTC), Elia's
day-ahead PV forecast for Belgium (load factor = forecast MW / monitored MWp), one Flemish
household's Fluvius offtake (kWh per quarter-hour, local time), and Trondheim residential EV
charging sessions.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from flexvpp.bench.homes import SLOTS_PER_DAY, DayInputs, EvSessions, FloatArray

BRUSSELS = ZoneInfo("Europe/Brussels")
SLOT = timedelta(minutes=15)


class BenchDataError(ValueError):
    """The shared data is missing something the benchmark needs; the message names the file."""


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)


def load_day(data_dir: Path, day: date) -> DayInputs:
    """The benchmark inputs of one Brussels day from the shared data directory."""
    start = local_midnight(day)
    slots_utc = [(start + k * SLOT).astimezone(UTC) for k in range(SLOTS_PER_DAY)]
    return DayInputs(
        start=start,
        day_ahead_eur_per_kwh=_prices(data_dir / "be_dam_prices_15min" / "dam_prices.csv", slots_utc)
        / 1000.0,
        pv_load_factor=_pv_load_factor(data_dir / "be_solar_pv_elia_15min", slots_utc),
        base_profiles_kw=_household_profiles(data_dir / "household_fluvius_15min_be"),
        ev_sessions=_ev_sessions(
            data_dir / "ev_sessions_trondheim_residential" / "Dataset_1_EV_charging_reports.csv"
        ),
        source=f"shared data in {data_dir}",
    )


def _series_on(values: dict[datetime, float], slots_utc: list[datetime], path: Path) -> FloatArray:
    """Values at the slots; a few missing quarter-hours (DST gaps in the source) are carried forward."""
    out = np.full(len(slots_utc), np.nan)
    for k, ts in enumerate(slots_utc):
        out[k] = values.get(ts, np.nan)
    missing = int(np.isnan(out).sum())
    if missing > 8:
        raise BenchDataError(f"{path}: {missing} of {len(out)} quarter-hours missing from {slots_utc[0]}")
    for k in range(len(out)):
        if np.isnan(out[k]):
            out[k] = out[k - 1] if k > 0 else np.nanmean(out)
    return out


def _prices(path: Path, slots_utc: list[datetime]) -> FloatArray:
    wanted = {ts.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S") for ts in slots_utc}
    values: dict[datetime, float] = {}
    for row in _rows(path, ","):
        if row["datetime_utc"] in wanted:
            ts = datetime.fromisoformat(row["datetime_utc"]).replace(tzinfo=UTC)
            values[ts] = float(row["price_eur_mwh"])
    return _series_on(values, slots_utc, path)


def _pv_load_factor(folder: Path, slots_utc: list[datetime]) -> FloatArray:
    values: dict[datetime, float] = {}
    for year in sorted({ts.year for ts in slots_utc}):
        path = folder / f"elia_ods032_solar_belgium_{year}_15min.csv"
        wanted = {ts.isoformat() for ts in slots_utc}
        for row in _rows(path, ","):
            if row["datetime_utc"] in wanted and row["dayahead11hforecast_mw"]:
                ts = datetime.fromisoformat(row["datetime_utc"])
                values[ts] = float(row["dayahead11hforecast_mw"]) / float(row["monitoredcapacity_mwp"])
    return np.clip(_series_on(values, slots_utc, folder), 0.0, 1.0)


def _household_profiles(folder: Path) -> FloatArray:
    """Each complete local day of offtake as a 96-value load profile [kW]."""
    path = folder / "fluvius_consumption_history_electricity_15min.csv"
    days: dict[str, dict[str, float]] = defaultdict(dict)
    for row in _rows(path, ";"):
        if not row["Register"].startswith("Offtake"):
            continue
        kwh = float(row["Volume"].replace(",", ".")) if row["Volume"] else 0.0
        slot = days[row["From (date)"]]
        slot[row["From (time)"]] = slot.get(row["From (time)"], 0.0) + kwh * 4.0
    profiles = [
        [quarters[k] for k in sorted(quarters)]
        for quarters in days.values()
        if len(quarters) == SLOTS_PER_DAY
    ]
    if not profiles:
        raise BenchDataError(f"{path}: no complete day of 96 quarter-hours")
    return np.array(profiles, dtype=np.float64)


def _ev_sessions(path: Path) -> EvSessions:
    arrival, duration, energy = [], [], []
    for row in _rows(path, ";"):
        if row["Duration_hours"] in ("", "NA") or row["El_kWh"] in ("", "NA"):
            continue
        hours = float(row["Duration_hours"].replace(",", "."))
        kwh = float(row["El_kWh"].replace(",", "."))
        if not (0.5 <= hours <= 48.0 and kwh >= 1.0):
            continue  # drop test plug-ins and week-long parking
        plug_in = datetime.strptime(row["Start_plugin"], "%d.%m.%Y %H:%M")
        arrival.append(plug_in.hour + plug_in.minute / 60.0)
        duration.append(hours)
        energy.append(kwh)
    if not arrival:
        raise BenchDataError(f"{path}: no usable charging session")
    return EvSessions(np.array(arrival), np.array(duration), np.array(energy))


def _rows(path: Path, delimiter: str) -> csv.DictReader[str]:
    if not path.is_file():
        raise BenchDataError(f"{path}: not found (is --data the shared data directory?)")
    # utf-8-sig: the Fluvius export starts with a byte-order mark.
    return csv.DictReader(path.open(encoding="utf-8-sig", newline=""), delimiter=delimiter)
