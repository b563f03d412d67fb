"""Baselines: what a home's meter would have read without the DR event, per 15-minute slot.

Three methods, each result naming its method and version (a settlement stores the version, so a
closed month re-run reads the same rule):

- `x_of_y` (the CAISO/PG&E form, default 10 of 10): among the last Y eligible days before the
  event day (same day type, weekday or weekend, in the site's time zone; not a day with an event
  for the home; at least 90 % of the day's slots measured), the X days with the highest mean load
  over the event window; per slot, the mean of those X days at the same local time. Then the
  multiplicative day-of adjustment: the measured mean over the 3 h ending at the event's first
  slot divided by the same slots' mean in the X days, clipped to [0.6, 1.4] (configurable, or off).
- `meter_before`: flat, the mean of the N slots before the event (short events, batteries).
- `plan_baseline`: the home's own plan without the event. We take the plan of the last planning
  run that started before the event was created, not a re-plan without the event: that run could
  not know of the event, its plan is what the home was dispatched to do, it is stored (so a
  settlement re-run reads the same numbers without a solver), and re-planning would need the
  inputs as they were then (prices, site entries) which only that run recorded anyway. Its
  limit: a run long before the event plans from older site entries; the result names the run.

A series maps a slot start (tz-aware UTC) to the mean kW of the meter's net import over the slot.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

SLOT = timedelta(minutes=15)
Series = Mapping[datetime, float]
# Below this mean [kW] the day-of ratio says nothing (a PV home's net import near zero or negative).
MIN_ADJUSTMENT_BASE_KW = 0.05


class BaselineMethod(StrEnum):
    X_OF_Y = "x_of_y"
    METER_BEFORE = "meter_before"
    PLAN_BASELINE = "plan_baseline"


# Raised whenever a method's rule changes, so a stored statement says which rule made it.
METHOD_VERSIONS: dict[BaselineMethod, str] = {
    BaselineMethod.X_OF_Y: "x_of_y/1",
    BaselineMethod.METER_BEFORE: "meter_before/1",
    BaselineMethod.PLAN_BASELINE: "plan_baseline/1",
}


class BaselineUnavailable(ValueError):
    """The method cannot make a baseline from what is stored (the message says why)."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline [kW] per slot of an event, with the method, its version and what it used."""

    method: BaselineMethod
    slots: tuple[datetime, ...]  # slot starts (UTC), every slot the event overlaps
    kw: tuple[float, ...]
    details: dict[str, Any] = field(default_factory=dict)  # days used, adjustment factor, run

    @property
    def version(self) -> str:
        return METHOD_VERSIONS[self.method]

    def at(self, slot: datetime) -> float:
        return self.kw[self.slots.index(slot)]


@dataclass(frozen=True, slots=True)
class XOfY:
    """The x_of_y method's parameters (defaults: 10 of 10, adjusted over 3 h within [0.6, 1.4])."""

    x: int = 10
    y: int = 10
    adjustment: bool = True
    adjustment_window: timedelta = timedelta(hours=3)
    adjustment_min: float = 0.6
    adjustment_max: float = 1.4
    min_coverage: float = 0.9  # the share of a day's slots that must be measured
    lookback_days: int = 60  # how far back eligible days are looked for

    def __post_init__(self) -> None:
        if not 1 <= self.x <= self.y:
            raise ValueError(f"x_of_y needs 1 <= x <= y, got {self.x} of {self.y}")
        if not 0 < self.adjustment_min <= 1 <= self.adjustment_max:
            raise ValueError("the adjustment's clip must hold 1: 0 < min <= 1 <= max")
        if self.adjustment_window < SLOT or not 0 < self.min_coverage <= 1 or self.lookback_days < 1:
            raise ValueError("adjustment_window >= 15 min, 0 < min_coverage <= 1, lookback_days >= 1")


def floor_slot(at: datetime) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at.astimezone(UTC) - epoch) // SLOT) * SLOT


def event_slots(start: datetime, end: datetime) -> tuple[datetime, ...]:
    """The slots [start, end) overlaps, from the one holding `start`."""
    out, slot = [], floor_slot(start)
    while slot < end:
        out.append(slot)
        slot += SLOT
    return tuple(out)


