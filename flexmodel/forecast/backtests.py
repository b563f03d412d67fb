"""The day-ahead forecasts played over measured days, from a measured series (pure).

    base_load_backtest(series, zone, resolution, first, last) -> Backtest
    pv_backtest(series, array, resolution, first, last) -> (Backtest, PvCalibration | None)

A series maps tz-aware slot starts to mean power [kW] (positive: consumption for the base load,
production for PV). The days first..last are local days in `zone` (base load) or the array's
solar days (PV); the history each forecast reads is the series before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo

import numpy as np

from flexmodel.forecast.base_load import BaseLoadOptions, base_load_day_ahead
from flexmodel.forecast.days import DayMatrix, InsufficientHistory, day_matrix, slots_per_day
from flexmodel.forecast.pv import (
    PvCalibration,
    PvDayAheadOptions,
    fit_pv_scale,
    pv_day_ahead,
    solar_zone,
)
from flexmodel.forecast.scores import Backtest, day_ahead_backtest
from flexmodel.solar import SLOT, PvArray, clear_sky_power_kw


def base_load_backtest(
    series: Mapping[datetime, float],
    zone: tzinfo,
    resolution: timedelta,
    first: date,
    last: date,
    options: BaseLoadOptions = BaseLoadOptions(),
) -> Backtest:
    since = first - timedelta(weeks=options.weeks)
    history = day_matrix(series, zone, resolution, since, last)
    return day_ahead_backtest(history, lambda day: base_load_day_ahead(history, day, options), first, last)


def clear_sky_matrix(array: PvArray, first: date, last: date, resolution: timedelta = SLOT) -> DayMatrix:
    """The array's clear-sky power (flexmodel/solar.py) over its solar days first..last, per
    slot of `resolution` (a multiple of 15 minutes: the quarters averaged)."""
    if resolution % SLOT:
        raise ValueError(f"a resolution of {resolution} is not a multiple of 15 minutes")
    zone = solar_zone(array.longitude_deg)
    days = (last - first).days + 1
    quarters = np.asarray(
        clear_sky_power_kw(array, datetime.combine(first, time(0), zone), days * slots_per_day(SLOT))
    )
    per = resolution // SLOT
    kw = quarters.reshape(-1, per).mean(axis=1).reshape(days, slots_per_day(resolution))
    return DayMatrix(first, zone, resolution, kw)


def pv_backtest(
    series: Mapping[datetime, float],
    array: PvArray,
    resolution: timedelta,
    first: date,
    last: date,
    options: PvDayAheadOptions = PvDayAheadOptions(),
) -> tuple[Backtest, PvCalibration | None]:
    """The day-ahead PV forecast over the solar days first..last, and the array's calibration
    from the window before `first` (None when that window holds too few complete days)."""
    since = first - timedelta(days=options.window_days + 1)
    measured = day_matrix(series, solar_zone(array.longitude_deg), resolution, since, last)
    clear = clear_sky_matrix(array, since, last, resolution)

    def forecast(day: date) -> np.ndarray:
        return pv_day_ahead(measured, clear, day, clear.kw[clear.row(day)], options)

    before = slice(0, measured.row(first) - 1)  # known at noon before `first`
    try:
        calibration: PvCalibration | None = fit_pv_scale(measured.kw[before], clear.kw[before])
    except InsufficientHistory:
        calibration = None
    return day_ahead_backtest(measured, forecast, first, last), calibration
