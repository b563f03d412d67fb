"""A smart plug with an appliance behind it: draws its load when on. Safe default: on."""

from __future__ import annotations

from typing import Any

from ven.messages import ControlName, ControlSpec, DeviceType, SetCommand
from ven.simulators.base import SimDevice, SiteView


class SmartPlug(SimDevice):
    device_type = DeviceType.SMART_PLUG

    def __init__(self, device_id: str, load_kw: float = 1.0) -> None:
        super().__init__(device_id)
        self.load_kw = load_kw
        self.on = True

    def controls(self) -> list[ControlSpec]:
        return [ControlSpec(name=ControlName.ON)]

    def params(self) -> dict[str, Any]:
        return {"load_kw": self.load_kw}

    def state(self, now_s: float) -> dict[str, Any]:
        return {**super().state(now_s), "on": self.on}

    def apply(self, command: SetCommand) -> None:
        self.on = bool(command.on)

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        if self.command is None:
            self.on = True  # safe default
        return self.load_kw if self.on else 0.0
