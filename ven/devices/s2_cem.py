"""The S2 CEM (EN 50491-12-2): a WebSocket server where every resource manager is a device.

RMs connect to `ws://HOST:PORT/` (any path) and speak S2 JSON (the `s2-python` message models).
Each RM is the device named by its resource id (ResourceManagerDetails.resource_id). An RM that
connects again with the same resource id replaces its previous connection and is given the
agent's last command again if it still holds. An RM that is gone stays known with
`online: false`: commands for it are rejected and the agent's safety clip leaves it alone; the
RM runs on its own then, as S2 wants of an RM without a CEM.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from s2python.common import ResourceManagerDetails
from s2python.message import S2Message
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.commands import Expiry, execute, reject_reason
from ven.devices.config import DeviceSetupError, S2ResourceManagers, parse_listen
from ven.devices.s2_device import S2Device
from ven.devices.s2_session import S2Session
from ven.messages import AGENT_DEVICE_ID, SetCommand

log = logging.getLogger(__name__)


class S2Cem:
    """A `DeviceAdapter` for every S2 resource manager that connects."""

    def __init__(self, settings: S2ResourceManagers, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.name = f"s2 {settings.listen}"
        self.host, self.port = parse_listen(settings.listen)
        self.devices: dict[str, S2Device] = {}
        self._last: dict[str, SetCommand] = {}  # the last accepted command per device
        self._expiry: dict[str, Expiry] = {}
        self._link: DeviceLink | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- DeviceAdapter ----------------------------------------------------------------------------
    def owns(self, device_id: str) -> bool:
        return device_id in self.devices

    def command(self, device_id: str, payload: bytes) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._spawn, self._execute(device_id, payload))

    async def open(self, link: DeviceLink) -> None:
        self._link = link
        self._loop = asyncio.get_running_loop()
        try:
            self._server = await serve(self._serve_rm, self.host, self.port)
        except OSError as exc:
            raise DeviceSetupError(f"s2: cannot listen on {self.settings.listen}: {exc}") from None
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        log.info("S2 CEM at ws://%s:%d/", self.host, self.port)

    async def close(self) -> None:
        for expiry in self._expiry.values():
            expiry.cancel()
        for device in self.devices.values():
            device.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    # --- connections ------------------------------------------------------------------------------
    async def _serve_rm(self, connection: ServerConnection) -> None:
        assert self._link is not None
        session = S2Session(connection, self.settings.response_timeout_s)
        device: S2Device | None = None

        def on_details(details: ResourceManagerDetails) -> str | None:
            nonlocal device
            device_id = str(details.resource_id)
            if device_id == AGENT_DEVICE_ID:
                return "resource_id cannot be a device id"
            if device is not None:  # details again on this connection: a change of description
                device.details = details
                device.publish_config()
                return None
            known = self.devices.get(device_id)
            if known is not None and known.online and known.session is not None:
                log.warning("S2 RM %s connected again; closing its previous connection", device_id)
                self._spawn(known.session.connection.close())
            device = known or S2Device(device_id, self._link_(), self.clock, lambda: self._valid(device_id))
            self.devices[device_id] = device
            session.name = f"{device_id} ({details.name or 'unnamed'})"
            device.attach(session, details)
            log.info("S2 RM %s connected from %s", session.name, connection.remote_address)
            return None

        def on_message(message: S2Message) -> str | None:
            return None if device is None else device.on_message(message)

        session.on_details = on_details
        session.on_message = on_message
        try:
            await session.serve()
        except ConnectionClosed as exc:
            log.warning("S2 RM %s disconnected (%s)", session.name, exc.rcvd or "no close frame")
        finally:
            if device is not None:
                device.detach(session)

    def _link_(self) -> DeviceLink:
        assert self._link is not None
        return self._link

    def _valid(self, device_id: str) -> SetCommand | None:
        command = self._last.get(device_id)
        return command if command is not None and command.valid_until > self.clock.now() else None

    # --- commands ---------------------------------------------------------------------------------
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, device_id: str, payload: bytes) -> None:
        device = self.devices.get(device_id)
        if device is None or self._link is None:
            return

        def refusal(command: SetCommand) -> str | None:
            if not device.online:
                return f"S2 RM {device_id} is offline"
            return reject_reason(device.device_config(), command, self.clock.now())

        async def apply(command: SetCommand) -> str | None:
            try:
                return await device.steer(command)
            except Exception as exc:  # whatever the RM did, the agent gets an answer
                log.exception("S2 RM %s: the command failed", device_id)
                return f"S2 command failed: {exc}"

        def accepted(command: SetCommand) -> None:
            self._last[device_id] = command
            self._expiry_for(device_id).hold(command.valid_until)

        await execute(self._link, device_id, payload, f"S2 RM {device_id}", refusal, apply, accepted)

    def _expiry_for(self, device_id: str) -> Expiry:
        if device_id not in self._expiry:

            async def fallback() -> None:
                self._last.pop(device_id, None)
                device = self.devices.get(device_id)
                if device is not None and device.online:
                    device.limit_kw = None
                    device.request_steer()

            self._expiry[device_id] = Expiry(self.clock, fallback, f"S2 RM {device_id}")
        return self._expiry[device_id]
