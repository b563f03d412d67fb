"""From what the agent knows (devices, events, prices) to the setpoints it wants.

Setpoints map a device id to the value of its one control (`power_kw`, `curtail_percent`,
`on`, `setpoint_c`); a device absent from the map is left to its own behaviour.

Local policy (no event, or the VTN unreachable past the last schedule's end):
- EV (mode smart, plugged in, target and departure known): keep the user's promise without
  raising the month's peak: charge at the flat rate that just meets the target by departure,
  or faster while the site stays under the peak already billed this month. With a local plan
  (ELECTRICITY_PRICE re-planned) the plan's EV power for the current slot is used instead.
- battery, PV, heat pump, smart plug: no command (their own defaults: self-consumption,
  100 %, the comfort setpoint, on).

SIMPLE levels (the shed policy; the EV's promise is kept at every level):
- 0 normal: the local policy.
- 1 moderate: EV at most half its power; heat pump setpoint 1 °C below comfort (a heat pump
  steered by its power, S2: half its power range).
- 2 high: EV only what the promise needs; heat pump 2 °C below (by power: its least power);
  smart plugs off.
- 3 special: as 2, heat pump at its minimum setpoint; battery discharges at full power,
  limited to the house's own load (never exports to the grid for the event).

LOAD_DISPATCH (kW): `setpoint` with a device in the event's targets is that device's
power; without a device target it is the site's net import, reached with the battery and
the EV around the local policy. `delta` shifts the site's current import by the value.
The battery is asked only for what its state of charge can hold until the next step (an
empty battery cannot discharge, a full one cannot charge); the EVs take up the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from ven.agent.events import DrEvent, SignalName, SignalType
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import ControlName, DeviceType

Setpoint = float | bool
Setpoints = dict[str, Setpoint]


@dataclass(frozen=True, slots=True)
class SiteLimits:
    import_limit_kw: float
    export_limit_kw: float
    month_peak_kw: float = 0.0
    min_billed_peak_kw: float = 2.5

    @property
    def billed_peak_kw(self) -> float:
        return max(self.month_peak_kw, self.min_billed_peak_kw)


@dataclass(frozen=True, slots=True)
class EvNeed:
    """An EV session as the policy needs it."""

    remaining_kwh: float
    hours_left: float
    max_kw: float
    efficiency: float

    @property
    def flat_kw(self) -> float:
        if self.remaining_kwh <= 0:
            return 0.0
        if self.hours_left <= 1e-6:
            return self.max_kw
        return min(self.max_kw, self.remaining_kwh / (self.efficiency * self.hours_left))

    def must_run_kw(self, pause_h: float) -> float:
        """The least power during a pause of `pause_h` that still meets the target by departure."""
        if self.remaining_kwh <= 0:
            return 0.0
        after_h = max(0.0, self.hours_left - pause_h)
        missing = self.remaining_kwh - self.max_kw * self.efficiency * after_h
        if missing <= 0:
            return 0.0
        return min(self.max_kw, missing / (self.efficiency * max(min(pause_h, self.hours_left), 1e-6)))


def ev_need(view: DeviceView, now_s: float) -> EvNeed | None:
    state = view.state
    if state is None or not state.plugged_in or state.ev_target_kwh is None or state.ev_departure is None:
        return None
    delivered = (view.reading("session_energy") or 0.0) / 1000.0
    control = view.config.control(ControlName.POWER_KW)
    max_kw = control.max if control is not None and control.max is not None else 0.0
    return EvNeed(
        remaining_kwh=max(0.0, state.ev_target_kwh - delivered),
        hours_left=max(0.0, (state.ev_departure.timestamp() - now_s) / 3600.0),
        max_kw=max_kw,
        efficiency=view.config.param_float("efficiency", 1.0),
    )


def controllable_kw(snapshot: HomeSnapshot) -> float:
    """Measured power of every device that is not the meter."""
    return sum(d.power_kw for d in snapshot.devices.values() if d.device_type != DeviceType.METER)


def uncontrolled_kw(snapshot: HomeSnapshot) -> float:
    """The house's own load net of everything measured: meter minus every device."""
    if snapshot.house_kw is not None:
        return snapshot.house_kw
    meter = snapshot.meter_kw
    return 0.0 if meter is None else meter - controllable_kw(snapshot)


