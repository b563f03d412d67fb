"""How well a baseline method predicts a home's load on days without an event.

Scored as Elia's baseline study (public consultation, 2021) compares methods, relative to the
measured load over the test windows:

- relative error = sum |B - M| / sum |M|  (accuracy; 0 is perfect),
- bias           = sum (B - M) / sum |M|  (positive: the baseline over-estimates, which pays a
  reduction that did not happen).

`backtest` plays an event window on each test day (a day without an event) and compares the
method's baseline with what the meter read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flexmodel.mv.baselines import Baseline, BaselineUnavailable, Series


@dataclass(frozen=True, slots=True)
class Accuracy:
    relative_error: float | None  # None: nothing to compare (no day, or nothing measured)
    bias: float | None
    intervals: int
    days: int


def score(pairs: Iterable[tuple[float, float]], days: int) -> Accuracy:
    """From (baseline kW, measured kW) per slot."""
    error = signed = total = 0.0
    n = 0
    for baseline_kw, measured_kw in pairs:
        error += abs(baseline_kw - measured_kw)
        signed += baseline_kw - measured_kw
        total += abs(measured_kw)
        n += 1
    if n == 0 or total == 0:
        return Accuracy(None, None, n, days)
    return Accuracy(error / total, signed / total, n, days)


def backtest(
    measured: Series,
    zone: ZoneInfo,
    test_days: Iterable[date],
    window_start: time,
    window: timedelta,
    baseline_for: Callable[[datetime, datetime], Baseline],
) -> Accuracy:
    """The method `baseline_for(start, end)` scored over the window [window_start local,
    + window) of each test day; a day it cannot make a baseline for is left out."""
    pairs: list[tuple[float, float]] = []
    days = 0
    for day in test_days:
        start = datetime.combine(day, window_start, zone)
        try:
            baseline = baseline_for(start, start + window)
        except BaselineUnavailable:
            continue
        got = [(kw, measured[s]) for s, kw in zip(baseline.slots, baseline.kw, strict=True) if s in measured]
        if got:
            days += 1
            pairs += got
    return score(pairs, days)
