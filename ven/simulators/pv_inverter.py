"""A PV inverter following a PV profile; `curtail_percent` caps its output. Safe default: 100 %."""

from __future__ import annotations

from typing import Any

from ven.messages import ControlName, ControlSpec, DeviceType, SetCommand
from ven.simulators.base import SimDevice, SiteView
from ven.simulators.profiles import PvProfile


class PvInverter(SimDevice):
    device_type = DeviceType.PV_INVERTER

    def __init__(self, device_id: str, profile: PvProfile) -> None:
        super().__init__(device_id)
        self.profile = profile
        self.curtail_percent = 100.0

    @property
    def nominal_kw(self) -> float:
        return self.profile.nominal_kw

    def controls(self) -> list[ControlSpec]:
        return [ControlSpec(name=ControlName.CURTAIL_PERCENT, min=0.0, max=100.0)]

    def params(self) -> dict[str, Any]:
        return {"nominal_kw": self.nominal_kw, "curtailable": True}

    def state(self, now_s: float) -> dict[str, Any]:
        return {**super().state(now_s), "curtail_percent": self.curtail_percent}

    def apply(self, command: SetCommand) -> None:
        self.curtail_percent = float(command.value)

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        if self.command is None:
            self.curtail_percent = 100.0
        cap_kw = self.nominal_kw * self.curtail_percent / 100.0
        return -min(self.profile.available_kw(now_s), cap_kw)  # generation is negative
