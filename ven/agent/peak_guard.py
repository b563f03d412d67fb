"""The capacity-tariff peak guard: keep the quarter hour's mean import under the month's peak.

Inside each quarter the agent projects the quarter's mean import if the schedule's power
continues: what the meter counted since the quarter started plus the predicted import until
its end. When that would pass the limit (a new month peak, or the customer's `max_peak_kw`)
less a small margin, the guard caps the site's import for the rest of the quarter at

    cap_kw = (target_kw * quarter - energy_so_far) / remaining,  target_kw = limit_kw - margin_kw

that is, it cuts `needed_cut_kw = (projected_kw - target_kw) * quarter / remaining` from the
predicted import. It is applied after the schedule's setpoints and the safety step, as an
override: first the EV chargers (never below the rate that still meets the car's target by
departure: the agent keeps the user's promise, so such a peak is one the car needs), then the
batteries' charging, then (when allowed) battery discharge, as far as the state of charge lets
it and never to export. Once a quarter sheds it keeps the cap until the quarter ends; the next
quarter starts afresh.

The limit: with `avoid_new_peak`, the billed peak (the month's peak so far, at least the
tariff's floor, 2.5 kW in Flanders); with `max_peak_kw`, at most that (the customer's own cap,
which also holds on its own). Without either the guard does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ven.agent.peak import QUARTER_H, QuarterSoFar
from ven.agent.policy import Setpoints, battery_range_kw, ev_need
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import DeviceType

log = logging.getLogger(__name__)

MIN_REMAINING_S = 1.0  # the last second of a quarter: the cut is spread over at least this


@dataclass(frozen=True, slots=True)
class PeakGuardSettings:
    avoid_new_peak: bool = False  # shed when a quarter would set a new month peak
    max_peak_kw: float | None = None  # the customer's own cap on a quarter's mean import [kW]
    margin_kw: float = 0.2  # aim this far under the limit (devices answer a few seconds late) [kW]
    discharge_battery: bool = True  # the battery may discharge to hold the limit, not only stop charging
    period_s: float = 10.0  # the agent checks this often inside the quarter [s]

    def __post_init__(self) -> None:
        if self.max_peak_kw is not None and self.max_peak_kw <= 0:
            raise ValueError(f"max_peak_kw {self.max_peak_kw:g} must be positive")
        if self.margin_kw < 0 or self.period_s <= 0:
            raise ValueError("margin_kw must be >= 0 and period_s > 0")

    @property
    def enabled(self) -> bool:
        return self.avoid_new_peak or self.max_peak_kw is not None

    def limit_kw(self, billed_peak_kw: float) -> float | None:
        """The quarter mean not to pass [kW]; None: no limit."""
        limits = [billed_peak_kw] if self.avoid_new_peak else []
        if self.max_peak_kw is not None:
            limits.append(self.max_peak_kw)
        return min(limits, default=None)


@dataclass(frozen=True, slots=True)
class PeakCheck:
    """One look at the current quarter."""

    quarter_start_s: float
    limit_kw: float
    projected_kw: float  # the quarter's mean import if the predicted import holds to its end
    cap_kw: float  # the most the site may import on average for the rest of the quarter
    needed_cut_kw: float  # predicted import minus the cap (<= 0: nothing to cut)
    shedding: bool


def check_quarter(
    so_far: QuarterSoFar, predicted_kw: float, limit_kw: float, margin_kw: float, shedding: bool = False
) -> PeakCheck:
    """Project the quarter's mean import and the cap that keeps it `margin_kw` under `limit_kw`.
    `shedding`: the quarter already sheds (it keeps shedding whatever the projection)."""
    remaining_h = max(so_far.remaining_s, MIN_REMAINING_S) / 3600.0
    future_kw = max(0.0, predicted_kw)
    projected = (so_far.energy_kwh + future_kw * so_far.remaining_s / 3600.0) / QUARTER_H
    target = max(0.0, limit_kw - margin_kw)
    cap = (target * QUARTER_H - so_far.energy_kwh) / remaining_h
    return PeakCheck(
        so_far.start_s, limit_kw, projected, cap, future_kw - cap, shedding or projected > target + 1e-9
    )


@dataclass(frozen=True, slots=True)
class ShedResult:
    setpoints: Setpoints
    predicted_import_kw: float
    notes: tuple[str, ...]


def _commandable(view: DeviceView) -> bool:
    return bool(view.config.controls) and view.online and not view.overridden


def _current_kw(setpoints: Setpoints, view: DeviceView) -> float:
    """What the device is set to draw (its measured power when the agent sets nothing)."""
    value = setpoints.get(view.device_id)
    return view.power_kw if value is None or isinstance(value, bool) else float(value)


def shed(
    setpoints: Setpoints,
    snapshot: HomeSnapshot,
    predicted_kw: float,
    cap_kw: float,
    period_s: float,
    discharge_battery: bool = True,
) -> ShedResult:
    """Lower the EVs, then the batteries, until the predicted import is at `cap_kw`."""
    out = dict(setpoints)
    notes: list[str] = []
    wanted = min(predicted_kw - cap_kw, max(0.0, predicted_kw))  # the guard never makes the site export
    excess = wanted
    floors: list[tuple[DeviceView, float]] = []
    for ev in snapshot.of_type(DeviceType.EV_CHARGER):
        need = ev_need(ev, snapshot.now_s)
        floors.append((ev, need.flat_kw if need is not None else 0.0))  # the car's promise is kept
    for battery in snapshot.of_type(DeviceType.BATTERY):
        # its lowest power until the next check: discharge as its state of charge allows, or none
        floors.append(
            (battery, battery_range_kw(battery, period_s / 3600.0)[0] if discharge_battery else 0.0)
        )
    for view, floor_kw in floors:
        if excess <= 1e-9 or not _commandable(view):
            continue
        current = _current_kw(out, view)
        cut = min(max(0.0, current - floor_kw), excess)
        if cut <= 1e-9:
            continue
        out[view.device_id] = round(current - cut, 3)
        excess -= cut
        notes.append(f"{view.device_id}: {current:g} kW lowered to {out[view.device_id]:g} kW (peak guard)")
    if excess > 1e-6:
        notes.append(f"import {excess:.2f} kW above the peak cap that the guard cannot shed")
    return ShedResult(out, predicted_kw - max(0.0, wanted - excess), tuple(notes))


class PeakGuard:
    """The guard's state: its settings (the limit may change at run time) and the quarter it sheds."""

    def __init__(self, settings: PeakGuardSettings | None = None) -> None:
        self.settings = settings or PeakGuardSettings()
        self._shedding_quarter: float | None = None
        self.last: PeakCheck | None = None
        self.quarters_shed = 0  # quarters in which shedding started (the agent tells the VTN of each)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def set_max_peak_kw(self, value_kw: float | None) -> None:
        """The customer's cap (a preference from the VTN); None removes it."""
        self.settings = replace(self.settings, max_peak_kw=value_kw)

    def set_avoid_new_peak(self, on: bool) -> None:
        self.settings = replace(self.settings, avoid_new_peak=on)

    @property
    def shedding(self) -> bool:
        return self.last is not None and self.last.shedding

    def check(self, so_far: QuarterSoFar, predicted_kw: float, billed_peak_kw: float) -> PeakCheck | None:
        limit = self.settings.limit_kw(billed_peak_kw)
        if limit is None:
            self.last = self._shedding_quarter = None
            return None
        ongoing = self._shedding_quarter == so_far.start_s
        result = check_quarter(so_far, predicted_kw, limit, self.settings.margin_kw, ongoing)
        if result.shedding and not ongoing:
            self.quarters_shed += 1
        self._shedding_quarter = so_far.start_s if result.shedding else None
        self.last = result
        return result

    def apply(
        self,
        so_far: QuarterSoFar,
        snapshot: HomeSnapshot,
        setpoints: Setpoints,
        predicted_kw: float,
        billed_peak_kw: float,
    ) -> GuardResult:
        """Check the quarter and, when it sheds, override the (safe) setpoints; logs what it did."""
        before, shed_before = self.last, self.quarters_shed
        check = self.check(so_far, predicted_kw, billed_peak_kw)
        if (
            before is not None
            and before.shedding
            and (check is None or check.quarter_start_s != before.quarter_start_s)
        ):
            log.info("peak guard: the quarter from %s ended; shedding stops", _hhmm(before.quarter_start_s))
        if check is None or not check.shedding:
            return GuardResult(setpoints, predicted_kw, (), check)
        settings = self.settings
        result = shed(
            setpoints, snapshot, predicted_kw, check.cap_kw, settings.period_s, settings.discharge_battery
        )
        if self.quarters_shed > shed_before:
            log.warning(
                "peak guard: the quarter from %s heads for %.2f kW (limit %.2f kW); import capped at "
                "%.2f kW until it ends: %s",
                _hhmm(check.quarter_start_s),
                check.projected_kw,
                check.limit_kw,
                check.cap_kw,
                "; ".join(result.notes) or "nothing to shed",
            )
        else:
            for note in result.notes:
                log.debug("peak guard: %s", note)
        return GuardResult(result.setpoints, result.predicted_import_kw, result.notes, check)


@dataclass(frozen=True, slots=True)
class GuardResult:
    setpoints: Setpoints
    predicted_import_kw: float
    notes: tuple[str, ...]
    check: PeakCheck | None


def _hhmm(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%H:%M UTC")
