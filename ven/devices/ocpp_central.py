"""The OCPP 1.6J central system: a WebSocket server where every charge point is a device.

`ws://HOST:PORT/{chargePointId}` with subprotocol `ocpp1.6` (a charger configured with a base
URL that has a path, e.g. `/ocpp/`, works too: the last path segment is the id). The device
id is the chargePointId. A charger that connects again replaces its previous connection. A
charger that is gone stays known to the agent with `online: false`: commands for it are
rejected ("offline") and the agent's safety clip leaves it alone until it is back, when the
last command still valid is sent again.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from functools import partial
from http import HTTPStatus
from urllib.parse import unquote, urlparse

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.commands import execute, reject_reason
from ven.devices.config import OcppChargers
from ven.devices.ocpp_charger import ChargerSession
from ven.devices.ws_central import WebSocketCentral
from ven.messages import AGENT_DEVICE_ID, SetCommand

log = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
_ID = re.compile(r"^[^/+#\s]{1,64}$")


def charge_point_id(path: str) -> str | None:
    """The last path segment, URL-decoded; None when it cannot be a device id."""
    segments = [s for s in urlparse(path).path.split("/") if s]
    if not segments:
        return None
    name = unquote(segments[-1])
    return name if _ID.match(name) and name != AGENT_DEVICE_ID else None


class OcppCentralSystem(WebSocketCentral):
    """A `DeviceAdapter` for every charge point that connects."""

    def __init__(self, settings: OcppChargers, clock: Clock) -> None:
        super().__init__("ocpp", settings.listen, clock)
        self.settings = settings
        self.sessions: dict[str, ChargerSession] = {}
        # Transaction ids unique across restarts of the agent (seconds since 2020, counting up).
        self._transaction_ids = itertools.count(int(time.time()) - 1_577_836_800)

    # --- DeviceAdapter ------------------------------------------------------------------------
    def owns(self, device_id: str) -> bool:
        return device_id in self.sessions

    async def open(self, link: DeviceLink) -> None:
        await self._listen(
            link, self._serve_charger, subprotocols=[SUBPROTOCOL], process_request=self._check_path
        )
        log.info("OCPP 1.6J central system at ws://%s:%d/{chargePointId}", self.host, self.port)

    # --- connections --------------------------------------------------------------------------
    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if charge_point_id(request.path) is None:
            log.warning(
                "OCPP: refused %s: no valid chargePointId in %r", connection.remote_address, request.path
            )
            return connection.respond(HTTPStatus.NOT_FOUND, "expected ws://host:port/{chargePointId}\n")
        return None

    async def _serve_charger(self, connection: ServerConnection) -> None:
        assert connection.request is not None and self._link is not None
        cp_id = charge_point_id(connection.request.path)
        assert cp_id is not None  # _check_path refused it otherwise
        old = self.sessions.get(cp_id)
        if old is not None and old.online:
            log.warning("charger %s connected again; closing its previous connection", cp_id)
            old.superseded = True
            self._spawn(old._connection.close())
        session = ChargerSession(
            cp_id, connection, self.settings, self._link, self.clock, self._transaction_ids
        )
        if old is not None:  # what the agent knew survives a reconnect
            session.transaction, session.energy_wh = old.transaction, old.energy_wh
            session.connectors, session.plugged_since_s = dict(old.connectors), old.plugged_since_s
            session.unit, session.vendor, session.model = old.unit, old.vendor, old.model
            session.aligned_s = old.aligned_s
        self.sessions[cp_id] = session
        log.info("charger %s connected from %s", cp_id, connection.remote_address)
        session.on_new_transaction = lambda: self._spawn(self._resume(session))
        self._spawn(self._resume(session))
        await session.serve()

    async def _resume(self, session: ChargerSession) -> None:
        """Once the charger is configured, send the last command again if it still holds (after
        a reconnect, and for a new transaction)."""
        await session.configured.wait()
        last = self._valid(session.id)
        if last is not None and session.online:
            reason = await session.set_power(float(last.value), last.valid_until)
            if reason is not None:
                log.warning("charger %s: the last command could not be sent again: %s", session.id, reason)

    # --- commands -----------------------------------------------------------------------------
    def _device_name(self, device_id: str) -> str:
        return f"charger {device_id}"

    async def _execute(self, device_id: str, payload: bytes) -> None:
        assert self._link is not None
        session = self.sessions.get(device_id)
        if session is None:
            return

        async def apply(command: SetCommand) -> str | None:
            try:
                return await session.set_power(float(command.value), command.valid_until)
            except Exception as exc:  # whatever the charger did, the agent gets an answer
                log.exception("charger %s: SetChargingProfile failed", device_id)
                return f"SetChargingProfile failed: {exc}"

        await execute(
            self._link,
            device_id,
            payload,
            self._device_name(device_id),
            lambda command: reject_reason(session.device_config(), command, self.clock.now()),
            apply,
            partial(self._accepted, device_id),
        )

    async def _safe_default(self, device_id: str) -> None:
        current = self.sessions.get(device_id)
        if current is not None and current.online:
            await current.clear_limit()
