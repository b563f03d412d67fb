"""A series of slot means as a matrix: one row per local day, one column per slot of the day.

The column is the slot's wall-clock time of day, so a weekday's 08:00 lines up with every other
day's 08:00 across a clock change (what a household's routine follows). On the day the clocks go
back the repeated hour's second pass is left out; on the day they go forward the missing hour's
columns stay NaN. Missing slots are NaN, never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import numpy as np

DAY = timedelta(days=1)


class InsufficientHistory(ValueError):
    """Too little measured history for a forecast; the message names what is missing."""


@dataclass(frozen=True, slots=True)
class DayMatrix:
    """`kw[i, j]`: the mean power [kW] of slot j (wall-clock time j x resolution) of local day
    `first_day + i` in `zone`; NaN where nothing was measured."""

    first_day: date
    zone: tzinfo
    resolution: timedelta
    kw: np.ndarray

    @property
    def days(self) -> list[date]:
        return [self.first_day + i * DAY for i in range(self.kw.shape[0])]

    def row(self, day: date) -> int:
        return (day - self.first_day).days


def slots_per_day(resolution: timedelta) -> int:
    if resolution <= timedelta(0) or DAY % resolution:
        raise ValueError(f"a resolution of {resolution} does not divide a day")
    return DAY // resolution


def day_matrix(
    series: Mapping[datetime, float], zone: tzinfo, resolution: timedelta, first_day: date, last_day: date
) -> DayMatrix:
    """The series' slots (tz-aware slot starts) of the local days first_day..last_day."""
    per_day = slots_per_day(resolution)
    n_days = (last_day - first_day).days + 1
    kw = np.full((max(0, n_days), per_day), np.nan)
    for at, value in series.items():
        local = at.astimezone(zone)
        i = (local.date() - first_day).days
        if not 0 <= i < n_days:
            continue
        since_midnight = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        j = since_midnight // resolution
        if np.isnan(kw[i, j]):  # the repeated hour's first pass wins
            kw[i, j] = value
    return DayMatrix(first_day, zone, resolution, kw)


def slot_starts(day: date, zone: tzinfo, resolution: timedelta) -> list[tuple[int, datetime]]:
    """(column, UTC start) of each wall-clock slot of the local day; a time the clocks skip has
    none, and a repeated time is its first pass (as day_matrix keeps it)."""
    out = []
    for j in range(slots_per_day(resolution)):
        wall = datetime.combine(day, time(0)) + j * resolution
        as_utc = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if as_utc.astimezone(zone).replace(tzinfo=None) == wall:  # a time that exists that day
            out.append((j, as_utc))
    return out
