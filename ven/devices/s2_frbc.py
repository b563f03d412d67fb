"""FRBC (fill-rate based control) from the CEM's side: what the RM told, and the instruction
that realises a power setpoint. Pure: no I/O; times are epoch seconds of the agent's clock.

The RM describes a storage (its fill level: a buffer tank's temperature, a battery's energy)
and actuators whose operation modes each give, for a range of fill levels, a power range and a
fill rate, both linear in the operation mode factor (0..1). The CEM picks a mode and a factor.

Powers are S2's: W, consumption positive; several electric commodity quantities of one range
(L1, L2, L3; 3_PHASE_SYMMETRIC is already the total) are summed. Fill rates, leakage and usage
are fill-level units per second; leakage and usage lower the fill level when positive.

The fill-level guard: whatever the agent asks, the storage is kept inside its target range
(the FillLevelTargetProfile element of now, else the storage's fill-level range): at or below
its lower bound only points that do not lower the fill level further are chosen, at or above
its upper bound only points that do not raise it. Without a setpoint the CEM keeps the storage
in that range itself with the least power that does it: at its lower bound the least point
that holds the fill level (that makes up its leakage and usage; below the bound, a little more,
back to the bound within RECOVERY_S), inside the range what it does but never more than that,
at its upper bound the least power. Its power is then about `hold_power_w`, which the site
entry counts as the house's load: a thermostat's full-power runs (2 kW for 40 minutes where the
plan counts 0.5 kW) would be load the plan does not know, and the heat pumps of a portfolio
that start alike run them at the same time (the closed loop's cap overshoot, docs/closed-loop.md).

Only the first actuator is steered; others keep what they do and their power and fill rate are
counted as given. Modes marked abnormal-condition-only are never chosen. A mode change needs a
transition from the active mode whose blocking timers have finished (an actuator that declares
no transitions at all may change freely).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from uuid import UUID

from s2python.common import CommodityQuantity, NumberRange, PowerRange
from s2python.frbc import (
    FRBCActuatorDescription,
    FRBCActuatorStatus,
    FRBCFillLevelTargetProfile,
    FRBCLeakageBehaviour,
    FRBCOperationMode,
    FRBCOperationModeElement,
    FRBCStorageStatus,
    FRBCSystemDescription,
    FRBCTimerStatus,
    FRBCUsageForecast,
)

ELECTRIC = frozenset(
    {
        CommodityQuantity.ELECTRIC_POWER_L1,
        CommodityQuantity.ELECTRIC_POWER_L2,
        CommodityQuantity.ELECTRIC_POWER_L3,
        CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
    }
)
FACTOR_TOLERANCE = 1e-3  # a factor this close to the active one is no new instruction
# Without a setpoint, a storage below its target's lower bound is brought back to it within this
# long [s] where the device can (else as fast as it can).
RECOVERY_S = 3600.0

FrbcMessage = (
    FRBCSystemDescription
    | FRBCStorageStatus
    | FRBCActuatorStatus
    | FRBCLeakageBehaviour
    | FRBCUsageForecast
    | FRBCFillLevelTargetProfile
    | FRBCTimerStatus
)


def electric_w(ranges: list[PowerRange]) -> tuple[float, float]:
    """(power at factor 0, power at factor 1) [W] of one element's power ranges."""
    electric = [r for r in ranges if r.commodity_quantity in ELECTRIC]
    return sum(r.start_of_range for r in electric), sum(r.end_of_range for r in electric)


def _distance(value: float, span: NumberRange) -> float:
    lo, hi = sorted((span.start_of_range, span.end_of_range))
    return 0.0 if lo <= value <= hi else min(abs(value - lo), abs(value - hi))


def element_at(mode: FRBCOperationMode, fill_level: float) -> FRBCOperationModeElement:
    """The mode's element for this fill level (the nearest one when none holds it)."""
    return min(mode.elements, key=lambda e: _distance(fill_level, e.fill_level_range))


