"""A SunSpec device over Modbus TCP: find the 'SunS' base, walk the model chain, read and write.

Two kinds of failure: `DeviceUnreachable` (no TCP connection, no answer: the device is
offline) and `SunspecError` (it answers, but not as SunSpec says: no marker, a broken model
chain, a Modbus exception for a register it should have).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from ven.devices.sunspec_models import BASE_ADDRESSES, END_MODEL, MAX_READ, SUNS_MARKER, ModelValues, decode

log = logging.getLogger(__name__)

MAX_MODELS = 100  # a chain longer than this is broken


class SunspecError(Exception):
    """The device answers, but not as SunSpec says."""


class DeviceUnreachable(Exception):
    """No connection to the device, or no answer."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    model: int
    address: int  # the model's first data register (after ID and L)
    length: int  # data registers


class SunspecClient:
    def __init__(self, host: str, port: int, unit: int, timeout_s: float) -> None:
        self.host, self.port, self.unit = host, port, unit
        self.timeout_s = timeout_s
        self._client: AsyncModbusTcpClient | None = None  # made on the event loop (it needs one)
        self._lock = asyncio.Lock()  # one request at a time on the connection

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.unit}"

    async def connect(self) -> None:
        if self._client is None:
            self._client = AsyncModbusTcpClient(
                self.host, port=self.port, timeout=self.timeout_s, retries=1, reconnect_delay=0
            )
        if self._client.connected:
            return
        if not await self._client.connect():
            raise DeviceUnreachable(f"no Modbus TCP connection to {self.host}:{self.port}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def _connection(self) -> AsyncModbusTcpClient:
        if self._client is None:
            raise DeviceUnreachable(f"not connected to {self.host}:{self.port}")
        return self._client

    async def read(self, address: int, count: int) -> list[int]:
        registers: list[int] = []
        while count > 0:
            chunk = min(count, MAX_READ)
            async with self._lock:
                try:
                    reply = await self._connection.read_holding_registers(
                        address, count=chunk, device_id=self.unit
                    )
                except ModbusException as exc:
                    raise DeviceUnreachable(f"reading {chunk} registers at {address}: {exc}") from None
            if reply.isError():
                raise SunspecError(f"reading {chunk} registers at {address}: {reply}")
            registers += list(reply.registers)
            address += chunk
            count -= chunk
        return registers

    async def write(self, address: int, values: list[int], what: str) -> None:
        async with self._lock:
            try:
                reply = await self._connection.write_registers(address, values, device_id=self.unit)
            except ModbusException as exc:
                raise DeviceUnreachable(f"writing {what} at {address}: {exc}") from None
        if reply.isError():
            raise SunspecError(f"writing {what} at {address}: {reply}")

    async def find_base(self) -> int:
        for base in BASE_ADDRESSES:
            try:
                if tuple(await self.read(base, 2)) == SUNS_MARKER:
                    return base
            except SunspecError:
                continue  # nothing there: try the next place the standard allows
        raise SunspecError(f"no SunSpec marker 'SunS' at {', '.join(map(str, BASE_ADDRESSES))}")

    async def discover(self) -> dict[int, ModelRef]:
        """The models in the chain (the first of each id), by model id."""
        address = await self.find_base() + 2
        models: dict[int, ModelRef] = {}
        for _ in range(MAX_MODELS):
            model, length = await self.read(address, 2)
            if model == END_MODEL:
                return models
            if address + 2 + length > 0xFFFF:
                raise SunspecError(
                    f"model {model} at {address}: length {length} runs past the register space"
                )
            models.setdefault(model, ModelRef(model, address + 2, length))
            address += 2 + length
        raise SunspecError(f"no end of the model chain after {MAX_MODELS} models")

    async def read_model(self, ref: ModelRef) -> ModelValues:
        return decode(ref.model, await self.read(ref.address, ref.length))
