"""Pure rules on events: validation, status with ramp-up, distribution order, overlap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aggregator.errors import InvalidInput
from aggregator.records import EventInterval
from aggregator.signals import SIGNAL_NAMES, SIGNAL_TYPES, pair_problem

DEFAULT_MARKET_CONTEXT = "http://flexvpp.org/market/default"
DEFAULT_NEAR_WINDOW_SECONDS = 3600

RESPONSE_REQUIRED = frozenset({"always", "never"})

IntervalSpec = EventInterval  # an event interval as given (REST, planner) and as stored


class EventStatus(StrEnum):
    FAR = "far"
    NEAR = "near"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A new event, or an event as a modification leaves it; `validate_spec` checks it."""

    ven_ids: tuple[str, ...] | list[str]
    signal_name: str
    signal_type: str
    intervals: tuple[IntervalSpec, ...]
    market_context: str | None = None
    priority: int = 0
    ramp_up_seconds: int = 0
    response_required: str = "always"
    start_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Timing:
    """When an event runs: [start, end), announced as near `ramp_up` or `near_window` before."""

    start: datetime
    end: datetime
    ramp_up: timedelta
    cancelled: bool = False


def event_status(
    timing: Timing, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> EventStatus:
    if timing.cancelled:
        return EventStatus.CANCELLED
    if now >= timing.end:
        return EventStatus.COMPLETED
    if now >= timing.start:
        return EventStatus.ACTIVE
    lead = max(timing.ramp_up, timedelta(seconds=near_window_seconds))
    if now >= timing.start - lead:
        return EventStatus.NEAR
    return EventStatus.FAR


def priority_rank(priority: int) -> float:
    """OpenADR: a lower number is a higher priority, and 0 means no priority (the lowest)."""
    return math.inf if priority <= 0 else priority


def overlaps(a: Timing, b: Timing) -> bool:
    return a.start < b.end and b.start < a.end


def _require_utc(field: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _check_intervals(intervals: Sequence[IntervalSpec], signal_name: str) -> tuple[IntervalSpec, ...]:
    if not intervals:
        raise InvalidInput("intervals", "at least one interval is required")
    checked: list[IntervalSpec] = []
    for index, interval in enumerate(intervals):
        field = f"intervals[{index}]"
        start = _require_utc(f"{field}.start", interval.start)
        if not isinstance(interval.duration_seconds, int) or interval.duration_seconds <= 0:
            raise InvalidInput(f"{field}.duration_seconds", "must be a positive whole number of seconds")
        if not isinstance(interval.value, int | float) or not math.isfinite(interval.value):
            raise InvalidInput(f"{field}.value", "must be a finite number")
        if checked:
            previous = checked[-1]
            expected = previous.start + timedelta(seconds=previous.duration_seconds)
            if start != expected:
                raise InvalidInput(
                    f"{field}.start", f"intervals must be contiguous: expected {expected.isoformat()}"
                )
        if signal_name in ("SIMPLE", "simple") and interval.value not in (0, 1, 2, 3):
            raise InvalidInput(f"{field}.value", "a SIMPLE signal takes the levels 0, 1, 2 or 3")
        checked.append(IntervalSpec(start, interval.duration_seconds, float(interval.value)))
    return tuple(checked)


def _check_ven_ids(ven_ids: Sequence[str]) -> tuple[str, ...]:
    if isinstance(ven_ids, str) or not ven_ids:
        raise InvalidInput("ven_ids", "at least one venID is required")
    if not all(isinstance(v, str) and v for v in ven_ids):
        raise InvalidInput("ven_ids", "every venID must be a non-empty string")
    return tuple(dict.fromkeys(ven_ids))


def _check_enum(field: str, value: str, allowed: frozenset[str], x_allowed: bool = False) -> None:
    if not isinstance(value, str) or not (value in allowed or (x_allowed and value.startswith("x-"))):
        raise InvalidInput(field, f"must be one of {', '.join(sorted(allowed))}")


def _check_non_negative(field: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(field, "must be a whole number >= 0")


def validate_spec(spec: EventSpec, now: datetime, require_vens: bool = True) -> EventSpec:
    """The spec with ven_ids de-duplicated and times in UTC; InvalidInput names the bad field.

    `require_vens=False`: an event may target no VEN yet (an OpenADR 3.1 event, whose VENs may
    come later and read it by its targets)."""
    ven_ids = _check_ven_ids(spec.ven_ids) if require_vens or spec.ven_ids else ()
    _check_enum("signal_name", spec.signal_name, SIGNAL_NAMES, x_allowed=True)
    _check_enum("signal_type", spec.signal_type, SIGNAL_TYPES)
    # Checked on the whole spec: a modification may change the name or the type alone.
    problem = pair_problem(spec.signal_name, spec.signal_type)
    if problem is not None:
        raise InvalidInput("signal_type", problem)
    _check_enum("response_required", spec.response_required, RESPONSE_REQUIRED)
    for field in ("priority", "ramp_up_seconds", "start_after_seconds"):
        _check_non_negative(field, getattr(spec, field))
    intervals = _check_intervals(spec.intervals, spec.signal_name)
    market_context = spec.market_context or DEFAULT_MARKET_CONTEXT
    if len(market_context) > 256 or any(c.isspace() for c in market_context):
        raise InvalidInput("market_context", "must be a URI of at most 256 characters without spaces")
    end = intervals[-1].start + timedelta(seconds=intervals[-1].duration_seconds)
    if end <= now:
        raise InvalidInput("intervals", "the event would already be over")
    return EventSpec(
        ven_ids=ven_ids,
        signal_name=spec.signal_name,
        signal_type=spec.signal_type,
        intervals=intervals,
        market_context=market_context,
        priority=spec.priority,
        ramp_up_seconds=spec.ramp_up_seconds,
        response_required=spec.response_required,
        start_after_seconds=spec.start_after_seconds,
    )


def spec_timing(spec: EventSpec) -> Timing:
    start = spec.intervals[0].start
    duration = sum(i.duration_seconds for i in spec.intervals)
    return Timing(start, start + timedelta(seconds=duration), timedelta(seconds=spec.ramp_up_seconds))


def distribution_key(status: str, priority: int, start: datetime) -> tuple[int, float, datetime]:
    """Active events first (by priority, then start), then pending ones by start, then cancelled."""
    if status == EventStatus.ACTIVE:
        return (0, priority_rank(priority), start)
    if status in (EventStatus.NEAR, EventStatus.FAR):
        return (1, 0.0, start)
    return (2, 0.0, start)
