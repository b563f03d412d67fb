"""What the simulated S2 resource managers share: a connection to a CEM on `s2-python`'s own
RM classes (ResourceManagerHandler over S2AsyncConnection and its WebSocket client medium),
kept up (reconnecting every second while the CEM is away) until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from s2python.common import ReceptionStatusValues
from s2python.connection.asset_details import AssetDetails
from s2python.connection.async_.connection import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import ResourceManagerHandler, S2ControlType
from s2python.connection.async_.medium.s2_medium import MediumCouldNotConnectError
from s2python.connection.async_.medium.websocket import WebsocketClientMedium

log = logging.getLogger(__name__)

RECONNECT_S = 1.0


class SimulatedRM:
    """Subclasses give `asset_details()` and `control_types()` and run their physics in `step`."""

    def __init__(
        self,
        url: str,
        resource_id: uuid.UUID | None = None,
        *,
        step_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.clock = clock  # epoch seconds of its timestamps: the agent's clock when that one is simulated
        self.resource_id = resource_id or uuid.uuid4()
        self.step_s = step_s
        self.connection: S2AsyncConnection | None = None
        self.connected = asyncio.Event()  # set while FRBC/PPBC is active on a connection
        self.sessions = 0  # connections made so far
        self.refused: list[str] = []  # diagnostic labels of the CEM's non-OK ReceptionStatus
        self._medium: WebsocketClientMedium | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @property
    def device_id(self) -> str:
        return str(self.resource_id)

    def asset_details(self) -> AssetDetails:
        raise NotImplementedError

    def control_types(self) -> list[S2ControlType]:
        raise NotImplementedError

    async def step(self, dt_s: float) -> None:
        """Advance the physics by `dt_s` real seconds and tell the CEM (when connected)."""

    # --- running ----------------------------------------------------------------------------------
    async def __aenter__(self) -> SimulatedRM:
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def run(self) -> None:
        physics = asyncio.get_running_loop().create_task(self._physics())
        try:
            while not self._stopping:
                try:
                    await self._session()
                except MediumCouldNotConnectError:
                    pass
                except Exception:
                    log.exception("simulated RM %s: the session failed", self.device_id)
                self.connected.clear()
                if not self._stopping:
                    await asyncio.sleep(RECONNECT_S)
        finally:
            physics.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await physics

    async def _session(self) -> None:
        medium = WebsocketClientMedium(url=self.url, verify_certificate=False)
        await medium.connect()
        self._medium = medium
        connection = S2AsyncConnection(medium=medium)
        ResourceManagerHandler(self.control_types(), self.asset_details()).register_handlers(connection)
        self.connection = connection
        self.sessions += 1
        try:
            await connection.run()
        finally:
            self.connection = None
            await medium.disconnect()

    async def _physics(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.step_s)
            now = loop.time()
            await self.step(now - last)
            last = now

    async def disconnect(self) -> None:
        """Drop the connection (the RM comes back after RECONNECT_S)."""
        if self._medium is not None:
            await self._medium.disconnect()

    async def stop(self) -> None:
        self._stopping = True
        if self.connection is not None:
            await self.connection.stop()
        await self.disconnect()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tell(self, message: Any) -> None:
        """Send a message to the CEM and note a refusal (a lost connection is not an error here)."""
        connection = self.connection
        if connection is None:
            return
        try:
            status = await connection.send_msg_and_await_reception_status(message, raise_on_error=False)
        except Exception as exc:
            log.info("simulated RM %s: %s not delivered (%s)", self.device_id, message.message_type, exc)
            return
        if status.status != ReceptionStatusValues.OK:
            self.refused.append(status.diagnostic_label or status.status.value)
