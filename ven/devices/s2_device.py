"""One S2 resource manager as the agent's device: what its messages mean, what the agent's
setpoint becomes.

- FRBC: a `heat_pump` (a `battery` when the RM has the ENERGY_STORAGE role for electricity)
  with control `power_kw` over the power range of its operation modes. A setpoint becomes an
  FRBC.Instruction (mode + factor) within the fill-level guard (ven/devices/s2_frbc.py);
  without one, the CEM keeps the storage inside its target range itself.
- PPBC: a `smart_plug` (a shiftable appliance) with control `on`: `on: false` holds its start,
  anything else lets it start as soon as its window opens (ven/devices/s2_ppbc.py).
- Any other RM: a device without controls, its power measured.

Telemetry is stamped with the agent's clock on receipt: `power` [W] from PowerMeasurement (the
electric quantities summed; an FRBC RM that measures nothing reports the power of its active
modes), `fill_level` in the storage's own unit (battery: `soc` [%], and with a kWh fill level
`stored_energy` [Wh]); a heat pump's `hold_power` [W] is the least power that holds its fill
level (its leakage and usage made up), which the site entry counts as the house's load.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from s2python.common import (
    Commodity,
    ControlType,
    PowerMeasurement,
    ResourceManagerDetails,
    RoleType,
)
from s2python.frbc import FRBCInstruction
from s2python.message import S2Message
from s2python.ppbc import PPBCPowerProfileDefinition, PPBCPowerProfileStatus, PPBCScheduleInstruction

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.s2_frbc import ELECTRIC, FrbcPicture
from ven.devices.s2_ppbc import PpbcPicture
from ven.devices.s2_session import S2Session
from ven.messages import ControlName, ControlSpec, DeviceConfig, DeviceType, SensorSpec, SetCommand

log = logging.getLogger(__name__)

RESEND_AFTER_S = 10.0  # an instruction the RM has not confirmed yet is not sent again sooner


class _Current:
    """`steer(CURRENT)`: the command in force when the decision is taken, not when it was asked."""


CURRENT = _Current()


def _dt(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class S2Device:
    """The agent's view of one RM (by resource id), across its connections."""

    def __init__(
        self, device_id: str, link: DeviceLink, clock: Clock, setpoint: Callable[[], SetCommand | None]
    ) -> None:
        self.id = device_id
        self.link = link
        self.clock = clock
        self.setpoint = setpoint  # the agent's command in force, None past its valid_until
        self.session: S2Session | None = None
        self.details: ResourceManagerDetails | None = None
        self.frbc = FrbcPicture()
        self.ppbc = PpbcPicture()
        self.online = False
        self.limit_kw: float | None = None
        self.guard: str | None = None
        self._sent: tuple[Any, float] | None = None  # (what, when) of the last instruction sent
        self._lock = asyncio.Lock()
        self._wake: asyncio.TimerHandle | None = None
        self._steering: asyncio.Task[None] | None = None
        self._again = False

    @property
    def control_type(self) -> ControlType | None:
        return None if self.session is None else self.session.control_type

    # --- the connection ---------------------------------------------------------------------------
    def attach(self, session: S2Session, details: ResourceManagerDetails) -> None:
        """A (new) connection of this RM; it describes itself again, so the old picture goes."""
        self.session, self.details = session, details
        self.frbc, self.ppbc, self._sent = FrbcPicture(), PpbcPicture(), None
        self.online = True
        self.publish_config()
        self.publish_state()

    def detach(self, session: S2Session) -> None:
        if self.session is not session:
            return  # a newer connection speaks for the RM
        self.online = False
        if self._wake is not None:
            self._wake.cancel()
        self.publish_state()

    # --- what the RM says -------------------------------------------------------------------------
    def on_message(self, message: S2Message) -> str | None:
        if isinstance(message, PowerMeasurement):
            watts = sum(v.value for v in message.values if v.commodity_quantity in ELECTRIC)
            self.link.telemetry(self.id, self.clock.now(), [("power", "W", round(watts, 1))])
            return None
        kind = message.message_type
        if kind.startswith("FRBC."):
            if kind == "FRBC.ActuatorStatus":
                self._sent = None  # what the RM does now is known: no instruction is in flight
            self.frbc.update(message)  # type: ignore[arg-type]
            if kind == "FRBC.SystemDescription":
                self.publish_config()
            self._frbc_telemetry()
            self.request_steer()
        elif isinstance(message, PPBCPowerProfileDefinition | PPBCPowerProfileStatus):
            self.ppbc.update(message)
            if isinstance(message, PPBCPowerProfileDefinition):
                self.publish_config()
            self.request_steer()
        self.publish_state()
        return None

    def _frbc_telemetry(self) -> None:
        values: list[tuple[str, str, float]] = []
        fill = self.frbc.fill_level
        if fill is not None:
            label = self._fill_label()
            values.append(("fill_level", label, fill))
            if self._is_battery():
                span = self.frbc.storage_range()
                if label == "kWh":
                    values.append(("stored_energy", "Wh", round(fill * 1000.0, 1)))
                    if span is not None and span[1] > 0:
                        values.append(("soc", "%", round(100.0 * fill / span[1], 2)))
                elif label == "%":
                    values.append(("soc", "%", fill))
        hold_w = self.frbc.hold_power_w(self.clock.now())
        if hold_w is not None and not self._is_battery():
            values.append(("hold_power", "W", round(hold_w, 1)))
        if self.details is not None and not self.details.provides_power_measurement_types:
            expected = self.frbc.expected_power_w()
            if expected is not None:
                values.append(("power", "W", round(expected, 1)))
        self.link.telemetry(self.id, self.clock.now(), values)

    # --- what the agent sees ----------------------------------------------------------------------
    def _fill_label(self) -> str:
        system = self.frbc.system
        return (system.storage.fill_level_label or "") if system is not None else ""

    def _is_battery(self) -> bool:
        roles = self.details.roles if self.details is not None else []
        return any(r.role == RoleType.ENERGY_STORAGE and r.commodity == Commodity.ELECTRICITY for r in roles)

    def device_type(self) -> DeviceType:
        if self.control_type == ControlType.FILL_RATE_BASED_CONTROL:
            return DeviceType.BATTERY if self._is_battery() else DeviceType.HEAT_PUMP
        return DeviceType.SMART_PLUG

    def device_config(self) -> DeviceConfig:
        details = self.details
        params: dict[str, float | int | str | bool | None] = {
            "protocol": "s2",
            "control_type": self.control_type.value if self.control_type is not None else "NO_SELECTION",
            "name": details.name if details is not None else None,
            "manufacturer": details.manufacturer if details is not None else None,
            "model": details.model if details is not None else None,
        }
        sensors = [SensorSpec(name="power", unit="W")]
        controls: list[ControlSpec] = []
        if self.control_type == ControlType.FILL_RATE_BASED_CONTROL and self.frbc.system is not None:
            lo_w, hi_w = self.frbc.power_range_w()
            controls.append(
                ControlSpec(name=ControlName.POWER_KW, min=round(lo_w / 1000, 3), max=round(hi_w / 1000, 3))
            )
            span = self.frbc.storage_range() or (0.0, 0.0)
            label = self._fill_label()
            params |= {
                "min_power_kw": round(lo_w / 1000, 3),
                "max_power_kw": round(hi_w / 1000, 3),
                "fill_level_min": span[0],
                "fill_level_max": span[1],
                "fill_level_label": label,
            }
            sensors.append(SensorSpec(name="fill_level", unit=label))
            if not self._is_battery():
                sensors.append(SensorSpec(name="hold_power", unit="W"))
            if self._is_battery():
                params |= {
                    "max_charge_kw": round(max(0.0, hi_w) / 1000, 3),
                    "max_discharge_kw": round(max(0.0, -lo_w) / 1000, 3),
                }
                sensors.append(SensorSpec(name="soc", unit="%"))
                if label == "kWh":
                    params |= {"capacity_kwh": span[1], "min_soc_kwh": span[0]}
                    sensors.append(SensorSpec(name="stored_energy", unit="Wh"))
        elif self.control_type == ControlType.POWER_PROFILE_BASED_CONTROL:
            controls.append(ControlSpec(name=ControlName.ON))
            if self.ppbc.profile is not None:
                params |= {
                    "energy_kwh": round(self.ppbc.energy_wh() / 1000, 4),
                    "duration_s": self.ppbc.duration_s(),
                    "max_power_kw": round(self.ppbc.peak_w() / 1000, 3),
                }
        return DeviceConfig(
            device_id=self.id,
            device_type=self.device_type(),
            sensors=sensors,
            controls=controls,
            params=params,
        )

    def publish_config(self) -> None:
        self.link.config(self.device_config())

    def publish_state(self) -> None:
        state: dict[str, Any] = {
            "ts": self.clock.now(),
            "online": self.online,
            "mode": "smart",
            "control_type": self.control_type.value if self.control_type is not None else None,
        }
        if self.limit_kw is not None:
            state["limit_kw"] = self.limit_kw
        if self.control_type == ControlType.FILL_RATE_BASED_CONTROL:
            state |= self._frbc_state()
        elif self.control_type == ControlType.POWER_PROFILE_BASED_CONTROL:
            state |= self._ppbc_state()
        self.link.state(self.id, {k: v for k, v in state.items() if v is not None})

    def _frbc_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"fill_level": self.frbc.fill_level, "guard": self.guard}
        span = self.frbc.target_range(self.clock.now())
        if span is not None:
            state |= {"fill_target_min": span[0], "fill_target_max": span[1]}
        system = self.frbc.system
        if system is not None and system.actuators:
            point = self.frbc.active_point(system.actuators[0])
            if point is not None:
                state |= {"operation_mode": point[0].label, "factor": point[1]}
        return state

    def _ppbc_state(self) -> dict[str, Any]:
        command = self.setpoint()
        state: dict[str, Any] = {"on": not (command is not None and command.value is False)}
        latest = self.ppbc.latest_start_s()
        if latest is not None:
            state["latest_start"] = _dt(latest).isoformat()
        if self.ppbc.start_s is not None:
            state["scheduled_start"] = _dt(self.ppbc.start_s).isoformat()
        if self.ppbc.status is not None:
            state["profile_status"] = ",".join(
                s.status.value for s in self.ppbc.status.sequence_container_status
            )
        return state

    # --- what the agent asks ----------------------------------------------------------------------
    def request_steer(self) -> None:
        """Re-decide soon (after the message being handled is answered); requests that come
        while a decision is under way make one more."""
        self._again = True
        if self._steering is None or self._steering.done():
            self._steering = asyncio.get_running_loop().create_task(self._steer_logged())

    async def _steer_logged(self) -> None:
        while self._again:
            self._again = False
            reason = await self.steer(CURRENT)
            if reason is not None and self.online:
                log.warning("S2 RM %s: %s", self.id, reason)

    async def steer(self, command: SetCommand | _Current | None) -> str | None:
        """Realise `command` (None: the device's own behaviour; CURRENT: the one in force when
        its turn comes); None when done, else why not."""
        async with self._lock:
            if isinstance(command, _Current):
                command = self.setpoint()
            if self.session is None or not self.online:
                return f"S2 RM {self.id} is offline"
            if self.control_type == ControlType.FILL_RATE_BASED_CONTROL:
                return await self._steer_frbc(self.session, command)
            if self.control_type == ControlType.POWER_PROFILE_BASED_CONTROL:
                return await self._steer_ppbc(self.session, command)
            return None if command is None else f"S2 RM {self.id} offers no control type the agent uses"

    async def _steer_frbc(self, session: S2Session, command: SetCommand | None) -> str | None:
        now = self.clock.now()
        setpoint_w = None if command is None else float(command.value) * 1000.0
        choice = self.frbc.choose(setpoint_w, now)
        if choice is None:
            return None if command is None else "the RM has not described its flexibility yet"
        point = (choice.mode_id, choice.factor)
        recent = (
            self._sent is not None
            and self._sent[0] == point
            and time.monotonic() - self._sent[1] < RESEND_AFTER_S
        )
        if choice.new and not recent:
            instruction = FRBCInstruction(
                message_id=uuid.uuid4(),
                id=uuid.uuid4(),
                actuator_id=choice.actuator_id,
                operation_mode=choice.mode_id,
                operation_mode_factor=choice.factor,
                execution_time=_dt(now),
                abnormal_condition=False,
            )
            reason = await session.ask(instruction)
            if reason is not None:
                return f"FRBC.Instruction not taken: {reason}"
            self._sent = (point, time.monotonic())
            log.info(
                "S2 RM %s: %s at factor %.3f (%.0f W)", self.id, choice.label, choice.factor, choice.power_w
            )
        self.limit_kw = None if command is None else round(choice.power_w / 1000.0, 3)
        self.guard = choice.guard
        self.publish_state()
        return None

    async def _steer_ppbc(self, session: S2Session, command: SetCommand | None) -> str | None:
        now = self.clock.now()
        hold = command is not None and command.value is False
        starts, wake_s = self.ppbc.plan(now, hold)
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if wake_s is not None:
            delay_s = max(0.0, (wake_s - now) / self.clock.speed)
            self._wake = asyncio.get_running_loop().call_later(delay_s, self.request_steer)
        for start in starts:
            instruction = PPBCScheduleInstruction(
                message_id=uuid.uuid4(),
                id=uuid.uuid4(),
                power_profile_id=start.profile_id,
                sequence_container_id=start.container_id,
                power_sequence_id=start.sequence_id,
                execution_time=_dt(start.at_s),
                abnormal_condition=False,
            )
            reason = await session.ask(instruction)
            if reason is not None:
                return f"PPBC.ScheduleInstruction not taken: {reason}"
            self.ppbc.sent.add((start.profile_id, start.container_id))
            if self.ppbc.start_s is None:
                self.ppbc.start_s = start.at_s
            log.info(
                "S2 RM %s: sequence %s starts at %s", self.id, start.sequence_id, _dt(start.at_s).isoformat()
            )
        self.publish_state()
        return None

    def cancel(self) -> None:
        if self._wake is not None:
            self._wake.cancel()
        if self._steering is not None:
            self._steering.cancel()
