"""The month's peak as the capacity tariff bills it: the highest clock-quarter average import.

Fed with meter power readings; a quarter's average is the mean of its readings (telemetry
comes at a fixed period, so this is the time average). Export counts as zero import.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

QUARTER_S = 900


def _month(epoch_s: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.year, moment.month


class PeakTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[int, tuple[float, int]] = {}  # quarter index -> (sum kW, count)

    def add(self, time_s: float, import_kw: float) -> None:
        quarter = int(time_s // QUARTER_S)
        with self._lock:
            total, count = self._sums.get(quarter, (0.0, 0))
            self._sums[quarter] = (total + max(0.0, import_kw), count + 1)

    def month_peak_kw(self, now_s: float) -> float:
        """Highest average of the completed quarters of `now_s`'s month (0 when none)."""
        month = _month(now_s)
        current = int(now_s // QUARTER_S)
        with self._lock:
            for quarter in [q for q in self._sums if _month(q * QUARTER_S) != month]:
                del self._sums[quarter]
            averages = [t / c for q, (t, c) in self._sums.items() if q < current and c]
        return max(averages, default=0.0)