@dataclass(frozen=True, slots=True)
class Segment:
    """One operation mode at the present fill level: power and fill rate linear in the factor."""

    mode_id: UUID
    label: str
    power_w: tuple[float, float]
    fill_rate: tuple[float, float]

    @classmethod
    def of(cls, mode: FRBCOperationMode, fill_level: float) -> Segment:
        element = element_at(mode, fill_level)
        rate = element.fill_rate
        return cls(
            mode.id,
            mode.diagnostic_label or str(mode.id),
            electric_w(element.power_ranges),
            (rate.start_of_range, rate.end_of_range),
        )

    def power_at(self, factor: float) -> float:
        return self.power_w[0] + factor * (self.power_w[1] - self.power_w[0])

    def rate_at(self, factor: float) -> float:
        return self.fill_rate[0] + factor * (self.fill_rate[1] - self.fill_rate[0])

    def factors(self, at_least: float | None, at_most: float | None) -> tuple[float, float] | None:
        """The factor interval whose fill rate is >= `at_least` / <= `at_most` (None: empty)."""
        lo, hi = 0.0, 1.0
        r0, r1 = self.fill_rate
        for bound, above in ((at_least, True), (at_most, False)):
            if bound is None:
                continue
            slope = r1 - r0
            if abs(slope) < 1e-15:
                if (r0 < bound) if above else (r0 > bound):
                    return None
                continue
            edge = (bound - r0) / slope
            if (slope > 0) == above:
                lo = max(lo, edge)
            else:
                hi = min(hi, edge)
        return (lo, hi) if lo <= hi + 1e-12 else None

    def nearest(self, power_w: float, factors: tuple[float, float]) -> float:
        """The factor within `factors` whose power is nearest to `power_w`."""
        p0, p1 = self.power_w
        if abs(p1 - p0) < 1e-9:
            return factors[0]
        factor = (power_w - p0) / (p1 - p0)
        return min(factors[1], max(factors[0], factor))


@dataclass(frozen=True, slots=True)
class Choice:
    """What the first actuator should do, and the device's expected power then."""

    actuator_id: UUID
    mode_id: UUID
    label: str
    factor: float
    power_w: float
    new: bool  # differs from the actuator's active mode and factor
    guard: str | None = None  # why the fill-level guard moved the point, if it did


