"""One S2 resource manager's WebSocket connection, CEM side: the session's protocol.

Every message from the RM is answered with a ReceptionStatus: OK, INVALID_DATA (not JSON, or
no message_id), INVALID_MESSAGE (not a valid S2 message: unknown type, a field missing or
wrong), or INVALID_CONTENT (valid, but not now: anything before the Handshake, a control type's
message before that control type is selected, a message only a CEM sends). Each problem is one
log line naming the RM; the connection goes on.

The order: the RM's Handshake (role RM) -> the CEM's Handshake and HandshakeResponse (the
version both speak); the RM's ResourceManagerDetails -> SelectControlType (FRBC when offered,
else PPBC, else NOT_CONTROLABLE); then the control type's messages. What the messages mean to
the agent is `S2Device`'s business (ven/devices/s2_device.py).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from s2python.common import (
    ControlType,
    EnergyManagementRole,
    Handshake,
    HandshakeResponse,
    InstructionStatus,
    InstructionStatusUpdate,
    PowerForecast,
    ReceptionStatus,
    ReceptionStatusValues,
    ResourceManagerDetails,
    RevokeObject,
    SelectControlType,
    SessionRequest,
    SessionRequestType,
)
from s2python.frbc import FRBCInstruction
from s2python.message import S2Message
from s2python.ppbc import (
    PPBCEndInterruptionInstruction,
    PPBCScheduleInstruction,
    PPBCStartInterruptionInstruction,
)
from s2python.s2_parser import S2Parser
from s2python.s2_validation_error import S2ValidationError
from s2python.version import S2_VERSION
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

NO_MESSAGE = uuid.UUID(int=0)  # the subject of a status for a frame without a message id
# What a CEM sends and an RM never does.
CEM_ONLY = (
    HandshakeResponse,
    SelectControlType,
    FRBCInstruction,
    PPBCScheduleInstruction,
    PPBCStartInterruptionInstruction,
    PPBCEndInterruptionInstruction,
)
PREFERRED = (ControlType.FILL_RATE_BASED_CONTROL, ControlType.POWER_PROFILE_BASED_CONTROL)
PREFIXES = {ControlType.FILL_RATE_BASED_CONTROL: "FRBC.", ControlType.POWER_PROFILE_BASED_CONTROL: "PPBC."}


class Phase(enum.StrEnum):
    HANDSHAKE = "handshake"  # waiting for the RM's Handshake
    DETAILS = "details"  # waiting for its ResourceManagerDetails
    CONTROL = "control"  # a control type selected (or none possible)


class BadFrame(ValueError):
    """A frame the session cannot take: `status` and the reason go back to the RM."""

    def __init__(self, status: ReceptionStatusValues, subject: uuid.UUID, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.subject = subject


def parse_frame(frame: str | bytes) -> S2Message:
    """An S2 message, or BadFrame saying why not."""
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadFrame(ReceptionStatusValues.INVALID_DATA, NO_MESSAGE, f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadFrame(ReceptionStatusValues.INVALID_DATA, NO_MESSAGE, "not a JSON object")
    try:
        subject = uuid.UUID(str(data.get("message_id")))
    except ValueError:
        if data.get("message_type") != "ReceptionStatus":  # the one message without an id
            raise BadFrame(ReceptionStatusValues.INVALID_DATA, NO_MESSAGE, "no valid message_id") from None
        subject = NO_MESSAGE
    try:
        message: S2Message = S2Parser.parse_as_any_message(data)
    except S2ValidationError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValidationError):
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<message>'}: {e['msg']}" for e in cause.errors()
            )
        else:
            reason = exc.msg
        kind = data.get("message_type")
        raise BadFrame(ReceptionStatusValues.INVALID_MESSAGE, subject, f"{kind}: {reason}") from None
    return message


def choose_control_type(offered: list[ControlType]) -> ControlType:
    return next((c for c in PREFERRED if c in offered), ControlType.NOT_CONTROLABLE)


class S2Session:
    """The protocol of one connection; `on_message` gets every valid message once its phase
    allows it (after the session's own answer), and its return value decides the status."""

    def __init__(self, connection: ServerConnection, response_timeout_s: float) -> None:
        self.connection = connection
        self.response_timeout_s = response_timeout_s
        self.phase = Phase.HANDSHAKE
        self.details: ResourceManagerDetails | None = None
        self.control_type: ControlType | None = None
        self.name = str(connection.remote_address)
        self.on_details: Callable[[ResourceManagerDetails], str | None] = lambda _d: None
        self.on_message: Callable[[S2Message], str | None] = lambda _m: None
        self._pending: dict[uuid.UUID, asyncio.Future[ReceptionStatus]] = {}
        # What to send once the ReceptionStatus of the message being handled is out.
        self._after: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # --- sending ----------------------------------------------------------------------------------
    async def send(self, message: S2Message) -> None:
        await self.connection.send(message.to_json())

    async def ask(self, message: Any) -> str | None:
        """Send a message with an id and wait for its ReceptionStatus: None when OK, else why not."""
        future: asyncio.Future[ReceptionStatus] = asyncio.get_running_loop().create_future()
        self._pending[message.message_id] = future
        try:
            await self.send(message)
            status = await asyncio.wait_for(future, self.response_timeout_s)
        except TimeoutError:
            return f"no ReceptionStatus in {self.response_timeout_s:g} s"
        except ConnectionClosed:
            return "the RM disconnected"
        finally:
            self._pending.pop(message.message_id, None)
        if status.status != ReceptionStatusValues.OK:
            label = f": {status.diagnostic_label}" if status.diagnostic_label else ""
            return f"RM answered {status.status.value}{label}"
        return None

    async def _status(self, subject: uuid.UUID, status: ReceptionStatusValues, label: str) -> None:
        await self.send(ReceptionStatus(subject_message_id=subject, status=status, diagnostic_label=label))

    # --- receiving --------------------------------------------------------------------------------
    async def serve(self) -> None:
        """Read frames until the RM goes (ConnectionClosed is raised to the caller)."""
        while True:
            frame = await self.connection.recv()
            await self.take(frame)

    async def take(self, frame: str | bytes) -> None:
        try:
            message = parse_frame(frame)
            if isinstance(message, ReceptionStatus):
                self._received_status(message)
                return
            problem = self._out_of_order(message)
            if problem is not None:
                raise BadFrame(ReceptionStatusValues.INVALID_CONTENT, message.message_id, problem)
            reason = await self._handle(message)
        except BadFrame as bad:
            log.warning("S2 RM %s: %s answered %s: %.300s", self.name, bad.status.value, bad, str(bad))
            await self._status(bad.subject, bad.status, str(bad)[:500])
            return
        subject: uuid.UUID = message.message_id
        if reason is None:
            await self._status(subject, ReceptionStatusValues.OK, "")
            for follow_up in self._after:
                self._spawn(follow_up())
            self._after.clear()
        else:
            self._after.clear()
            log.warning("S2 RM %s: %s not taken: %s", self.name, message.message_type, reason)
            await self._status(subject, ReceptionStatusValues.INVALID_CONTENT, reason)

    def _received_status(self, status: ReceptionStatus) -> None:
        future = self._pending.get(status.subject_message_id)
        if future is not None and not future.done():
            future.set_result(status)
        elif status.status != ReceptionStatusValues.OK:
            log.warning(
                "S2 RM %s: ReceptionStatus %s for %s: %s",
                self.name,
                status.status.value,
                status.subject_message_id,
                status.diagnostic_label,
            )

    def _out_of_order(self, message: S2Message) -> str | None:
        kind = message.message_type
        if isinstance(message, CEM_ONLY):
            return f"{kind} is sent by a CEM, not by a resource manager"
        if self.phase == Phase.HANDSHAKE and not isinstance(message, Handshake):
            return f"{kind} before the Handshake"
        if self.phase == Phase.DETAILS and not isinstance(message, ResourceManagerDetails | Handshake):
            return f"{kind} before the ResourceManagerDetails"
        if kind.startswith(("FRBC.", "PPBC.", "PEBC.", "OMBC.", "DDBC.")):
            selected = PREFIXES.get(self.control_type) if self.control_type is not None else None
            if selected is None or not kind.startswith(selected):
                chosen = self.control_type.value if self.control_type is not None else "none"
                return f"{kind} while the selected control type is {chosen}"
        return None

    async def _handle(self, message: S2Message) -> str | None:
        if isinstance(message, Handshake):
            return await self._handshake(message)
        if isinstance(message, ResourceManagerDetails):
            return self._details(message)
        if isinstance(message, SessionRequest):
            if message.request == SessionRequestType.TERMINATE:
                log.info("S2 RM %s asks to end the session (%s)", self.name, message.diagnostic_label)
                self._after.append(self.connection.close)
            return None
        if isinstance(message, InstructionStatusUpdate):
            failed = message.status_type in (InstructionStatus.REJECTED, InstructionStatus.ABORTED)
            log.log(
                logging.WARNING if failed else logging.INFO,
                "S2 RM %s: instruction %s %s",
                self.name,
                message.instruction_id,
                message.status_type.value,
            )
        elif isinstance(message, RevokeObject | PowerForecast):
            log.info("S2 RM %s: %s", self.name, message.message_type)
        return self.on_message(message)

    async def _handshake(self, message: Handshake) -> str | None:
        if message.role != EnergyManagementRole.RM:
            return f"role {message.role.value}: this end is the CEM, the other must be an RM"
        versions = message.supported_protocol_versions or [S2_VERSION]
        if S2_VERSION not in versions:
            return f"no common S2 version (the RM speaks {', '.join(versions)}, the CEM {S2_VERSION})"
        # The answer goes after the ReceptionStatus for the RM's Handshake (take() sends it).
        self._after.append(self._answer_handshake)
        self.phase = Phase.DETAILS
        return None

    async def _answer_handshake(self) -> None:
        for answer in (
            Handshake(
                message_id=uuid.uuid4(),
                role=EnergyManagementRole.CEM,
                supported_protocol_versions=[S2_VERSION],
            ),
            HandshakeResponse(message_id=uuid.uuid4(), selected_protocol_version=S2_VERSION),
        ):
            reason = await self.ask(answer)
            if reason is not None:
                log.warning("S2 RM %s: %s not taken: %s", self.name, answer.message_type, reason)

    def _details(self, details: ResourceManagerDetails) -> str | None:
        if self.details is not None and self.details.resource_id != details.resource_id:
            return f"resource_id {details.resource_id} differs from this session's {self.details.resource_id}"
        first = self.details is None
        if first:  # chosen before the device is made: its type follows from it
            self.control_type = choose_control_type(list(details.available_control_types))
        reason = self.on_details(details)
        if reason is not None:
            if first:
                self.control_type = None
            return reason
        self.details = details
        self.phase = Phase.CONTROL
        if first and self.control_type is not None:
            selected = self.control_type
            self._after.append(lambda: self._select(selected))
        return None

    async def _select(self, control_type: ControlType) -> None:
        reason = await self.ask(SelectControlType(message_id=uuid.uuid4(), control_type=control_type))
        if reason is not None:
            log.warning("S2 RM %s: SelectControlType %s not taken: %s", self.name, control_type.value, reason)
        else:
            log.info("S2 RM %s: control type %s", self.name, control_type.value)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