def local_day_slots(day: date, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC slots of a local day (92, 96 or 100 of them around a clock change)."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return event_slots(start, end)


def coverage(measured: Series, day: date, zone: ZoneInfo) -> float:
    slots = local_day_slots(day, zone)
    return sum(1 for s in slots if s in measured) / len(slots)


def same_time_on(slot: datetime, event_day: date, day: date, zone: ZoneInfo) -> datetime:
    """The slot at the same local wall-clock time on `day` instead of `event_day` (a slot of the
    day after the event's, in an event past midnight, moves to the day after `day`)."""
    local = slot.astimezone(zone)
    return datetime.combine(day + (local.date() - event_day), local.time(), zone).astimezone(UTC)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def eligible_days(
    measured: Series, event_day: date, zone: ZoneInfo, excluded_days: Collection[date], options: XOfY
) -> list[date]:
    """The last Y eligible days before the event day, newest first."""
    weekend = event_day.weekday() >= 5
    out: list[date] = []
    for back in range(1, options.lookback_days + 1):
        day = event_day - timedelta(days=back)
        if (day.weekday() >= 5) != weekend or day in excluded_days:
            continue
        if coverage(measured, day, zone) >= options.min_coverage:
            out.append(day)
            if len(out) == options.y:
                break
    return out


def x_of_y(
    measured: Series,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    excluded_days: Collection[date] = (),
    options: XOfY = XOfY(),
) -> Baseline:
    """The X-of-Y baseline of the event [start, end); `excluded_days` are the local days with an
    event for the home. BaselineUnavailable with fewer than X eligible days."""
    slots = event_slots(start, end)
    event_day = slots[0].astimezone(zone).date()
    days = eligible_days(measured, event_day, zone, excluded_days, options)
    if len(days) < options.x:
        raise BaselineUnavailable(
            f"x_of_y needs {options.x} eligible {'weekend' if event_day.weekday() >= 5 else 'week'} "
            f"days in the {options.lookback_days} before {event_day}, found {len(days)}"
        )

    def window_mean(day: date) -> float:
        values = [measured[t] for s in slots if (t := same_time_on(s, event_day, day, zone)) in measured]
        return sum(values) / len(values) if values else float("-inf")

    # The X highest; of equal means the more recent (days are newest first, sorted is stable).
    chosen = sorted(days, key=window_mean, reverse=True)[: options.x]

    def mean_of_days(slot: datetime) -> float | None:
        return _mean(
            [measured[t] for d in chosen if (t := same_time_on(slot, event_day, d, zone)) in measured]
        )

    raw = []
    for slot in slots:
        value = mean_of_days(slot)
        if value is None:
            raise BaselineUnavailable(f"x_of_y: no chosen day measured the slot of {slot.isoformat()}")
        raw.append(value)
    factor, note = 1.0, "off"
    if options.adjustment:
        factor, note = _day_of_factor(measured, slots[0], options, mean_of_days)
    details = {
        "x": options.x,
        "y": options.y,
        "eligible_days": [d.isoformat() for d in days],
        "days": sorted(d.isoformat() for d in chosen),
        "adjustment_factor": factor,
        "adjustment": note,
    }
    return Baseline(BaselineMethod.X_OF_Y, slots, tuple(v * factor for v in raw), details)


def _day_of_factor(measured: Series, first: datetime, options: XOfY, mean_of_days: Any) -> tuple[float, str]:
    """(factor, what was done): measured over baseline days in the window before the event."""
    window = [first - k * SLOT for k in range(int(options.adjustment_window / SLOT), 0, -1)]
    day_of = _mean([measured[s] for s in window if s in measured])
    base = _mean([v for s in window if (v := mean_of_days(s)) is not None])
    if day_of is None or base is None:
        return 1.0, "skipped: the window before the event is not measured"
    if base < MIN_ADJUSTMENT_BASE_KW:
        return 1.0, f"skipped: the baseline days' mean before the event is {base:.3f} kW"
    ratio = day_of / base
    factor = min(options.adjustment_max, max(options.adjustment_min, ratio))
    return factor, f"{ratio:.4f} clipped to [{options.adjustment_min}, {options.adjustment_max}]"


def meter_before(measured: Series, start: datetime, end: datetime, intervals: int = 4) -> Baseline:
    """Flat: the mean of the `intervals` slots before the event's first slot (all must be
    measured, or BaselineUnavailable)."""
    if intervals < 1:
        raise ValueError("meter_before needs at least one interval")
    slots = event_slots(start, end)
    before = [slots[0] - k * SLOT for k in range(intervals, 0, -1)]
    missing = [s for s in before if s not in measured]
    if missing:
        raise BaselineUnavailable(
            f"meter_before: {len(missing)} of the {intervals} slots before the event are not "
            f"measured (first {missing[0].isoformat()})"
        )
    level = sum(measured[s] for s in before) / intervals
    details = {"intervals": intervals, "from": before[0].isoformat()}
    return Baseline(BaselineMethod.METER_BEFORE, slots, (level,) * len(slots), details)


def plan_baseline(
    planned: Series, start: datetime, end: datetime, source: Mapping[str, Any] | None = None
) -> Baseline:
    """The planned net import [kW] of each event slot; `source` names the plan (its run).
    BaselineUnavailable when the plan does not cover the event."""
    slots = event_slots(start, end)
    missing = [s for s in slots if s not in planned]
    if missing:
        raise BaselineUnavailable(f"plan_baseline: the plan does not cover {missing[0].isoformat()}")
    return Baseline(BaselineMethod.PLAN_BASELINE, slots, tuple(planned[s] for s in slots), dict(source or {}))
