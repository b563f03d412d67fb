"""A simulated home battery served as a SunSpec device over Modbus TCP (pymodbus's own server).

The physics stays the home's (`ven.simulators.battery.Battery` in a `SimulatedHome`, which the
meter sums); this is only its protocol face, as a real battery's Modbus interface is: models 1,
120 (WRtg, WHRtg, MaxDisChaRte), 103 (W, WH) and 124 (WChaMax, MinRsvPct, ChaState, ChaSt,
StorCtl_Mod, OutWRte/InWRte and their revert timer).

- Every read first copies the battery into the registers: W = -power (SunSpec: AC output
  positive, so discharging is +), WH = energy exported, ChaState = SoC, ChaSt = what it does.
- A write that leaves StorCtl_Mod = 3 (both limits) sets the battery to the one power the window
  [-OutWRte x MaxDisChaRte, InWRte x WChaMax] allows (the agent writes P into both ends), until
  InOutWRte_RvrtTms seconds of the home's clock have passed; StorCtl_Mod = 0 (or the revert)
  gives the battery back its own mode, self-consumption.
"""

from __future__ import annotations

import threading
import uuid

from ven.clock import Clock
from ven.messages import SetCommand
from ven.simulators.battery import Battery
from ven.simulators.sunspec_registers import (
    SunspecServer,
    SunspecSim,
    common,
    inverter,
    nameplate,
    signed,
    storage,
)

NAMEPLATE, INVERTER, STORAGE = 120, 103, 124
RATE_SF = -2  # InWRte / OutWRte in 0.01 %
SOC_SF = -1  # ChaState in 0.1 %
BOTH_LIMITS = 3  # StorCtl_Mod bits 0 (charge limit) and 1 (discharge limit)
NO_REVERT_S = 10 * 365 * 86400.0  # RvrtTms 0: the setting holds until changed
CHARGING, DISCHARGING, HOLDING = 4, 3, 6  # ChaSt
WH_AT_START = 1_000_000  # the AC energy counter of a battery in use (an acc32 0 means "not implemented")


class SunspecBattery:
    """`battery`'s SunSpec face; `lock` is the home's (the physics runs on its thread)."""

    def __init__(self, battery: Battery, lock: threading.RLock, clock: Clock, unit: int = 1) -> None:
        self.battery = battery
        self.lock = lock
        self.clock = clock
        # Ratings in 10 W / 10 Wh (scale factor 1): a home battery's fit in uint16.
        self.sim = SunspecSim(
            unit,
            [
                (1, common(f"BAT-{battery.device_id}")),
                (
                    NAMEPLATE,
                    nameplate(
                        round(battery.max_charge_kw * 100),
                        wh_rtg=round(battery.capacity_kwh * 100),
                        max_discharge=round(battery.max_discharge_kw * 100),
                        sf=1,
                    ),
                ),
                (INVERTER, inverter(0, 0, 0, 0)),
                (
                    STORAGE,
                    storage(
                        round(battery.max_charge_kw * 1000),
                        0,
                        SOC_SF,
                        RATE_SF,
                        reserve_pct=round(100 * battery.min_soc_kwh / battery.capacity_kwh),
                    ),
                ),
            ],
            physics=self._read,
            on_write=self._written,
        )

    def server(self, port: int | None = None) -> SunspecServer:
        return SunspecServer(self.sim, port=port)

    def _read(self, sim: SunspecSim) -> None:
        with self.lock:
            b = self.battery
            power_w = b.power_kw * 1000.0
            sim.set(INVERTER, 12, round(-power_w))
            wh = (WH_AT_START + round(b.energy_export_wh)) & 0xFFFFFFFF
            sim.set(INVERTER, 22, wh >> 16)
            sim.set(INVERTER, 23, wh & 0xFFFF)
            sim.set(STORAGE, 6, round(100.0 * b.soc_kwh / b.capacity_kwh / 10.0**SOC_SF))
            sim.set(STORAGE, 9, CHARGING if power_w > 1 else DISCHARGING if power_w < -1 else HOLDING)
            if b.command is None:  # reverted (or never set): the device shows its own mode
                sim.set(STORAGE, 3, 0)

    def _written(self, sim: SunspecSim, _address: int, _values: list[int]) -> None:
        with self.lock:
            b = self.battery
            if sim.get(STORAGE, 3) & BOTH_LIMITS != BOTH_LIMITS:
                b.command = None  # the battery's own mode
                return
            scale = 10.0 ** signed(sim.get(STORAGE, 23))
            high_kw = signed(sim.get(STORAGE, 11)) * scale / 100.0 * b.max_charge_kw
            low_kw = -signed(sim.get(STORAGE, 10)) * scale / 100.0 * b.max_discharge_kw
            power_kw = min(high_kw, max(low_kw, 0.0)) if high_kw >= low_kw else 0.0
            revert_s = sim.get(STORAGE, 13)
            now = self.clock.now()
            b.command = SetCommand(
                command_id=f"sunspec-{uuid.uuid4().hex[:8]}",
                ts=now,
                valid_until=now + (revert_s if revert_s else NO_REVERT_S),
                power_kw=power_kw,
            )
            b.setpoint_kw = power_kw
