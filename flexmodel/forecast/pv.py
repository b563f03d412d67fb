"""A site's PV production: the per-site calibration of the pvlib model, and a day-ahead forecast
when no weather forecast reaches the site (pure; numpy only).

Both work on days x slots matrices (forecast/days.py) over "solar days": a fixed UTC offset
from the site's longitude (solar_zone), so that a day never splits around noon and no clock
change shifts the sun's columns.

- fit_pv_scale: measured / modelled energy over the clearest days of the history. The model is
  flexmodel/solar.py under clear-sky irradiance; on a cloudless day the two differ by what the
  array's parameters miss (orientation, shade, soiling, an optimistic kWp). The clearest days
  are the CLEAR_SHARE of days with the highest measured / modelled ratio: chosen by the ratio's
  rank, not a threshold, so that a model off by any factor still finds them. The scale is
  bounded to SCALE_BOUNDS: farther out, the parameters are wrong (kW for W, a flipped azimuth),
  and the fit says so (`bounded`) rather than rescue them.
- pv_day_ahead: without a weather forecast, tomorrow's clear-sky production times the clear-sky
  index expected for it, per slot: the index of the window's days (their measured over modelled
  energy) blended with the last day's (weather persists a little), times a per-slot shape
  correction from the window (a tree's shade in the morning, an east-west split).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone

import numpy as np

from flexmodel.forecast.days import DayMatrix, InsufficientHistory

CLEAR_SHARE = 0.2
MIN_CLEAR_DAYS = 3
SCALE_BOUNDS = (0.5, 1.5)


def solar_zone(longitude_deg: float) -> timezone:
    """The site's solar days: UTC plus a whole hour per 15° east."""
    return timezone(timedelta(hours=round(longitude_deg / 15.0)))


@dataclass(frozen=True, slots=True)
class PvCalibration:
    scale: float  # multiplies the modelled power
    clear_days: int  # the days the scale was fitted on
    bounded: bool  # the fit fell outside SCALE_BOUNDS and was clipped: check the array's parameters


def _in_daylight(measured: np.ndarray, modelled: np.ndarray) -> np.ndarray:
    """The measured power with the slots the model puts in the dark read as 0: a slot missing
    at night (a meter's gap, Elia's nightly 23:45 in 2024) leaves the day complete."""
    return np.where(np.nan_to_num(modelled) > 0, measured, 0.0)


def _complete_sunny_days(measured: np.ndarray, modelled: np.ndarray) -> np.ndarray:
    """The rows measured in every lit slot, with some modelled production."""
    complete = ~np.isnan(_in_daylight(measured, modelled)).any(axis=1) & ~np.isnan(modelled).any(axis=1)
    return np.flatnonzero(complete & (np.nan_to_num(modelled).sum(axis=1) > 0))


def fit_pv_scale(measured_kw: np.ndarray, modelled_kw: np.ndarray, min_days: int = 7) -> PvCalibration:
    """The scale of the modelled clear-sky power [kW] (days x slots) that best matches the
    measured power on the clearest complete days. InsufficientHistory with fewer than
    `min_days` complete days of measured production."""
    days = _complete_sunny_days(measured_kw, modelled_kw)
    measured_kw = _in_daylight(measured_kw, modelled_kw)
    if len(days) < min_days:
        raise InsufficientHistory(
            f"a PV calibration needs {min_days} days of measured production; found {len(days)} complete"
        )
    ratio = measured_kw[days].sum(axis=1) / modelled_kw[days].sum(axis=1)
    clearest = days[np.argsort(ratio)[::-1][: max(MIN_CLEAR_DAYS, round(CLEAR_SHARE * len(days)))]]
    fitted = float(measured_kw[clearest].sum() / modelled_kw[clearest].sum())
    low, high = SCALE_BOUNDS
    scale = min(high, max(low, fitted))
    return PvCalibration(scale, len(clearest), scale != fitted)


@dataclass(frozen=True, slots=True)
class PvDayAheadOptions:
    window_days: int = 21  # the days whose clear-sky index is expected again
    min_days: int = 7  # complete days in the window, at least
    last_day_weight: float = 0.3  # the last complete day's index in the blend
    shape_bounds: tuple[float, float] = (0.2, 2.0)
    # Slots whose modelled energy is below this share of the largest keep shape 1 (deep night).
    shape_min_share: float = 0.01


def pv_day_ahead(
    measured: DayMatrix,
    clear_sky: DayMatrix,
    day: date,
    day_clear_sky_kw: np.ndarray,
    options: PvDayAheadOptions = PvDayAheadOptions(),
) -> np.ndarray:
    """The PV power [kW] per slot of solar day `day`, issued at noon the day before, from the
    complete days of the `window_days` before it that ended by then (up to day - 2).
    `measured` and `clear_sky` cover the same days; `day_clear_sky_kw` is the model's clear-sky
    power for `day` itself. InsufficientHistory with fewer than `min_days` complete days."""
    last = clear_sky.row(day - timedelta(days=2))
    first = max(0, last + 1 - options.window_days)
    m, c = measured.kw[first : last + 1], clear_sky.kw[first : last + 1]
    rows = _complete_sunny_days(m, c) if len(m) else np.array([], dtype=int)
    if len(rows) < options.min_days:
        raise InsufficientHistory(
            f"a PV forecast for {day.isoformat()} needs {options.min_days} complete days of measured "
            f"production in the {options.window_days} days up to {(day - timedelta(days=2)).isoformat()}; "
            f"found {len(rows)}"
        )
    m, c = _in_daylight(m[rows], c[rows]), c[rows]
    window_index = float(m.sum() / c.sum())
    last_index = float(m[-1].sum() / c[-1].sum())
    index = options.last_day_weight * last_index + (1 - options.last_day_weight) * window_index
    per_slot_c = c.sum(axis=0)
    lit = per_slot_c >= options.shape_min_share * per_slot_c.max()
    shape = np.ones(per_slot_c.shape)
    if window_index > 0:
        shape[lit] = m.sum(axis=0)[lit] / per_slot_c[lit] / window_index
    low, high = options.shape_bounds
    forecast: np.ndarray = np.clip(
        np.asarray(day_clear_sky_kw) * index * np.clip(shape, low, high), 0.0, None
    )
    return forecast
