"""SunSpec devices on pymodbus's own Modbus TCP server, with the SunSpec register maps.

Each device is a register image from 40000: 'SunS', the models (ID, L, data), the end model.
A physical model runs on every register access (pymodbus's `action` hook): the PV inverter
produces min(available, WMaxLimPct x WMax) when WMaxLim_Ena is set; the battery charges or
discharges at what the StorCtl_Mod window [-OutWRte, InWRte] allows (idle otherwise). Every
write is recorded.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

BASE = 40000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text(value: str, registers: int) -> list[int]:
    raw = value.encode().ljust(registers * 2, b"\0")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, registers * 2, 2)]


def s16(value: int) -> int:
    return value & 0xFFFF


def signed(register: int) -> int:
    return register - 0x10000 if register & 0x8000 else register


def common(serial: str) -> list[int]:
    return (
        text("flexvpp-tests", 16) + text("Sim", 16) + text("", 8) + text("1.0", 8) + text(serial, 16) + [1, 0]
    )


def inverter(w_raw: int, w_sf: int, wh: int, wh_sf: int) -> list[int]:
    data = [0xFFFF] * 50
    data[4] = data[11] = data[15] = data[17] = data[19] = data[21] = data[25] = data[27] = 0x8000
    data[12], data[13] = s16(w_raw), s16(w_sf)
    data[22], data[23], data[24] = wh >> 16, wh & 0xFFFF, s16(wh_sf)
    data[36] = 4  # St: MPPT
    return data


def nameplate(w_rtg: int, wh_rtg: int = 0xFFFF, max_discharge: int = 0xFFFF, sf: int = 0) -> list[int]:
    data = [0xFFFF] * 26
    data[1], data[2] = w_rtg, s16(sf)
    data[17], data[18] = wh_rtg, s16(sf)
    data[23], data[24] = max_discharge, s16(sf)
    return data


def controls(limit_pct_raw: int = 1000, sf: int = -1) -> list[int]:
    data = [0] * 24
    data[3], data[7], data[21] = limit_pct_raw, 0, s16(sf)
    return data


def storage(w_cha_max: int, soc_raw: int, soc_sf: int, rate_sf: int, reserve_pct: int = 10) -> list[int]:
    data = [0] * 24
    data[0], data[5], data[6], data[9] = w_cha_max, reserve_pct, soc_raw, 6  # ChaSt: HOLDING
    data[10] = data[11] = s16(100 * 10**-rate_sf)
    data[16], data[19], data[20], data[23] = 0, 0, s16(soc_sf), s16(rate_sf)
    return data


class SunspecSim:
    """One device (a Modbus unit) with its SunSpec models laid out from 40000."""

    def __init__(
        self,
        unit: int,
        models: list[tuple[int, list[int]]],
        physics: Callable[[SunspecSim], None] | None = None,
    ) -> None:
        self.unit = unit
        self.address: dict[int, int] = {}
        image = [0x5375, 0x6E53]
        for model, data in models:
            image += [model, len(data)]
            self.address.setdefault(model, BASE + len(image))
            image += data
        image += [0xFFFF, 0]
        self.image = image
        self.physics = physics
        self.writes: list[tuple[int, list[int]]] = []
        self.holes: list[tuple[int, int]] = []  # (address, count) that answer ILLEGAL ADDRESS
        self._regs: list[int] | None = None

    def get(self, model: int, offset: int) -> int:
        regs = self._regs if self._regs is not None else self.image
        return regs[self.address[model] + offset - BASE]

    def set(self, model: int, offset: int, value: int) -> None:
        regs = self._regs if self._regs is not None else self.image
        regs[self.address[model] + offset - BASE] = s16(value)

    def device(self) -> SimDevice:
        blocks: list[SimData] = []
        start = BASE
        for hole, count in sorted(self.holes):
            if hole > start:
                blocks.append(
                    SimData(start, values=self.image[start - BASE : hole - BASE], datatype=DataType.REGISTERS)
                )
            blocks.append(SimData(hole, count=count, datatype=DataType.INVALID))
            start = hole + count
        blocks.append(SimData(start, values=self.image[start - BASE :], datatype=DataType.REGISTERS))
        return SimDevice(id=self.unit, simdata=blocks, action=self._action)

    async def _action(
        self, _fc: int, start: int, address: int, _count: int, registers: list[int], values: Any
    ) -> None:
        assert start == BASE
        self._regs = registers
        if values:
            self.writes.append((address, list(values)))
        elif self.physics is not None:
            self.physics(self)

    def written(self, model: int, offset: int) -> list[int]:
        """Every value written to one point."""
        target = self.address[model] + offset
        return [vals[target - addr] for addr, vals in self.writes if addr <= target < addr + len(vals)]


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


class SunspecServer:
    """pymodbus's ModbusTcpServer with the given devices on 127.0.0.1."""

    def __init__(self, *devices: SunspecSim, port: int | None = None) -> None:
        self.port = port or free_port()
        self.devices = devices
        self.server: ModbusTcpServer | None = None

    async def start(self) -> None:
        self.server = ModbusTcpServer([d.device() for d in self.devices], address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None
