"""Clocks passed into the simulators and the agent (never read the wall clock directly).

Times are seconds since the epoch (UTC), as on the bus (SenML `bt`, `ts`, `valid_until`).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    @property
    def speed(self) -> float: ...


def to_datetime(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


class WallClock:
    """Real time."""

    speed = 1.0

    def now(self) -> float:
        return time.time()


class AcceleratedClock:
    """Simulated time running `speed` times faster than real time from `origin_s` on."""

    def __init__(self, speed: float = 1.0, origin_s: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be positive")
        self._speed = speed
        self._origin_s = time.time() if origin_s is None else origin_s
        self._start = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._origin_s + (time.monotonic() - self._start) * self._speed


class ManualClock:
    """A clock the test moves by hand."""

    speed = 1.0

    def __init__(self, now_s: float) -> None:
        self._now = now_s
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now_s: float) -> None:
        with self._lock:
            self._now = now_s
