"""The grid connection point: reads the home's net import (the sum of every other device)."""

from __future__ import annotations

from typing import Any

from ven.messages import DeviceType
from ven.simulators.base import SimDevice, SiteView


class Meter(SimDevice):
    device_type = DeviceType.METER

    def __init__(self, device_id: str, import_limit_kw: float) -> None:
        super().__init__(device_id)
        self.import_limit_kw = import_limit_kw

    def params(self) -> dict[str, Any]:
        return {"import_limit_kw": self.import_limit_kw}

    def state(self, now_s: float) -> dict[str, Any]:
        return {"ts": now_s, "online": self.online}

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        # The home sets `net_without_kw` to the sum of all other devices and the base load.
        return site.net_without_kw
