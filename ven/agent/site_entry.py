"""The home's plan-format site entry, built from what the agent sees and has learnt.

Forecasts are deliberately simple and local: the base load and the PV output per
slot-of-day are exponential averages of what was measured (the base load is the meter minus
every device); before anything is learnt the base load is the last one seen and PV a
clear-sky bell of the inverter's nominal power.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ven.agent.policy import SiteLimits, ev_need
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import ControlName, DeviceType

DAY_S = 86400


@dataclass(frozen=True, slots=True)
class Grid:
    start: datetime
    resolution: timedelta
    slots: int

    @classmethod
    def at(cls, now_s: float, resolution_minutes: int = 15, slots: int = 96) -> Grid:
        step = resolution_minutes * 60
        return cls(datetime.fromtimestamp(now_s - now_s % step, UTC), timedelta(seconds=step), slots)

    def slot_start_s(self, t: int) -> float:
        return (self.start + t * self.resolution).timestamp()


class SlotProfile:
    """An exponential average per slot of the day (a tiny, local forecaster)."""

    def __init__(self, slot_s: int = 900, weight: float = 0.3) -> None:
        self._slot_s = slot_s
        self._weight = weight
        self._values: dict[int, float] = {}
        self.last: float | None = None
        self._lock = threading.Lock()

    def _slot(self, time_s: float) -> int:
        return int(time_s % DAY_S) // self._slot_s

    def add(self, time_s: float, value: float) -> None:
        with self._lock:
            slot = self._slot(time_s)
            old = self._values.get(slot)
            self._values[slot] = value if old is None else old + self._weight * (value - old)
            self.last = value

    def get(self, time_s: float) -> float | None:
        with self._lock:
            return self._values.get(self._slot(time_s))


def clear_sky_kw(nominal_kw: float, time_s: float) -> float:
    hour = (time_s % DAY_S) / 3600.0
    if not 6.0 < hour < 19.0:
        return 0.0
    return 0.6 * nominal_kw * float(math.sin(math.pi * (hour - 6.0) / 13.0) ** 1.5)


def _base_forecast(grid: Grid, base: SlotProfile, held_kw: float = 0.0) -> list[float]:
    fallback = base.last if base.last is not None else 0.4
    return [
        round(max(0.0, v if (v := base.get(grid.slot_start_s(t))) is not None else fallback) + held_kw, 3)
        for t in range(grid.slots)
    ]


def _held_kw(snapshot: HomeSnapshot) -> float:
    """What the heat pumps that report `hold_power` (S2 FRBC) draw just to keep their storage:
    the plan has no heat-pump model, so it is load the plan must carry (the base load leaves
    every device out)."""
    return sum(
        max(0.0, reading) / 1000.0
        for view in snapshot.of_type(DeviceType.HEAT_PUMP)
        if view.online and (reading := view.reading("hold_power")) is not None
    )


def _pv_entry(view: DeviceView, grid: Grid, pv: SlotProfile) -> dict[str, Any]:
    nominal = view.config.param_float("nominal_kw", 0.0)
    forecast = []
    for t in range(grid.slots):
        learnt = pv.get(grid.slot_start_s(t))
        value = learnt if learnt is not None else clear_sky_kw(nominal, grid.slot_start_s(t))
        forecast.append(round(max(0.0, value), 3))
    curtailable = view.config.control(ControlName.CURTAIL_PERCENT) is not None and not view.overridden
    return {"forecast_kw": forecast, "curtailable": curtailable}


def _battery_entry(view: DeviceView) -> dict[str, Any] | None:
    capacity = view.config.param_float("capacity_kwh", 0.0)
    stored_wh = view.reading("stored_energy")
    soc_pct = view.reading("soc")
    if capacity <= 0 or (stored_wh is None and soc_pct is None):
        return None
    soc = stored_wh / 1000.0 if stored_wh is not None else capacity * (soc_pct or 0.0) / 100.0
    min_soc = min(view.config.param_float("min_soc_kwh", 0.0), capacity)
    soc = min(capacity, max(min_soc, soc))
    return {
        "capacity_kwh": capacity,
        "soc_kwh": round(soc, 4),
        "min_soc_kwh": min_soc,
        "max_charge_kw": view.config.param_float("max_charge_kw", 0.0),
        "max_discharge_kw": view.config.param_float("max_discharge_kw", 0.0),
        "charge_efficiency": view.config.param_float("charge_efficiency", 1.0),
        "discharge_efficiency": view.config.param_float("discharge_efficiency", 1.0),
    }


def _ev_entry(view: DeviceView, grid: Grid, now_s: float) -> dict[str, Any] | None:
    need = ev_need(view, now_s)
    state = view.state
    if need is None or state is None or state.ev_departure is None:
        return None
    mode = state.mode if state.mode in ("smart", "solar", "boost") else "smart"
    if state.mode not in (None, "smart", "auto", "solar", "boost"):
        return None  # the user switched it off (or to a mode the planner cannot follow)
    arrival_text = (state.model_extra or {}).get("ev_arrival")
    arrival = datetime.fromisoformat(arrival_text) if isinstance(arrival_text, str) else grid.start
    return {
        "ev_id": view.device_id,
        "arrival": min(arrival, grid.start).isoformat(),
        "departure": state.ev_departure.isoformat(),
        "energy_needed_kwh": round(need.remaining_kwh, 4),
        "max_power_kw": need.max_kw,
        "efficiency": need.efficiency,
        "mode": mode,
    }


def build_site_entry(
    site_id: str, snapshot: HomeSnapshot, limits: SiteLimits, grid: Grid, base: SlotProfile, pv: SlotProfile
) -> dict[str, Any]:
    """This site's entry of plan-format.md for `grid`."""
    entry: dict[str, Any] = {
        "site_id": site_id,
        "import_limit_kw": limits.import_limit_kw,
        "export_limit_kw": limits.export_limit_kw,
        "month_peak_kw": round(limits.month_peak_kw, 3),
        "min_billed_peak_kw": limits.min_billed_peak_kw,
        "base_load_kw": _base_forecast(grid, base, _held_kw(snapshot)),
    }
    inverters = snapshot.of_type(DeviceType.PV_INVERTER)
    if inverters:
        entry["pv"] = _pv_entry(inverters[0], grid, pv)
    batteries = [b for b in (_battery_entry(v) for v in snapshot.of_type(DeviceType.BATTERY)) if b]
    if batteries:
        entry["battery"] = batteries[0]
    evs = [
        e for e in (_ev_entry(v, grid, snapshot.now_s) for v in snapshot.of_type(DeviceType.EV_CHARGER)) if e
    ]
    if evs:
        entry["evs"] = evs
    return entry
