"""The month's peak as the capacity tariff bills it, and the current quarter hour so far.

The tariff bills the highest clock-quarter mean import of the month. Fed with the meter's
readings: its power and, where the meter has one, its `energy_import` counter. A quarter's mean
comes from the counter (energy between two readings over the time between them: exact when
the meter reads at the quarter's edges, as the simulated one does); without a counter it is
the mean of the power readings (telemetry comes at a fixed period, so a time average). Export
counts as zero import.

A quarter the agent saw only in part (it started inside it) counts by the mean of the power
readings it saw: the counter says nothing of what came before the first reading.

Months start at midnight of the first day in the site's time zone (a Belgian month starts at
23:00 or 22:00 UTC); quarter hours are the same in every whole-hour zone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

QUARTER_S = 900
QUARTER_H = QUARTER_S / 3600.0


@dataclass(slots=True)
class _Quarter:
    """What the meter said during one quarter (mutable: filled as readings come)."""

    first_s: float
    first_kwh: float | None  # the import counter at the first reading [kWh]
    first_kw: float  # import power at the first reading [kW]
    last_s: float
    last_kwh: float | None
    last_kw: float  # import power at the last reading [kW]
    power_sum_kw: float = 0.0
    readings: int = 0


@dataclass(frozen=True, slots=True)
class QuarterSoFar:
    """The current quarter from its start to `now_s`."""

    start_s: float
    now_s: float
    energy_kwh: float  # imported since the quarter started, to now (estimated past the last reading)
    import_kw: float  # the last import power the meter read [kW]

    @property
    def end_s(self) -> float:
        return self.start_s + QUARTER_S

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.end_s - self.now_s)


class PeakTracker:
    def __init__(self, tz: tzinfo = UTC) -> None:
        self._tz = tz
        self._lock = threading.Lock()
        self._quarters: dict[int, _Quarter] = {}

    def _month_start_s(self, now_s: float) -> float:
        """When `now_s`'s month began: midnight of its first day in the site's time zone."""
        local = datetime.fromtimestamp(now_s, self._tz)
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0, fold=0).timestamp()

    def add(self, time_s: float, import_kw: float, energy_import_kwh: float | None = None) -> None:
        """One meter reading: power [kW, + import] and the import counter [kWh] when it has one."""
        index = int(time_s // QUARTER_S)
        power = max(0.0, import_kw)
        with self._lock:
            quarter = self._quarters.get(index)
            if quarter is None:
                quarter = self._quarters[index] = _Quarter(
                    time_s, energy_import_kwh, power, time_s, None, power
                )
            elif time_s <= quarter.last_s:
                return  # a reading not newer than one already taken (redelivered): nothing new
            if quarter.first_kwh is None and energy_import_kwh is not None:
                quarter.first_s, quarter.first_kwh = time_s, energy_import_kwh
            quarter.last_s, quarter.last_kw = time_s, power
            if energy_import_kwh is not None:
                quarter.last_kwh = energy_import_kwh
            quarter.power_sum_kw += power
            quarter.readings += 1

    def month_peak_kw(self, now_s: float) -> float:
        """Highest mean import of the completed quarters of `now_s`'s month (0 when none)."""
        month_start_s = self._month_start_s(now_s)  # one time-zone conversion, not one a quarter
        current = int(now_s // QUARTER_S)
        with self._lock:
            for index in [q for q in self._quarters if q < current - 1 and q * QUARTER_S < month_start_s]:
                del self._quarters[index]
            means = [
                self._mean_kw(q) for q in self._quarters if month_start_s <= q * QUARTER_S and q < current
            ]
        return max((m for m in means if m is not None), default=0.0)

    def _mean_kw(self, index: int) -> float | None:
        quarter, following = self._quarters[index], self._quarters.get(index + 1)
        start = float(index * QUARTER_S)
        if quarter.first_kwh is not None and quarter.last_kwh is not None:
            previous = self._quarters.get(index - 1)
            seen_from_start = quarter.first_s <= start or (
                previous is not None and previous.last_kwh is not None
            )
            if not seen_from_start:  # the agent started inside it: the counter says nothing of before
                return quarter.power_sum_kw / quarter.readings
            at_begin = self._counter_at_edge(quarter, previous, start)
            if following is not None and following.first_kwh is not None:  # to the next quarter's edge
                end_s, at_end = (
                    start + QUARTER_S,
                    self._counter_at_edge(following, quarter, start + QUARTER_S),
                )
            else:  # the meter (or the agent) stopped inside it: the mean of what was seen
                end_s, at_end = quarter.last_s, quarter.last_kwh
            if end_s > start and at_end >= at_begin:
                return (at_end - at_begin) * 3600.0 / (end_s - start)
        return quarter.power_sum_kw / quarter.readings if quarter.readings else None

    def quarter_so_far(self, now_s: float) -> QuarterSoFar:
        """The current quarter's import so far; past the last reading the last power is assumed."""
        index = int(now_s // QUARTER_S)
        start = index * QUARTER_S
        with self._lock:
            quarter, previous = self._quarters.get(index), self._quarters.get(index - 1)
            if quarter is None:
                last_kw = previous.last_kw if previous is not None else 0.0
                return QuarterSoFar(start, now_s, last_kw * (now_s - start) / 3600.0, last_kw)
            known_kwh = self._known_kwh(quarter, previous, start)
            ahead_s = max(0.0, now_s - quarter.last_s)
            return QuarterSoFar(start, now_s, known_kwh + quarter.last_kw * ahead_s / 3600.0, quarter.last_kw)

    @staticmethod
    def _counter_at_edge(quarter: _Quarter, previous: _Quarter | None, start_s: float) -> float:
        """The import counter at the quarter's start [kWh] (its first reading has a counter)."""
        assert quarter.first_kwh is not None
        if quarter.first_s <= start_s:
            return quarter.first_kwh
        if previous is not None and previous.last_kwh is not None and previous.last_s < quarter.first_s:
            share = (start_s - previous.last_s) / (quarter.first_s - previous.last_s)
            return previous.last_kwh + (quarter.first_kwh - previous.last_kwh) * share
        # The first reading of all: its power since the edge (for the projection, the cautious guess).
        return quarter.first_kwh - quarter.first_kw * (quarter.first_s - start_s) / 3600.0

    @classmethod
    def _known_kwh(cls, quarter: _Quarter, previous: _Quarter | None, start_s: float) -> float:
        """Imported from the quarter's start to its last reading."""
        if quarter.first_kwh is None or quarter.last_kwh is None:
            mean_kw = quarter.power_sum_kw / quarter.readings if quarter.readings else 0.0
            return mean_kw * (quarter.last_s - start_s) / 3600.0
        return max(0.0, quarter.last_kwh - cls._counter_at_edge(quarter, previous, start_s))