def local_setpoints(snapshot: HomeSnapshot, limits: SiteLimits, planned_ev_kw: dict[str, float]) -> Setpoints:
    """The local policy; `planned_ev_kw` holds a local plan's power for this slot (EVs, battery)."""
    out: Setpoints = {}
    for battery in snapshot.of_type(DeviceType.BATTERY):
        if battery.device_id in planned_ev_kw:
            out[battery.device_id] = planned_ev_kw[battery.device_id]
    meter = snapshot.meter_kw or 0.0
    for ev in snapshot.of_type(DeviceType.EV_CHARGER):
        need = ev_need(ev, snapshot.now_s)
        if need is None:
            continue
        if ev.device_id in planned_ev_kw:
            out[ev.device_id] = min(planned_ev_kw[ev.device_id], need.max_kw)
            continue
        headroom = limits.billed_peak_kw - (meter - ev.power_kw)  # room under the peak already paid for
        out[ev.device_id] = max(
            0.0, min(need.max_kw, max(need.flat_kw, headroom if need.remaining_kwh else 0))
        )
    return out


def simple_setpoints(level: int, snapshot: HomeSnapshot, base: Setpoints, pause_h: float) -> Setpoints:
    out = dict(base)
    if level <= 0:
        return out
    for ev in snapshot.of_type(DeviceType.EV_CHARGER):
        need = ev_need(ev, snapshot.now_s)
        if need is None:
            continue
        must = need.must_run_kw(pause_h)
        current = float(base.get(ev.device_id, need.max_kw))
        out[ev.device_id] = max(must, min(current, need.max_kw / 2)) if level == 1 else must
    for hp in snapshot.of_type(DeviceType.HEAT_PUMP):
        power = hp.config.control(ControlName.POWER_KW)
        if power is not None:  # steered by its power (an S2 heat pump): its own guard keeps comfort
            least = power.min or 0.0
            most = power.max if power.max is not None else least
            out[hp.device_id] = least if level >= 2 else least + (most - least) / 2
            continue
        control = hp.config.control(ControlName.SETPOINT_C)
        comfort = hp.config.param_float("comfort_setpoint_c", 21.0)
        lowest = control.min if control is not None and control.min is not None else comfort - 3
        out[hp.device_id] = lowest if level >= 3 else max(lowest, comfort - level)
    if level >= 2:
        for plug in snapshot.of_type(DeviceType.SMART_PLUG):
            out[plug.device_id] = False
    if level >= 3:
        house = uncontrolled_kw(snapshot) + sum(
            float(v) for k, v in out.items() if _is_power(snapshot, k) and not isinstance(v, bool)
        )
        for battery in snapshot.of_type(DeviceType.BATTERY):
            max_dis = battery.config.param_float("max_discharge_kw", 0.0)
            out[battery.device_id] = -min(max_dis, max(0.0, house))
    return out


def _is_power(snapshot: HomeSnapshot, device_id: str) -> bool:
    view = snapshot.devices.get(device_id)
    return view is not None and view.config.control(ControlName.POWER_KW) is not None


def battery_range_kw(view: DeviceView, period_h: float) -> tuple[float, float]:
    """(lowest, highest) power [kW, + = charging] the battery can hold for `period_h`.

    Its power limits, narrowed by the energy above its minimum SoC (discharge, after the
    discharge losses) and the room below its capacity (charge, before the charge losses).
    Without a SoC reading, the power limits alone."""
    config = view.config
    lo = -config.param_float("max_discharge_kw", 0.0)
    hi = config.param_float("max_charge_kw", 0.0)
    capacity = config.param_float("capacity_kwh", 0.0)
    stored_wh, soc_pct = view.reading("stored_energy"), view.reading("soc")
    if capacity <= 0 or (stored_wh is None and soc_pct is None) or period_h <= 0:
        return lo, hi
    soc = stored_wh / 1000.0 if stored_wh is not None else capacity * (soc_pct or 0.0) / 100.0
    stock_kwh = max(0.0, soc - config.param_float("min_soc_kwh", 0.0))
    room_kwh = max(0.0, capacity - soc)
    lo = max(lo, -stock_kwh * config.param_float("discharge_efficiency", 1.0) / period_h)
    hi = min(hi, room_kwh / (config.param_float("charge_efficiency", 1.0) * period_h))
    return lo, hi


