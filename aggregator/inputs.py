"""The closed loop's inputs as plain values: prices, imbalance, DR windows, homes.

Times are tz-aware UTC; series are labelled by their slot start (`start + t * resolution`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class WindowKind(enum.StrEnum):
    CAP = "cap"
    FLOOR = "floor"


@dataclass(frozen=True, slots=True)
class Series:
    """Values per slot from `start` on, `resolution` apart."""

    start: datetime
    resolution: timedelta
    values: tuple[float, ...]

    @property
    def end(self) -> datetime:
        return self.start + len(self.values) * self.resolution

    def at(self, moment: datetime) -> float | None:
        """The value of the slot holding `moment`; None outside the series."""
        if moment < self.start or moment >= self.end:
            return None
        return self.values[int((moment - self.start) / self.resolution)]

    def at_time_of_day(self, moment: datetime) -> float:
        """The value at `moment`, or at the same time of day of a covered day (day-ahead prices
        repeat their daily shape best); the nearest end when the series is shorter than a day."""
        exact = self.at(moment)
        if exact is not None:
            return exact
        day = timedelta(days=1)
        shifted = moment
        step = day if moment < self.start else -day
        for _ in range(400):
            shifted += step
            value = self.at(shifted)
            if value is not None:
                return value
            if (step > timedelta(0) and shifted > self.end) or (step < timedelta(0) and shifted < self.start):
                break
        return self.values[0] if moment < self.start else self.values[-1]


@dataclass(frozen=True, slots=True)
class Prices:
    import_eur_per_kwh: Series
    export_eur_per_kwh: Series
    capacity_eur_per_kw_month: float = 0.0


@dataclass(frozen=True, slots=True)
class Imbalance:
    imbalance_eur_per_kwh: Series
    nominated_net_kw: Series | None = None


@dataclass(frozen=True, slots=True)
class PortfolioWindow:
    """A DR request: the portfolio's net import at most (cap) / at least (floor) `power_kw` [kW]."""

    request_id: str
    kind: WindowKind
    start: datetime
    end: datetime
    power_kw: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Home:
    """A registered home as the planner sees it.

    `site` is its plan-format `sites[]` entry (None: no usable flexibility report yet).
    `fixed_kw` set: the home is excluded from steering (opted out, offline, deviating) and its
    expected net import [kW] per slot of the planning grid is taken as a fixed load.
    """

    ven_id: str
    site_id: str
    site: dict[str, Any] | None
    grid_start: datetime | None = None
    fixed_kw: tuple[float, ...] | None = None
    excluded_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PlanningInputs:
    now: datetime
    homes: tuple[Home, ...]
    prices: Prices | None
    imbalance: Imbalance | None = None
    windows: tuple[PortfolioWindow, ...] = field(default_factory=tuple)
