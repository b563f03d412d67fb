"""DR events as the agent sees them, independent of openleadr's dicts (converted in vtn_client).

Randomisation: OpenADR's `startafter` lets each VEN start up to that long after `dtstart`;
the agent draws its own offset once per (VEN, event) from a hash, so a restart keeps the same
offset, and shifts the whole event by it. Ramp-up: during `ramp_up_s` before the (shifted)
start the agent moves linearly from its own setpoint to the event's first value.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace


class SignalName(enum.StrEnum):
    SIMPLE = "SIMPLE"
    ELECTRICITY_PRICE = "ELECTRICITY_PRICE"
    LOAD_DISPATCH = "LOAD_DISPATCH"


class SignalType(enum.StrEnum):
    LEVEL = "level"
    PRICE = "price"
    SETPOINT = "setpoint"
    DELTA = "delta"


class OptType(enum.StrEnum):
    OPT_IN = "optIn"
    OPT_OUT = "optOut"


@dataclass(frozen=True, slots=True)
class EventInterval:
    start_s: float
    duration_s: float
    value: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class DrEvent:
    """One signal of one event (an event with several signals becomes several DrEvents)."""

    event_id: str
    modification_number: int
    signal_name: str
    signal_type: str
    intervals: tuple[EventInterval, ...]
    resource_ids: tuple[str, ...] = ()  # devices targeted by the event; empty = the whole site
    ramp_up_s: float = 0.0
    start_after_s: float = 0.0
    priority: int = 0
    cancelled: bool = False
    offset_s: float = 0.0  # the randomisation drawn by this VEN (already applied to intervals)

    @property
    def start_s(self) -> float:
        return self.intervals[0].start_s if self.intervals else 0.0

    @property
    def end_s(self) -> float:
        return self.intervals[-1].end_s if self.intervals else 0.0

    def interval_at(self, now_s: float) -> EventInterval | None:
        return next((i for i in self.intervals if i.start_s <= now_s < i.end_s), None)

    def in_ramp_up(self, now_s: float) -> float | None:
        """The ramp fraction in [0, 1) during ramp-up before the start, else None."""
        if self.ramp_up_s <= 0 or not self.start_s - self.ramp_up_s <= now_s < self.start_s:
            return None
        return (now_s - (self.start_s - self.ramp_up_s)) / self.ramp_up_s

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key: OpenADR priority 1 is the highest, 0 means none (lowest); later start wins ties."""
        return (self.priority if self.priority > 0 else 1 << 30, -self.start_s)


def randomised(event: DrEvent, ven_name: str) -> DrEvent:
    """Shift the event by this VEN's own offset in [0, start_after_s]."""
    if event.start_after_s <= 0:
        return event
    digest = hashlib.sha256(f"{ven_name}/{event.event_id}".encode()).digest()
    offset = event.start_after_s * int.from_bytes(digest[:8], "big") / float(1 << 64)
    shifted = tuple(replace(i, start_s=i.start_s + offset) for i in event.intervals)
    return replace(event, intervals=shifted, offset_s=offset)