def dispatch_setpoints(
    event: DrEvent, value_kw: float, snapshot: HomeSnapshot, base: Setpoints, period_h: float = 1 / 60
) -> Setpoints:
    out = dict(base)
    targets = [d for d in event.resource_ids if d in snapshot.devices]
    if targets:
        for device_id in targets:
            if _is_power(snapshot, device_id):
                out[device_id] = value_kw
        return out
    site_kw = value_kw
    if event.signal_type == SignalType.DELTA:
        site_kw = (snapshot.meter_kw or 0.0) + value_kw
    return _site_target(site_kw, snapshot, out, period_h)


def _site_target(site_kw: float, snapshot: HomeSnapshot, out: Setpoints, period_h: float) -> Setpoints:
    """Reach a site net import with the battery first, as far as its SoC allows until the next
    step (`period_h`), then the EV, around the local policy."""
    evs = [(v, ev_need(v, snapshot.now_s)) for v in snapshot.of_type(DeviceType.EV_CHARGER)]
    evs_ok = [(v, n) for v, n in evs if n is not None and not v.overridden]
    batteries = [b for b in snapshot.of_type(DeviceType.BATTERY) if not b.overridden]
    steered = {v.device_id for v, _ in evs_ok} | {b.device_id for b in batteries}
    fixed = (snapshot.meter_kw or 0.0) - sum(snapshot.devices[d].power_kw for d in steered)
    need_kw = site_kw - fixed  # what the steered devices together must draw
    ev_kw = {v.device_id: float(out.get(v.device_id, n.flat_kw)) for v, n in evs_ok}
    rest = need_kw - sum(ev_kw.values())
    for battery in batteries:
        lo, hi = battery_range_kw(battery, period_h)
        out[battery.device_id] = min(hi, max(lo, rest))
        rest -= float(out[battery.device_id])
    for view, need in evs_ok:  # the EVs absorb what the battery could not, within their limits
        new = min(need.max_kw if need.remaining_kwh > 0 else 0.0, max(0.0, ev_kw[view.device_id] + rest))
        rest -= new - ev_kw[view.device_id]
        out[view.device_id] = new
    return out


def event_value(event: DrEvent, now_s: float) -> tuple[float, float] | None:
    """(value, ramp fraction) of an event at `now_s`: fraction 1 inside an interval."""
    interval = event.interval_at(now_s)
    if interval is not None:
        return interval.value, 1.0
    fraction = event.in_ramp_up(now_s)
    if fraction is not None and event.intervals:
        return event.intervals[0].value, fraction
    return None


def blend(base: Setpoints, target: Setpoints, fraction: float) -> Setpoints:
    """Ramp-up: numeric setpoints move linearly from `base`; switches change at the start."""
    if fraction >= 1.0:
        return target
    out = dict(base)
    for device_id, value in target.items():
        old = base.get(device_id)
        if isinstance(value, bool) or isinstance(old, bool) or old is None:
            continue
        out[device_id] = old + (value - old) * fraction
    return out


def apply_events(
    snapshot: HomeSnapshot, events: list[DrEvent], base: Setpoints, period_s: float = 60.0
) -> tuple[Setpoints, list[str]]:
    """Apply the active events, lowest rank first, so the highest priority has the last word.
    `period_s`: the setpoints hold this long (until the agent's next step)."""
    out = dict(base)
    active: list[str] = []
    now = snapshot.now_s
    for event in sorted(events, key=lambda e: e.rank, reverse=True):
        if event.cancelled:
            continue
        current = event_value(event, now)
        if current is None:
            continue
        value, fraction = current
        if event.signal_name == SignalName.SIMPLE:
            pause_h = max(0.0, event.end_s - now) / 3600.0
            target = simple_setpoints(round(value), snapshot, out, pause_h)
        elif event.signal_name == SignalName.LOAD_DISPATCH:
            target = dispatch_setpoints(event, value, snapshot, out, period_s / 3600.0)
        else:
            continue  # prices act through the local plan
        if fraction < 1.0:  # a ramp starts from what a device does now when the agent set nothing
            measured = {
                d: snapshot.devices[d].power_kw for d in target if d not in out and _is_power(snapshot, d)
            }
            out = {**measured, **out}
        out = blend(out, target, fraction)
        active.append(event.event_id)
    return out, active
