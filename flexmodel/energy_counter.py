"""Measured energy over time: a device's import counter, or its power samples integrated.

The agent reports each device's `energy_import` counter [Wh] and its `power` [W] as point
samples (docs/openadr-mapping.md, TELEMETRY_USAGE). Everything that needs the energy of an
interval (a session, a quarter-hour) asks an `EnergyCounter`: cumulative kWh as a
piecewise-linear function of time, built from the counter where the device has one (measured
energy, exact at each sample) or else from its power samples (each sample's power held until
the next one: an estimate, said so by `estimated`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Sample = tuple[datetime, float]

# A power sample stands for at most this long: past it, a silent device counts no energy
# (a gap in the telemetry is unmeasured, not the last power repeated for hours).
MAX_HOLD = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SlotGrid:
    """`slots` back-to-back intervals of `resolution` from `start` (tz-aware UTC)."""

    start: datetime
    resolution: timedelta
    slots: int

    @property
    def end(self) -> datetime:
        return self.start + self.slots * self.resolution

    def starts(self) -> Iterator[datetime]:
        return (self.start + i * self.resolution for i in range(self.slots))

    def index(self, at: datetime) -> int:
        """The slot holding `at` (may be outside 0..slots-1)."""
        return (at - self.start) // self.resolution


def floor_to(at: datetime, resolution: timedelta) -> datetime:
    """The start of the `resolution` slot (aligned to the epoch, so to UTC quarter-hours) holding `at`."""
    epoch = datetime(1970, 1, 1, tzinfo=at.tzinfo)
    return epoch + ((at - epoch) // resolution) * resolution


@dataclass(frozen=True, slots=True)
class EnergyCounter:
    """Cumulative energy [kWh] at `times` (ascending); linear in between, unknown outside."""

    times: tuple[datetime, ...]
    kwh: tuple[float, ...]
    estimated: bool = False  # True: integrated from power samples (estimated)

    @classmethod
    def from_counter(cls, samples: Sequence[Sample]) -> EnergyCounter:
        """From counter readings [kWh]. A reading below the one before is a reset (a replaced or
        restarted meter): the count goes on from there rather than going negative."""
        times: list[datetime] = []
        kwh: list[float] = []
        total = 0.0
        previous: float | None = None
        for at, reading in sorted(samples, key=lambda s: s[0]):
            if previous is not None:
                total += reading - previous if reading >= previous else reading
            previous = reading
            if times and times[-1] == at:  # a reading sent twice: the later one stands
                kwh[-1] = total
            else:
                times.append(at)
                kwh.append(total)
        return cls(tuple(times), tuple(kwh))

    @classmethod
    def from_power(cls, samples: Sequence[Sample], max_hold: timedelta = MAX_HOLD) -> EnergyCounter:
        """From power samples [kW], each held until the next sample but at most `max_hold`.
        Pass only the direction wanted (e.g. max(0, p) for import)."""
        ordered = sorted(samples, key=lambda s: s[0])
        times: list[datetime] = []
        kwh: list[float] = []
        total = 0.0
        for i, (at, power_kw) in enumerate(ordered):
            if times and times[-1] == at:
                continue
            times.append(at)
            kwh.append(total)
            if i + 1 < len(ordered):
                following = ordered[i + 1][0]
                hold_end = min(following, at + max_hold)
                total += power_kw * (hold_end - at) / timedelta(hours=1)
                if hold_end < following:  # silent after the hold: flat until the next sample
                    times.append(hold_end)
                    kwh.append(total)
        return cls(tuple(times), tuple(kwh), estimated=True)

    def __bool__(self) -> bool:
        return bool(self.times)

    def at(self, moment: datetime) -> float | None:
        """The cumulative kWh at `moment`; None outside the samples' span."""
        if not self.times or not self.times[0] <= moment <= self.times[-1]:
            return None
        i = bisect_right(self.times, moment) - 1
        if self.times[i] == moment or i + 1 >= len(self.times):
            return self.kwh[i]
        t0, t1 = self.times[i], self.times[i + 1]
        return self.kwh[i] + (self.kwh[i + 1] - self.kwh[i]) * ((moment - t0) / (t1 - t0))

    def between(self, start: datetime, end: datetime) -> float | None:
        """The energy [kWh] over [start, end) as far as the samples cover it; None if no two
        samples span any of it (nothing measured there)."""
        if not self.times:
            return None
        lo, hi = max(start, self.times[0]), min(end, self.times[-1])
        if hi <= lo:
            return None
        low, high = self.at(lo), self.at(hi)
        assert low is not None and high is not None  # both inside the span
        return high - low

    def per_slot(self, grid: SlotGrid) -> list[float | None]:
        """The energy [kWh] of each slot of the grid (None: no sample reaches into the slot)."""
        return [self.between(s, s + grid.resolution) for s in grid.starts()]
