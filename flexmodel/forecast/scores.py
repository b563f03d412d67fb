"""How good a day-ahead forecast is: MAE, RMSE and the skill against persistence, per lead time.

    day_ahead_backtest(actual, forecast_day, first, last) -> Backtest
    scores_by_lead(backtest, bands) -> (Score per band, ..., Score over all)

Persistence is the reference the forecast must beat: each slot's value the day before (the same
wall-clock slot, 24 h earlier). Issued at noon on D-1, the forecast did not know D-1's afternoon
which persistence uses for D's afternoon: the comparison favours persistence, so a positive
skill is conservative.

Skill = 1 - MAE_forecast / MAE_persistence (and the same with RMSE): 1 is perfect, 0 no better
than persistence, negative worse. Only slots where the forecast, the measurement and
persistence are all known count, so both sides are scored on the same slots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from flexmodel.forecast.days import DayMatrix, InsufficientHistory

ISSUE_HOUR = 12  # the forecast for D is issued at 12:00 local on D-1 (the day-ahead gate closure)
# Lead time of a day-ahead slot: 12 h (D's 00:00) to 36 h (D's last slot), in four bands.
LEAD_BANDS_H: tuple[tuple[float, float], ...] = ((12, 18), (18, 24), (24, 30), (30, 36))


@dataclass(frozen=True, slots=True)
class Score:
    lead_from_h: float  # [h] the band's first lead time (a slot's start after the issue)
    lead_to_h: float  # [h] excluded
    slots: int
    mae_kw: float | None  # None: no slot in the band
    rmse_kw: float | None
    persistence_mae_kw: float | None
    persistence_rmse_kw: float | None
    skill_mae: float | None  # None also when persistence was exact (nothing to beat)
    skill_rmse: float | None


@dataclass(frozen=True, slots=True)
class Backtest:
    """One entry per slot scored; `days` with a slot scored, `skipped` why days were left out."""

    lead_h: np.ndarray
    forecast_kw: np.ndarray
    actual_kw: np.ndarray
    persistence_kw: np.ndarray
    days: int
    skipped: tuple[str, ...]


def score(
    forecast_kw: np.ndarray, actual_kw: np.ndarray, persistence_kw: np.ndarray, band: tuple[float, float]
) -> Score:
    """The band's MAE, RMSE [kW] and skills, from aligned arrays (NaN-free)."""
    n = len(actual_kw)
    if n == 0:
        return Score(band[0], band[1], 0, None, None, None, None, None, None)
    err, ref = np.abs(forecast_kw - actual_kw), np.abs(persistence_kw - actual_kw)
    mae, rmse = float(err.mean()), math.sqrt(float((err**2).mean()))
    p_mae, p_rmse = float(ref.mean()), math.sqrt(float((ref**2).mean()))
    return Score(
        band[0], band[1], n, mae, rmse, p_mae, p_rmse,
        1.0 - mae / p_mae if p_mae > 0 else None,
        1.0 - rmse / p_rmse if p_rmse > 0 else None,
    )  # fmt: skip


def scores_by_lead(
    backtest: Backtest, bands: Sequence[tuple[float, float]] = LEAD_BANDS_H
) -> tuple[tuple[Score, ...], Score]:
    """(one Score per lead band, the Score over every slot)."""
    b = backtest
    per_band = []
    for low, high in bands:
        inside = (b.lead_h >= low) & (b.lead_h < high)
        per_band.append(
            score(b.forecast_kw[inside], b.actual_kw[inside], b.persistence_kw[inside], (low, high))
        )
    whole = (min((lo for lo, _ in bands), default=0.0), max((hi for _, hi in bands), default=0.0))
    return tuple(per_band), score(b.forecast_kw, b.actual_kw, b.persistence_kw, whole)


def day_ahead_backtest(
    actual: DayMatrix, forecast_day: Callable[[date], np.ndarray], first: date, last: date
) -> Backtest:
    """Each day first..last forecast by `forecast_day(day)` (which must use only what was known
    at noon the day before: the days up to day - 2) and set against `actual` and persistence.
    A day the forecast cannot be made for (InsufficientHistory) is skipped, its reason kept."""
    resolution_h = actual.resolution / timedelta(hours=1)
    lead = (24 - ISSUE_HOUR) + resolution_h * np.arange(actual.kw.shape[1])
    parts: list[tuple[np.ndarray, ...]] = []
    skipped: list[str] = []
    day = first
    while day <= last:
        i = actual.row(day)
        if not 0 <= i < actual.kw.shape[0]:
            skipped.append(f"nothing measured on {day.isoformat()}")
            day += timedelta(days=1)
            continue
        try:
            forecast = np.asarray(forecast_day(day), dtype=float)
        except InsufficientHistory as exc:
            skipped.append(str(exc))
        else:
            yesterday = actual.kw[i - 1] if i >= 1 else np.full(actual.kw.shape[1], np.nan)
            known = ~(np.isnan(forecast) | np.isnan(actual.kw[i]) | np.isnan(yesterday))
            if known.any():
                parts.append((lead[known], forecast[known], actual.kw[i][known], yesterday[known]))
        day += timedelta(days=1)
    lead_h, forecast_kw, actual_kw, persistence_kw = (
        np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in range(4)
    )
    return Backtest(lead_h, forecast_kw, actual_kw, persistence_kw, len(parts), tuple(skipped))