@dataclass
class FrbcPicture:
    """Everything the RM has told about its FRBC flexibility."""

    system: FRBCSystemDescription | None = None
    fill_level: float | None = None
    actuators: dict[UUID, FRBCActuatorStatus] = field(default_factory=dict)
    timers_finished_s: dict[tuple[UUID, UUID], float] = field(default_factory=dict)
    leakage: FRBCLeakageBehaviour | None = None
    usage: FRBCUsageForecast | None = None
    target: FRBCFillLevelTargetProfile | None = None

    def update(self, message: FrbcMessage) -> None:
        if isinstance(message, FRBCSystemDescription):
            self.system = message
        elif isinstance(message, FRBCStorageStatus):
            self.fill_level = message.present_fill_level
        elif isinstance(message, FRBCActuatorStatus):
            self.actuators[message.actuator_id] = message
        elif isinstance(message, FRBCLeakageBehaviour):
            self.leakage = message
        elif isinstance(message, FRBCUsageForecast):
            self.usage = message
        elif isinstance(message, FRBCFillLevelTargetProfile):
            self.target = message
        elif isinstance(message, FRBCTimerStatus):
            key = (message.actuator_id, message.timer_id)
            self.timers_finished_s[key] = message.finished_at.timestamp()

    @property
    def ready(self) -> bool:
        return self.system is not None and bool(self.system.actuators) and self.fill_level is not None

    # --- what the agent is told -----------------------------------------------------------------
    def power_range_w(self) -> tuple[float, float]:
        """(lowest, highest) power [W] of the whole device over its normal modes, any fill level."""
        if self.system is None:
            return 0.0, 0.0
        lo = hi = 0.0
        for actuator in self.system.actuators:
            powers = [
                p
                for mode in actuator.operation_modes
                if not mode.abnormal_condition_only
                for element in mode.elements
                for p in electric_w(element.power_ranges)
            ]
            if powers:
                lo, hi = lo + min(powers), hi + max(powers)
        return lo, hi

    def storage_range(self) -> tuple[float, float] | None:
        if self.system is None:
            return None
        span = self.system.storage.fill_level_range
        return span.start_of_range, span.end_of_range

    def target_range(self, now_s: float) -> tuple[float, float] | None:
        """The fill level to keep now: the target profile's element, else the storage's range."""
        if self.target is not None:
            start_s = self.target.start_time.timestamp()
            for element in self.target.elements:
                end_s = start_s + element.duration.root / 1000.0
                if start_s <= now_s < end_s:
                    span = element.fill_level_range
                    return span.start_of_range, span.end_of_range
                start_s = end_s
        return self.storage_range()

    def leakage_rate(self) -> float:
        if self.leakage is None or self.fill_level is None or not self.leakage.elements:
            return 0.0
        fill = self.fill_level
        element = min(self.leakage.elements, key=lambda e: _distance(fill, e.fill_level_range))
        return element.leakage_rate

    def usage_rate(self, now_s: float) -> float:
        if self.usage is None:
            return 0.0
        start_s = self.usage.start_time.timestamp()
        for element in self.usage.elements:
            end_s = start_s + element.duration.root / 1000.0
            if start_s <= now_s < end_s:
                return element.usage_rate_expected
            start_s = end_s
        return 0.0

    # --- the decision ---------------------------------------------------------------------------
    def active_point(self, actuator: FRBCActuatorDescription) -> tuple[Segment, float] | None:
        status = self.actuators.get(actuator.id)
        if status is None or self.fill_level is None:
            return None
        mode = next((m for m in actuator.operation_modes if m.id == status.active_operation_mode_id), None)
        return None if mode is None else (Segment.of(mode, self.fill_level), status.operation_mode_factor)

    def reachable(self, actuator: FRBCActuatorDescription, now_s: float) -> list[FRBCOperationMode]:
        normal = [m for m in actuator.operation_modes if not m.abnormal_condition_only]
        status = self.actuators.get(actuator.id)
        if status is None or not actuator.transitions:
            return normal
        active = status.active_operation_mode_id
        targets = {active}
        for transition in actuator.transitions:
            if transition.from_ != active or transition.abnormal_condition_only:
                continue
            blocked = any(
                self.timers_finished_s.get((actuator.id, timer), -math.inf) > now_s
                for timer in transition.blocking_timers
            )
            if not blocked:
                targets.add(transition.to)
        return [m for m in normal if m.id in targets]

    def expected_power_w(self) -> float | None:
        """The device's power from its actuators' active modes and factors (None: not known)."""
        if self.system is None:
            return None
        points = [self.active_point(a) for a in self.system.actuators]
        if any(p is None for p in points):
            return None
        return sum(segment.power_at(factor) for segment, factor in (p for p in points if p is not None))

    def hold_power_w(self, now_s: float) -> float | None:
        """The least average power [W] that holds the fill level where it is (its leakage and usage
        made up), switching between modes if no single point does it (a heat pump that cannot
        run below 600 W holds 525 W on average by running 7 minutes in 8); the others' power
        included. What the device draws when it only keeps its storage. None before the RM has
        described itself."""
        if not self.ready or self.system is None or self.fill_level is None:
            return None
        first, *others = self.system.actuators
        points = [p for p in (self.active_point(a) for a in others) if p is not None]
        other_power = sum(s.power_at(f) for s, f in points)
        hold = self.leakage_rate() + self.usage_rate(now_s) - sum(s.rate_at(f) for s, f in points)
        # (fill rate, power) at both ends of every normal mode: a mix of two of them, or one
        # mode's line between its ends, gives any average on the segment joining them.
        ends = [
            (segment.rate_at(f), segment.power_at(f))
            for mode in first.operation_modes
            if not mode.abnormal_condition_only
            for segment in (Segment.of(mode, self.fill_level),)
            for f in (0.0, 1.0)
        ]
        if not ends:
            return None
        candidates = [p for r, p in ends if abs(r - hold) < 1e-15]
        for r1, p1 in ends:
            for r2, p2 in ends:
                if r1 < hold < r2:
                    candidates.append(p1 + (p2 - p1) * (hold - r1) / (r2 - r1))
        if not candidates:  # no mix holds it: all it can when it drains, its least when it fills
            fastest = max(ends)
            candidates = [fastest[1] if hold > fastest[0] else min(ends)[1]]
        return min(candidates) + other_power

    def choose(self, setpoint_w: float | None, now_s: float) -> Choice | None:
        """The first actuator's point for `setpoint_w` (None: the CEM keeps the storage itself)."""
        if not self.ready or self.system is None or self.fill_level is None:
            return None
        first, *others = self.system.actuators
        other_power = other_rate = 0.0
        for actuator in others:
            point = self.active_point(actuator)
            if point is not None:
                other_power += point[0].power_at(point[1])
                other_rate += point[0].rate_at(point[1])
        # the fill rate the first actuator must give to hold the fill level where it is
        hold = self.leakage_rate() + self.usage_rate(now_s) - other_rate
        at_least = at_most = None
        guard = None
        span = self.target_range(now_s)
        if span is not None:
            lo, hi = span
            if self.fill_level <= lo:
                at_least, guard = hold, f"fill level {self.fill_level:g} at or below {lo:g}"
            elif self.fill_level >= hi:
                at_most, guard = hold, f"fill level {self.fill_level:g} at or above {hi:g}"
        active = self.active_point(first)
        segments = [Segment.of(m, self.fill_level) for m in self.reachable(first, now_s)]
        if not segments:
            return None
        if setpoint_w is None:
            guard = None  # the CEM's own keeping is not overruled by its own guard
            if at_least is not None and span is not None:
                # Back up to the lower bound within RECOVERY_S where the device can.
                at_least = hold + (span[0] - self.fill_level) / RECOVERY_S
                desired = -math.inf
            elif at_most is not None:
                desired = -math.inf
            elif active is not None:
                # Inside the range: what it does, but never more than the least that holds it.
                holding, factor = self._pick(segments, -math.inf, hold, None, active)
                desired = min(active[0].power_at(active[1]), holding.power_at(factor)) + other_power
            else:
                return None  # inside its range and its mode not known yet: nothing to decide
        else:
            desired = setpoint_w
        pick = self._pick(segments, desired - other_power, at_least, at_most, active)
        segment, factor = pick
        power = segment.power_at(factor) + other_power
        moved = guard if setpoint_w is not None and abs(power - setpoint_w) > 1.0 else None
        new = (
            active is None
            or active[0].mode_id != segment.mode_id
            or abs(active[1] - factor) > FACTOR_TOLERANCE
        )
        return Choice(first.id, segment.mode_id, segment.label, round(factor, 4), power, new, moved)

    @staticmethod
    def _pick(
        segments: list[Segment],
        desired_w: float,
        at_least: float | None,
        at_most: float | None,
        active: tuple[Segment, float] | None,
    ) -> tuple[Segment, float]:
        candidates: list[tuple[float, int, float, Segment, float]] = []
        for segment in segments:
            factors = segment.factors(at_least, at_most)
            if factors is None:
                continue
            factor = segment.nearest(desired_w, factors) if math.isfinite(desired_w) else None
            if factor is None:  # +-inf: the highest or the lowest power in the interval
                ends = [(segment.power_at(f), f) for f in factors]
                factor = (max if desired_w > 0 else min)(ends)[1]
            power = segment.power_at(factor)
            miss = (
                abs(power - desired_w) if math.isfinite(desired_w) else -power * math.copysign(1, desired_w)
            )
            keep = 0 if active is not None and active[0].mode_id == segment.mode_id else 1
            candidates.append((miss, keep, power, segment, factor))
        if candidates:
            best = min(candidates, key=lambda c: (round(c[0], 6), c[1], c[2]))
            return best[3], best[4]
        # The guard cannot be met (the storage drains or fills faster than any mode can follow):
        # the point that does the most for it.
        corners = [(s, f) for s in segments for f in (0.0, 1.0)]
        if at_least is not None:
            return max(corners, key=lambda e: e[0].rate_at(e[1]))
        return min(corners, key=lambda e: e[0].rate_at(e[1]))
