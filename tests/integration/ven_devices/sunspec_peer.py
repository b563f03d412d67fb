"""The device tests' SunSpec peers: a PV inverter and a battery with simple physics on the
register maps of ven/simulators/sunspec_registers.py (pymodbus's own Modbus TCP server).

The PV inverter produces min(available, WMaxLimPct x WMax) when WMaxLim_Ena is set; the battery
charges or discharges at what the StorCtl_Mod window [-OutWRte, InWRte] allows (idle otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

from ven.simulators.sunspec_registers import (
    SunspecServer,
    SunspecSim,
    common,
    controls,
    free_port,
    inverter,
    nameplate,
    signed,
    storage,
)

__all__ = [
    "SunspecServer",
    "SunspecSim",
    "battery",
    "common",
    "free_port",
    "inverter",
    "pv_inverter",
    "signed",
]


def pv_physics(available_w: float) -> Callable[[SunspecSim], None]:
    def step(sim: SunspecSim) -> None:
        w_max = sim.get(120, 1) * 10.0 ** signed(sim.get(120, 2))
        output = available_w
        if sim.get(123, 7) == 1:
            output = min(output, w_max * sim.get(123, 3) * 10.0 ** signed(sim.get(123, 21)) / 100.0)
        sim.set(103, 12, round(output / 10.0 ** signed(sim.get(103, 13))))

    return step


def battery_physics(sim: SunspecSim) -> None:
    mode = sim.get(124, 3)
    rate_scale = 10.0 ** signed(sim.get(124, 23))
    w_cha_max = sim.get(124, 0)
    w_discharge_max = sim.get(120, 23) * 10.0 ** signed(sim.get(120, 24))
    low, high = -w_discharge_max, float(w_cha_max)
    if mode & 1:
        high = signed(sim.get(124, 11)) * rate_scale / 100.0 * w_cha_max
    if mode & 2:
        low = -signed(sim.get(124, 10)) * rate_scale / 100.0 * w_discharge_max
    charge_w = min(high, max(low, 0.0))  # idle when the window allows it
    sim.set(103, 12, round(-charge_w))  # the inverter's W: + = output (discharge)


def pv_inverter(unit: int = 1, available_w: float = 6000.0) -> SunspecSim:
    return SunspecSim(
        unit,
        [
            (1, common("PV-0001")),
            (120, nameplate(800, sf=1)),  # 8000 W
            (103, inverter(0, 1, 12345, 1)),  # W in 10 W, WH = 123450 Wh
            (123, controls()),
        ],
        pv_physics(available_w),
    )


def battery(unit: int = 2) -> SunspecSim:
    return SunspecSim(
        unit,
        [
            (1, common("BAT-0001")),
            (120, nameplate(500, wh_rtg=1000, max_discharge=500, sf=1)),  # 5 kW, 10 kWh, 5 kW
            (103, inverter(0, 0, 5000, 0)),
            (124, storage(5000, 555, -1, -2)),  # SoC 55.5 %, rates in 0.01 %
        ],
        battery_physics,
    )
