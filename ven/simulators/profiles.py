"""Deterministic (seeded) profiles of the simulated home: PV availability, base load, weather.

Times are epoch seconds; the shapes use UTC hour of day (a home in Belgium, UTC+1/+2, is
close enough for a simulator). The same seed gives the same profile, so tests repeat.
"""

from __future__ import annotations

import math
import random

DAY_S = 86400.0


def _hour(now_s: float) -> float:
    return (now_s % DAY_S) / 3600.0


class Noise:
    """Smooth seeded noise in [-1, 1]: linear interpolation between values every `step_s`."""

    def __init__(self, seed: int, step_s: float) -> None:
        self._seed = seed
        self._step_s = step_s

    def _at(self, k: int) -> float:
        return float(random.Random(self._seed * 1_000_003 + k).uniform(-1.0, 1.0))

    def __call__(self, now_s: float) -> float:
        x = now_s / self._step_s
        k = math.floor(x)
        frac = x - k
        return self._at(k) * (1 - frac) + self._at(k + 1) * frac


class PvProfile:
    """Available PV power: a clear-sky bell between sunrise and sunset times a cloud factor."""

    def __init__(
        self,
        nominal_kw: float,
        seed: int,
        sunrise_h: float = 6.0,
        sunset_h: float = 19.0,
        cloudiness: float = 0.3,
    ) -> None:
        self.nominal_kw = nominal_kw
        self._sunrise_h = sunrise_h
        self._sunset_h = sunset_h
        self._cloudiness = cloudiness
        self._noise = Noise(seed, 900.0)

    def clear_sky_kw(self, now_s: float) -> float:
        hour = _hour(now_s)
        if not self._sunrise_h < hour < self._sunset_h:
            return 0.0
        phase = (hour - self._sunrise_h) / (self._sunset_h - self._sunrise_h)
        return 0.85 * self.nominal_kw * float(math.sin(math.pi * phase) ** 1.5)

    def available_kw(self, now_s: float) -> float:
        cloud = 1.0 - self._cloudiness * (0.5 + 0.5 * self._noise(now_s))
        return max(0.0, self.clear_sky_kw(now_s) * cloud)


class BaseLoadProfile:
    """The home's uncontrolled load: a floor, a morning and an evening bump, seeded noise."""

    def __init__(self, seed: int, floor_kw: float = 0.3, evening_kw: float = 1.2) -> None:
        self._floor_kw = floor_kw
        self._evening_kw = evening_kw
        self._noise = Noise(seed + 17, 600.0)

    def expected_kw(self, now_s: float) -> float:
        hour = _hour(now_s)
        morning = 0.5 * self._evening_kw * math.exp(-((hour - 7.0) ** 2) / 2.0)
        evening = self._evening_kw * math.exp(-((hour - 19.0) ** 2) / 4.0)
        return self._floor_kw + morning + evening

    def load_kw(self, now_s: float) -> float:
        return max(0.05, self.expected_kw(now_s) * (1.0 + 0.25 * self._noise(now_s)))


class ConstantLoad:
    """A fixed base load (tests that check the meter's sum exactly)."""

    def __init__(self, load_kw: float) -> None:
        self._load_kw = load_kw

    def expected_kw(self, now_s: float) -> float:
        return self._load_kw

    def load_kw(self, now_s: float) -> float:
        return self._load_kw


def outdoor_temperature_c(now_s: float) -> float:
    """A mild winter day: 2 °C at 05:00, 8 °C at 15:00."""
    return 5.0 + 3.0 * math.sin(2 * math.pi * (_hour(now_s) - 9.0) / 24.0)
