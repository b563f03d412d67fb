"""A home battery. Safe default (no valid command): self-consumption (charge surplus, cover load)."""

from __future__ import annotations

from typing import Any

from ven.messages import ControlName, ControlSpec, DeviceType, SensorSpec, SetCommand
from ven.simulators.base import STANDARD_SENSORS, SimDevice, SiteView


class Battery(SimDevice):
    device_type = DeviceType.BATTERY

    def __init__(
        self,
        device_id: str,
        capacity_kwh: float = 10.0,
        soc_kwh: float = 5.0,
        min_soc_kwh: float = 1.0,
        max_charge_kw: float = 5.0,
        max_discharge_kw: float = 5.0,
        efficiency: float = 0.95,
    ) -> None:
        super().__init__(device_id)
        self.capacity_kwh = capacity_kwh
        self.soc_kwh = soc_kwh
        self.min_soc_kwh = min_soc_kwh
        self.max_charge_kw = max_charge_kw
        self.max_discharge_kw = max_discharge_kw
        self.efficiency = efficiency
        self.setpoint_kw = 0.0

    def controls(self) -> list[ControlSpec]:
        return [ControlSpec(name=ControlName.POWER_KW, min=-self.max_discharge_kw, max=self.max_charge_kw)]

    def sensors(self) -> list[SensorSpec]:
        return [
            *STANDARD_SENSORS,
            SensorSpec(name="soc", unit="%"),
            SensorSpec(name="stored_energy", unit="Wh"),
        ]

    def params(self) -> dict[str, Any]:
        return {
            "capacity_kwh": self.capacity_kwh,
            "min_soc_kwh": self.min_soc_kwh,
            "max_charge_kw": self.max_charge_kw,
            "max_discharge_kw": self.max_discharge_kw,
            "charge_efficiency": self.efficiency,
            "discharge_efficiency": self.efficiency,
        }

    def state(self, now_s: float) -> dict[str, Any]:
        return {**super().state(now_s), "soc_kwh": round(self.soc_kwh, 4)}

    def telemetry(self) -> list[tuple[str, str, float]]:
        return [
            *super().telemetry(),
            ("soc", "%", round(100.0 * self.soc_kwh / self.capacity_kwh, 2)),
            ("stored_energy", "Wh", round(self.soc_kwh * 1000.0, 1)),
        ]

    def apply(self, command: SetCommand) -> None:
        self.setpoint_kw = float(command.value)

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        if dt_s <= 0:
            return 0.0
        wanted = self.setpoint_kw if self.command is not None else -site.net_without_kw
        dt_h = dt_s / 3600.0
        room_kw = (self.capacity_kwh - self.soc_kwh) / (self.efficiency * dt_h)
        stock_kw = (self.soc_kwh - self.min_soc_kwh) * self.efficiency / dt_h
        power = min(wanted, self.max_charge_kw, max(0.0, room_kw))
        power = max(power, -self.max_discharge_kw, -max(0.0, stock_kw))
        if power >= 0:
            self.soc_kwh += power * self.efficiency * dt_h
        else:
            self.soc_kwh += power * dt_h / self.efficiency
        return power
