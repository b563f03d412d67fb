"""What every simulated device shares: command checking, `valid_until`, energy counters.

Power is consumption-positive in kW (a PV inverter's is negative); `power` on the bus is W.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from ven.messages import Ack, ControlName, ControlSpec, DeviceConfig, DeviceType, SensorSpec, SetCommand

log = logging.getLogger(__name__)

STANDARD_SENSORS = [
    SensorSpec(name="power", unit="W"),
    SensorSpec(name="energy_import", unit="Wh"),
    SensorSpec(name="energy_export", unit="Wh"),
]


@dataclass(frozen=True, slots=True)
class SiteView:
    """What a device may see of the rest of the home during a physics step."""

    net_without_kw: float  # the site's net import without this device [kW]


class SimDevice:
    """A device model; subclasses set `device_type` and implement the physics."""

    device_type: ClassVar[DeviceType]

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.power_kw = 0.0
        self.energy_import_wh = 0.0
        self.energy_export_wh = 0.0
        self.mode = "smart"
        self.command: SetCommand | None = None
        self.online = True
        # (edge time, power kW, energy import Wh) at the home's last telemetry edge: what a
        # device served by another face (OCPP's clock-aligned meter values) reads at the edge.
        self.edge_reading: tuple[float, float, float] | None = None

    # --- description ---------------------------------------------------------------------------
    def controls(self) -> list[ControlSpec]:
        return []

    def params(self) -> dict[str, Any]:
        return {}

    def sensors(self) -> list[SensorSpec]:
        return list(STANDARD_SENSORS)

    def config(self) -> DeviceConfig:
        return DeviceConfig(
            device_id=self.device_id,
            device_type=self.device_type,
            sensors=self.sensors(),
            controls=self.controls(),
            params=self.params(),
        )

    def state(self, now_s: float) -> dict[str, Any]:
        return {
            "ts": now_s,
            "online": self.online,
            "mode": self.mode,
            "control": "agent" if self.command is not None else "local",
        }

    def telemetry(self) -> list[tuple[str, str, float]]:
        return [
            ("power", "W", round(self.power_kw * 1000.0, 1)),
            ("energy_import", "Wh", round(self.energy_import_wh, 1)),
            ("energy_export", "Wh", round(self.energy_export_wh, 1)),
        ]

    # --- commands -----------------------------------------------------------------------------
    def handle_set(self, command: SetCommand, now_s: float) -> Ack:
        reason = self.reject_reason(command, now_s)
        if reason is not None:
            log.info("%s rejects %s: %s", self.device_id, command.command_id, reason)
            return Ack(command_id=command.command_id, accepted=False, reason=reason)
        self.command = command
        self.apply(command)
        return Ack(command_id=command.command_id, accepted=True)

    def reject_reason(self, command: SetCommand, now_s: float) -> str | None:
        name = command.control_name
        spec = next((c for c in self.controls() if c.name == name), None)
        if spec is None:
            accepted = ", ".join(c.name for c in self.controls()) or "nothing"
            return f"{name} is not a control of {self.device_type} {self.device_id} (accepts {accepted})"
        value = command.value
        if name == ControlName.ON:
            if not isinstance(value, bool):
                return f"on must be true or false, got {value!r}"
        else:
            if isinstance(value, bool):
                return f"{name} must be a number, got {value!r}"
            if spec.max is not None and value > spec.max:
                return f"{name} {value:g} above max {spec.max:g}"
            if spec.min is not None and value < spec.min:
                return f"{name} {value:g} below min {spec.min:g}"
        if command.valid_until <= now_s:
            return f"valid_until {command.valid_until:.0f} is already past (now {now_s:.0f})"
        if self.mode not in ("smart", "auto"):
            return f"user override: mode is {self.mode!r}"
        return self.device_reject_reason(command)

    def device_reject_reason(self, command: SetCommand) -> str | None:
        return None

    def apply(self, command: SetCommand) -> None:
        """Take a validated command into effect (the physics reads it in `step`)."""

    def expire(self, now_s: float) -> bool:
        """Drop a command past its `valid_until`: the device falls back to its safe default."""
        if self.command is not None and now_s >= self.command.valid_until:
            log.info("%s: command %s expired; safe default", self.device_id, self.command.command_id)
            self.command = None
            return True
        return False

    def set_mode(self, mode: str) -> None:
        """The user's own choice at the device; any mode but smart/auto overrides the agent."""
        self.mode = mode
        if mode not in ("smart", "auto"):
            self.command = None

    # --- physics -------------------------------------------------------------------------------
    def step(self, now_s: float, dt_s: float, site: SiteView) -> None:
        self.power_kw = self.compute_power_kw(now_s, dt_s, site)
        energy_wh = self.power_kw * dt_s / 3.6
        if energy_wh >= 0:
            self.energy_import_wh += energy_wh
        else:
            self.energy_export_wh -= energy_wh

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        raise NotImplementedError
