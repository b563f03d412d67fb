"""An air-to-water heat pump heating a house (one thermal mass, on/off with hysteresis).

`setpoint_c` moves the thermostat; the safe default is the user's comfort setpoint.
"""

from __future__ import annotations

from typing import Any

from ven.messages import ControlName, ControlSpec, DeviceType, SensorSpec, SetCommand
from ven.simulators.base import STANDARD_SENSORS, SimDevice, SiteView
from ven.simulators.profiles import outdoor_temperature_c

HYSTERESIS_C = 0.5


class HeatPump(SimDevice):
    device_type = DeviceType.HEAT_PUMP

    def __init__(
        self,
        device_id: str,
        electric_kw: float = 2.0,
        cop: float = 3.0,
        comfort_setpoint_c: float = 21.0,
        indoor_c: float = 20.5,
        loss_kw_per_k: float = 0.2,
        capacity_kwh_per_k: float = 4.0,
    ) -> None:
        super().__init__(device_id)
        self.electric_kw = electric_kw
        self.cop = cop
        self.comfort_setpoint_c = comfort_setpoint_c
        self.setpoint_c = comfort_setpoint_c
        self.indoor_c = indoor_c
        self.loss_kw_per_k = loss_kw_per_k
        self.capacity_kwh_per_k = capacity_kwh_per_k
        self.running = False

    def controls(self) -> list[ControlSpec]:
        return [ControlSpec(name=ControlName.SETPOINT_C, min=15.0, max=25.0)]

    def sensors(self) -> list[SensorSpec]:
        return [*STANDARD_SENSORS, SensorSpec(name="temperature", unit="Cel")]

    def params(self) -> dict[str, Any]:
        return {
            "electric_kw": self.electric_kw,
            "cop": self.cop,
            "comfort_setpoint_c": self.comfort_setpoint_c,
        }

    def state(self, now_s: float) -> dict[str, Any]:
        return {**super().state(now_s), "setpoint_c": self.setpoint_c}

    def telemetry(self) -> list[tuple[str, str, float]]:
        return [*super().telemetry(), ("temperature", "Cel", round(self.indoor_c, 2))]

    def apply(self, command: SetCommand) -> None:
        self.setpoint_c = float(command.value)

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        if self.command is None:
            self.setpoint_c = self.comfort_setpoint_c
        if self.indoor_c < self.setpoint_c - HYSTERESIS_C:
            self.running = True
        elif self.indoor_c > self.setpoint_c + HYSTERESIS_C:
            self.running = False
        power = self.electric_kw if self.running else 0.0
        heat_kw = power * self.cop - self.loss_kw_per_k * (self.indoor_c - outdoor_temperature_c(now_s))
        self.indoor_c += heat_kw * dt_s / 3600.0 / self.capacity_kwh_per_k
        return power
