"""`set` commands as every adapter receives them: parsed, checked, and expired at `valid_until`.

The same rules as an MQTT device (../shared/spec/mqtt-devices.md): a malformed payload is
logged and dropped (answered with a rejection when it names its `command_id`); a command for
a control the device lacks, outside the control's range, or already past `valid_until` is
rejected; an accepted command holds until `valid_until`, then the device's safe default.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.messages import Ack, ControlName, DeviceConfig, MalformedPayload, SetCommand, parse_set

log = logging.getLogger(__name__)


def parse_command(device_id: str, payload: bytes) -> tuple[SetCommand | None, Ack | None]:
    """(command, None) or (None, a rejection to send, or None when there is nobody to tell)."""
    try:
        return parse_set(f"set of {device_id}", payload), None
    except MalformedPayload as exc:
        log.warning("%s", exc)
        command_id = _command_id(payload)
        if command_id is None:
            return None, None
        return None, Ack(command_id=command_id, accepted=False, reason=str(exc).split(": ", 1)[-1])


async def execute(
    link: DeviceLink,
    device_id: str,
    payload: bytes,
    what: str,
    refusal: Callable[[SetCommand], str | None],
    apply: Callable[[SetCommand], Awaitable[str | None]],
    accepted: Callable[[SetCommand], None],
) -> None:
    """One `set`, start to answer: parsed, refused (why) or applied (None: done), then acked.

    `accepted` runs before the ack, for a command the device took."""
    command, rejection = parse_command(device_id, payload)
    if command is None:
        if rejection is not None:
            link.ack(device_id, rejection)
        return
    reason = refusal(command)
    if reason is None:
        reason = await apply(command)
    if reason is None:
        accepted(command)
    else:
        log.warning("%s: command %s not applied: %s", what, command.command_id, reason)
    link.ack(device_id, Ack(command_id=command.command_id, accepted=reason is None, reason=reason))


def _command_id(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("command_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def reject_reason(config: DeviceConfig, command: SetCommand, now_s: float) -> str | None:
    name = command.control_name
    spec = config.control(name)
    if spec is None:
        accepted = ", ".join(c.name for c in config.controls) or "nothing"
        return f"{name} is not a control of {config.device_type} {config.device_id} (accepts {accepted})"
    value = command.value
    if name == ControlName.ON:
        if not isinstance(value, bool):
            return f"on must be true or false, got {value!r}"
    elif isinstance(value, bool):
        return f"{name} must be a number, got {value!r}"
    else:
        if spec.max is not None and value > spec.max:
            return f"{name} {value:g} above max {spec.max:g}"
        if spec.min is not None and value < spec.min:
            return f"{name} {value:g} below min {spec.min:g}"
    if command.valid_until <= now_s:
        return f"valid_until {command.valid_until:.0f} is already past (now {now_s:.0f})"
    return None


class Expiry:
    """Runs a device's fallback when its last accepted command reaches `valid_until`."""

    def __init__(self, clock: Clock, fallback: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
        self._clock = clock
        self._fallback = fallback
        self._what = what
        self._handle: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()  # keeps the fallback task alive

    def hold(self, valid_until_s: float) -> None:
        """(Re)arm for a newly accepted command; call on the event loop."""
        self.cancel()
        delay_real_s = max(0.0, (valid_until_s - self._clock.now()) / self._clock.speed)
        self._handle = asyncio.get_running_loop().call_later(delay_real_s, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        log.info("%s: command expired; safe default", self._what)
        task = asyncio.get_running_loop().create_task(self._fallback())
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: the safe default could not be set: %s", self._what, task.exception())
