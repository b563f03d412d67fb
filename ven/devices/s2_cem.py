"""The S2 CEM (EN 50491-12-2): a WebSocket server where every resource manager is a device.

RMs connect to `ws://HOST:PORT/` (any path) and speak S2 JSON (the `s2-python` message models).
Each RM is the device named by its resource id (ResourceManagerDetails.resource_id). An RM that
connects again with the same resource id replaces its previous connection and is given the
agent's last command again if it still holds. An RM that is gone stays known with
`online: false`: commands for it are rejected and the agent's safety clip leaves it alone; the
RM runs on its own then, as S2 wants of an RM without a CEM.
"""

from __future__ import annotations

import logging
from functools import partial

from s2python.common import ResourceManagerDetails
from s2python.message import S2Message
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.commands import execute, reject_reason
from ven.devices.config import S2ResourceManagers
from ven.devices.s2_device import S2Device
from ven.devices.s2_session import S2Session
from ven.devices.ws_central import WebSocketCentral
from ven.messages import AGENT_DEVICE_ID, SetCommand

log = logging.getLogger(__name__)


class S2Cem(WebSocketCentral):
    """A `DeviceAdapter` for every S2 resource manager that connects."""

    def __init__(self, settings: S2ResourceManagers, clock: Clock) -> None:
        super().__init__("s2", settings.listen, clock)
        self.settings = settings
        self.devices: dict[str, S2Device] = {}

    # --- DeviceAdapter ----------------------------------------------------------------------------
    def owns(self, device_id: str) -> bool:
        return device_id in self.devices

    async def open(self, link: DeviceLink) -> None:
        await self._listen(link, self._serve_rm)
        log.info("S2 CEM at ws://%s:%d/", self.host, self.port)

    async def close(self) -> None:
        for device in self.devices.values():
            device.cancel()
        await super().close()

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

    # --- commands ---------------------------------------------------------------------------------
    def _device_name(self, device_id: str) -> str:
        return f"S2 RM {device_id}"

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

        accepted = partial(self._accepted, device_id)
        await execute(self._link, device_id, payload, self._device_name(device_id), refusal, apply, accepted)

    async def _safe_default(self, device_id: str) -> None:
        device = self.devices.get(device_id)
        if device is not None and device.online:
            device.limit_kw = None
            device.request_steer()
