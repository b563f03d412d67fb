"""Local safety: applied to every setpoint last, so it outranks every event and every plan.

1. A user override (`state.mode` not smart/auto) or an offline device: no command at all.
2. Every value is clipped to the control's advertised range.
3. An EV is never commanded past its target: nothing when unplugged or done, and never more
   than what is still missing within one command period.
4. The site's import limit: the predicted import (the house's own load + every commanded
   power + the measured power of what is not commanded) is kept at or under the limit by
   lowering EV power first, then battery charging. The export limit likewise lowers battery
   discharge, then curtails PV inverters for what remains. What the agent commands never
   pushes the site past either limit.
5. A PV inverter curtailed while its output was capped (`state.curtail_percent` < 100) keeps
   a cap of its output plus the room left under the export limit, so the cap follows the sun
   and is lifted (no command: back to 100 %) once it would reach the nominal power.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ven.agent.policy import Setpoints, SiteLimits, ev_need, uncontrolled_kw
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import ControlName, DeviceType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SafetyResult:
    setpoints: Setpoints
    notes: tuple[str, ...]
    predicted_import_kw: float


def _clip_range(view: DeviceView, value: float | bool) -> float | bool:
    if isinstance(value, bool):
        return value
    control = view.config.controls[0] if view.config.controls else None
    if control is None:
        return value
    if control.max is not None:
        value = min(value, control.max)
    if control.min is not None:
        value = max(value, control.min)
    return round(value, 3)


def _ev_cap(view: DeviceView, value: float, now_s: float, period_s: float) -> float:
    need = ev_need(view, now_s)
    if need is None or need.remaining_kwh <= 0:
        return 0.0
    return min(value, need.remaining_kwh / (need.efficiency * period_s / 3600.0))


def _predicted_kw(view: DeviceView, value: float | bool | None) -> float:
    """The device's power if the command holds (measured power when not a power command)."""
    if value is None or view.config.control(ControlName.POWER_KW) is None:
        if view.device_type == DeviceType.SMART_PLUG and value is False:
            return 0.0
        return view.power_kw
    return float(value)


def enforce(
    setpoints: Setpoints, snapshot: HomeSnapshot, limits: SiteLimits, period_s: float
) -> SafetyResult:
    notes: list[str] = []
    out: Setpoints = {}
    for device_id, value in setpoints.items():
        view = snapshot.devices.get(device_id)
        if view is None or not view.config.controls:
            continue
        if view.overridden or not view.online:
            notes.append(f"{device_id}: user override or offline, not commanded")
            continue
        clipped = _clip_range(view, value)
        if view.device_type == DeviceType.EV_CHARGER and not isinstance(clipped, bool):
            clipped = round(_ev_cap(view, clipped, snapshot.now_s, period_s), 3)
        out[device_id] = clipped
    predicted = uncontrolled_kw(snapshot) + sum(
        _predicted_kw(v, out.get(d)) for d, v in snapshot.devices.items() if v.device_type != DeviceType.METER
    )
    predicted = _hold_import_limit(out, snapshot, limits, predicted, notes)
    predicted = _hold_export_limit(out, snapshot, limits, predicted, notes)
    return SafetyResult(out, tuple(notes), predicted)


def _hold_import_limit(
    out: Setpoints, snapshot: HomeSnapshot, limits: SiteLimits, predicted: float, notes: list[str]
) -> float:
    excess = predicted - limits.import_limit_kw
    for device_type in (DeviceType.EV_CHARGER, DeviceType.BATTERY):
        for view in snapshot.of_type(device_type):
            value = out.get(view.device_id)
            if excess <= 1e-9 or value is None or isinstance(value, bool) or value <= 0:
                continue
            cut = min(float(value), excess)
            out[view.device_id] = round(float(value) - cut, 3)
            excess -= cut
            notes.append(
                f"{view.device_id}: {value:g} kW clipped to {out[view.device_id]:g} kW "
                f"(import limit {limits.import_limit_kw:g} kW)"
            )
    if excess > 1e-6:
        notes.append(f"import {excess:.2f} kW above the limit from loads the agent does not command")
    return limits.import_limit_kw + excess if predicted > limits.import_limit_kw else predicted


def _hold_export_limit(
    out: Setpoints, snapshot: HomeSnapshot, limits: SiteLimits, predicted: float, notes: list[str]
) -> float:
    excess = -limits.export_limit_kw - predicted
    for view in snapshot.of_type(DeviceType.BATTERY):
        value = out.get(view.device_id)
        if excess <= 1e-9 or value is None or isinstance(value, bool) or value >= 0:
            continue
        cut = min(-float(value), excess)
        out[view.device_id] = round(float(value) + cut, 3)
        excess -= cut
        notes.append(f"{view.device_id}: discharge clipped to {out[view.device_id]:g} kW (export limit)")
    excess = _curtail_pv(out, snapshot, limits, excess, notes)
    return -limits.export_limit_kw - excess if predicted < -limits.export_limit_kw else predicted


def _curtail_pv(
    out: Setpoints, snapshot: HomeSnapshot, limits: SiteLimits, excess: float, notes: list[str]
) -> float:
    """Cap PV output by the export still above the limit (`excess` kW, negative: room left)."""
    for view in snapshot.of_type(DeviceType.PV_INVERTER):
        control = view.config.control(ControlName.CURTAIL_PERCENT)
        nominal_kw = view.config.param_float("nominal_kw", 0.0)
        if control is None or nominal_kw <= 0 or view.overridden or not view.online or view.device_id in out:
            continue
        state = view.state.model_extra or {} if view.state is not None else {}
        capped = float(state.get("curtail_percent", 100.0)) < 100.0
        if excess <= 1e-9 and not capped:
            continue
        output_kw = max(0.0, -view.power_kw)
        allowed_kw = max(0.0, output_kw - excess)
        if allowed_kw >= nominal_kw - 1e-9:
            excess += nominal_kw - output_kw  # lifted: it may produce up to its nominal power
            continue
        percent = max(control.min or 0.0, 100.0 * allowed_kw / nominal_kw)
        out[view.device_id] = round(percent, 1)
        excess -= output_kw - allowed_kw
        notes.append(
            f"{view.device_id}: output capped at {percent:.1f} % (export limit {limits.export_limit_kw:g} kW)"
        )
    return max(0.0, excess)
