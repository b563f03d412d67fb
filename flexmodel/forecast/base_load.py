"""A home's base load for a day ahead: its profile by day type and slot, with a recent-level
adjustment (pure; numpy only).

    base_load_day_ahead(history, day, options) -> kW per wall-clock slot of `day`

The profile of a slot is the centre of that slot's values on the same type of day (weekday or
weekend) over the last `weeks` weeks: half the mean plus half the median, then averaged with the
slots either side. A household's quarter-hours are spiky (a kettle, an oven): the median alone
is the MAE-optimal guess but forgets how often the spikes come, the mean alone chases them; the
neighbours smooth a routine that drifts by a quarter-hour. The level adjustment scales the
profile by half the ratio of the last `level_days` days' mean to the whole window's (clipped to
[0.5, 2]): a colder week, a holiday. The choices were compared on the Fluvius and Ausgrid
households (../shared/data): see docs/forecasts.md for the skill of each.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from flexmodel.forecast.days import DayMatrix, InsufficientHistory


@dataclass(frozen=True, slots=True)
class BaseLoadOptions:
    weeks: int = 4  # the profile's window before the forecast day
    min_weekdays: int = 5  # days of the forecast day's type with data in the window, at least
    min_weekend_days: int = 3
    level_days: int = 7  # the recent level: the last days before the forecast is issued
    level_weight: float = 0.5  # 0: no adjustment, 1: the full ratio
    level_bounds: tuple[float, float] = (0.5, 2.0)
    smooth_slots: int = 1  # each side (0: none)
    min_slot_share: float = 0.9  # a history day counts when this share of its slots is measured


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def base_load_day_ahead(
    history: DayMatrix, day: date, options: BaseLoadOptions = BaseLoadOptions()
) -> np.ndarray:
    """The base load [kW] per wall-clock slot of local `day` (history.kw's columns), issued at
    noon the day before: from the history's days in the `weeks` weeks before `day` that ended
    before that (so up to day - 2; later rows are ignored). InsufficientHistory naming the day
    type, the window and how many days were found when fewer than the minimum have data."""
    first = max(0, history.row(day - timedelta(weeks=options.weeks)))
    last = min(history.kw.shape[0] - 1, history.row(day - timedelta(days=2)))
    window = [i for i in range(first, last + 1) if _measured(history, i, options)]
    weekend = is_weekend(day)
    same_type = [i for i in window if is_weekend(history.first_day + timedelta(days=i)) == weekend]
    needed = options.min_weekend_days if weekend else options.min_weekdays
    if len(same_type) < needed:
        kind = "weekend days" if weekend else "weekdays"
        raise InsufficientHistory(
            f"a base-load forecast for {day.isoformat()} needs {needed} {kind} of measured load in the "
            f"{options.weeks} weeks before it (up to {(day - timedelta(days=2)).isoformat()}); found "
            f"{len(same_type)}"
        )
    rows = history.kw[same_type]
    with warnings.catch_warnings():  # a slot NaN on every day (a skipped hour) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(rows, axis=0) if np.isnan(rows).any() else np.median(rows, axis=0)
        profile = 0.5 * (np.nanmean(rows, axis=0) + median)
    profile = _smooth(_fill(profile), options.smooth_slots)
    return np.clip(profile * _level(history, window, options), 0.0, None)


def _measured(history: DayMatrix, i: int, options: BaseLoadOptions) -> bool:
    return bool(np.mean(~np.isnan(history.kw[i])) >= options.min_slot_share)


def _fill(profile: np.ndarray) -> np.ndarray:
    """A column no day measured (the hour the clocks skip) takes its neighbours' values."""
    if not np.isnan(profile).any():
        return profile
    known = np.flatnonzero(~np.isnan(profile))
    filled: np.ndarray = np.interp(np.arange(len(profile)), known, profile[known], period=len(profile))
    return filled


def _smooth(profile: np.ndarray, each_side: int) -> np.ndarray:
    """The mean of each slot and its `each_side` neighbours on both sides, around midnight too."""
    if each_side <= 0:
        return profile
    padded = np.concatenate([profile[-each_side:], profile, profile[:each_side]])
    kernel = np.full(2 * each_side + 1, 1.0 / (2 * each_side + 1))
    smoothed: np.ndarray = np.convolve(padded, kernel, mode="valid")
    return smoothed


def _level(history: DayMatrix, window: list[int], options: BaseLoadOptions) -> float:
    """1 + weight x (recent mean / window mean - 1), the ratio clipped to the bounds."""
    recent = window[-options.level_days :]
    if options.level_weight == 0 or not recent:
        return 1.0
    window_mean = float(np.nanmean(history.kw[window]))
    if window_mean <= 0:
        return 1.0
    low, high = options.level_bounds
    ratio = min(high, max(low, float(np.nanmean(history.kw[recent])) / window_mean))
    return 1.0 + options.level_weight * (ratio - 1.0)
