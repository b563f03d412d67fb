"""What the OCPP central system and the S2 CEM share: a WebSocket server on the agent's loop whose
clients are devices, the last command accepted per device, and its expiry to a safe default.

A subclass serves a connection, executes a command (`_execute`, on the loop) and says what a
device's safe default is (`_safe_default`); it keeps its own map of the devices it owns.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.commands import Expiry
from ven.devices.config import DeviceSetupError, parse_listen
from ven.messages import SetCommand

log = logging.getLogger(__name__)


class WebSocketCentral(ABC):
    """The `DeviceAdapter` skeleton: `command`, `close`, listening, commands and their expiry."""

    def __init__(self, protocol: str, listen: str, clock: Clock) -> None:
        self.clock = clock
        self.name = f"{protocol} {listen}"
        self._protocol, self._listen_at = protocol, listen
        self.host, self.port = parse_listen(listen)
        self._last: dict[str, SetCommand] = {}  # the last accepted command per device
        self._expiry: dict[str, Expiry] = {}
        self._link: DeviceLink | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @abstractmethod
    async def _execute(self, device_id: str, payload: bytes) -> None: ...

    @abstractmethod
    def _device_name(self, device_id: str) -> str:
        """The device as log lines and answers name it: "charger cp-1", "S2 RM hp-1"."""

    @abstractmethod
    async def _safe_default(self, device_id: str) -> None:
        """What the device falls back to when its last command expires (it may be gone)."""

    # --- DeviceAdapter ----------------------------------------------------------------------------
    def command(self, device_id: str, payload: bytes) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._spawn, self._execute(device_id, payload))

    async def close(self) -> None:
        for expiry in self._expiry.values():
            expiry.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    async def _listen(
        self, link: DeviceLink, serve_one: Callable[[ServerConnection], Awaitable[None]], **options: Any
    ) -> None:
        """`open`'s common part: serve on host:port (port 0: the one the system gave)."""
        self._link = link
        self._loop = asyncio.get_running_loop()
        try:
            self._server = await serve(serve_one, self.host, self.port, **options)
        except OSError as exc:
            raise DeviceSetupError(f"{self._protocol}: cannot listen on {self._listen_at}: {exc}") from None
        bound = next(iter(self._server.sockets)).getsockname()  # a list, typed Iterable in websockets 15
        self.port = int(bound[1])

    # --- commands ---------------------------------------------------------------------------------
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _valid(self, device_id: str) -> SetCommand | None:
        """The device's last accepted command while it holds."""
        command = self._last.get(device_id)
        return command if command is not None and command.valid_until > self.clock.now() else None

    def _accepted(self, device_id: str, command: SetCommand) -> None:
        """Keep the command and run the device's safe default when it expires."""
        self._last[device_id] = command
        if device_id not in self._expiry:

            async def fallback() -> None:
                self._last.pop(device_id, None)
                await self._safe_default(device_id)

            self._expiry[device_id] = Expiry(self.clock, fallback, self._device_name(device_id))
        self._expiry[device_id].hold(command.valid_until)
