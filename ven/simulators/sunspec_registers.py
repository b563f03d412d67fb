"""SunSpec devices on pymodbus's own Modbus TCP server, with the SunSpec register maps.

Each device is a register image from 40000: 'SunS', the models (ID, L, data), the end model
(the layouts of ven/devices/sunspec_models.py, written here independently of the reader). A
physical model runs on every read (pymodbus's `action` hook, before the registers are
answered) and `on_write` after every write; every write is recorded. Used by the device tests
(tests/integration/ven_devices/sunspec_peer.py) and the protocol homes (sunspec_battery.py).
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
        on_write: Callable[[SunspecSim, int, list[int]], None] | None = None,
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
        self.on_write = on_write
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
            if self.on_write is not None:
                # pymodbus stores the values after this hook: store them first, so that
                # on_write sees the device as it holds the write
                registers[address - start : address - start + len(values)] = [int(v) for v in values]
                self.on_write(self, address, list(values))
        elif self.physics is not None:
            self.physics(self)

    def written(self, model: int, offset: int) -> list[int]:
        """Every value written to one point."""
        target = self.address[model] + offset
        return [vals[target - addr] for addr, vals in self.writes if addr <= target < addr + len(vals)]


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
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None
