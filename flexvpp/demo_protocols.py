"""The demo's homes with devices in their own protocols (`demo_homes --protocol-devices`).

The home's physics is unchanged (ven/simulators/home.py: the meter sums every device); the
charger speaks OCPP 1.6J (the `ocpp` library's ChargePoint, ven/simulators/ocpp_charge_point.py)
to the agent's central system, the battery is a SunSpec device on pymodbus's Modbus TCP
server (ven/simulators/sunspec_battery.py) that the agent polls, and a heat pump with a buffer
tank is an S2 FRBC resource manager (ven/simulators/s2_heat_pump.py, on s2-python's RM classes)
that connects to the agent's CEM; its power, from its own tank physics, is one more load the
home's meter sums. The meter and the PV inverter stay on MQTT (the agent reads no SunSpec meter).

OCPP 1.6 carries no car's need: the agent is configured with it (`ev_target_kwh`,
`ev_departure`), so each home's car wants the configured energy by the configured time every
day (its arrival stays random), and its charger meter counts what goes into the car (the agent
takes an OCPP charger's efficiency as 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ven.clock import Clock
from ven.messages import DeviceType
from ven.simulators.base import SimDevice, SiteView
from ven.simulators.battery import Battery
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.sunspec_battery import SunspecBattery
from ven.simulators.sunspec_registers import SunspecServer, free_port

VOLTAGE_V, PHASES = 230.0, 3
# The charger reports its registers at the quarter-hour edges (ClockAlignedDataInterval
# [demo clock s]) and nothing in between (MeterValueSampleInterval 0), as the MQTT devices'
# telemetry (`--telemetry-s`) and the meter do: the agent learns the house load as the meter minus
# every device at one edge, and the VTN's watch compares these samples with the schedule. More of
# them (periodic samples beside the aligned ones) would count the minutes a new schedule takes to
# reach the agent at x1200 (a 1 s poll is 20 simulated minutes) as the home not following, and an
# excluded home's charger runs at full power through the cap. The battery is polled every
# SUNSPEC_POLL_REAL_S of real time (10 simulated minutes at x1200) and at those edges.
METER_INTERVAL_S = 900
SUNSPEC_POLL_REAL_S = 0.5


HEAT_PUMP_ID = "hp-s2"  # the home's name for the S2 heat pump's load (the agent names it by its UUID)
RM_STEP_REAL_S = 0.25  # the heat pump's physics and reports (5 simulated minutes at x1200)


class RmLoad(SimDevice):
    """A load whose physics is an S2 RM's own (the meter sums it; the RM speaks for it)."""

    device_type = DeviceType.HEAT_PUMP

    def __init__(self, device_id: str) -> None:
        super().__init__(device_id)
        self.rm: Any = None  # the HeatPumpRM, once it runs

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        return 0.0 if self.rm is None else float(self.rm.power_w) / 1000.0


@dataclass
class ProtocolFaces:
    """One home's protocol devices: what its agent is configured with, what serves them."""

    charger: EvCharger | None
    battery: Battery | None
    heat_pump: RmLoad
    lock: threading.RLock
    battery_port: int = 0
    server: SunspecServer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    rms: list[Any] = field(default_factory=list)

    @property
    def device_ids(self) -> frozenset[str]:
        return frozenset(d.device_id for d in (self.charger, self.battery, self.heat_pump) if d is not None)

    def device_entries(self, broker_url: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = [
            {"kind": "mqtt", "broker_url": broker_url},
            {"kind": "s2", "listen": "127.0.0.1:0"},
        ]
        if self.charger is not None:
            need = self.charger.sessions[0] if self.charger.sessions else None
            entries.append(
                {
                    "kind": "ocpp",
                    "listen": "127.0.0.1:0",
                    "voltage_v": VOLTAGE_V,
                    "phases": PHASES,
                    "max_current_a": self.charger.max_kw * 1000.0 / (VOLTAGE_V * PHASES),
                    # The simulated car can take any current (no IEC 61851 6 A floor).
                    "min_current_a": 0.0,
                    "ev_target_kwh": need.target_kwh if need else 0.0,
                    "ev_departure": _hhmm(need.departure_s) if need else "07:00",
                    "meter_interval_s": 0,
                    "aligned_interval_s": METER_INTERVAL_S,
                }
            )
        if self.battery is not None:
            entries.append(
                {
                    "kind": "sunspec",
                    "address": f"127.0.0.1:{self.battery_port}/1",
                    "device_id": self.battery.device_id,
                    "poll_s": SUNSPEC_POLL_REAL_S,
                }
            )
        return entries


def _hhmm(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%H:%M")


def one_need_a_day(sessions: list[CarSession], after_s: float) -> list[CarSession]:
    """Every session wants what the first one after `after_s` wants, by its time of day."""
    first = next((s for s in sessions if s.arrival_s >= after_s), None)
    if first is None:
        return sessions
    leave = datetime.fromtimestamp(first.departure_s, UTC).replace(second=0, microsecond=0)
    out = []
    for s in sessions:
        arrival = datetime.fromtimestamp(s.arrival_s, UTC)
        departure = arrival.replace(hour=leave.hour, minute=leave.minute, second=0, microsecond=0)
        if departure <= arrival:
            departure += timedelta(days=1)
        out.append(replace(s, departure_s=departure.timestamp(), target_kwh=first.target_kwh))
    return out


def protocol_faces(devices: list[SimDevice], start_s: float) -> ProtocolFaces:
    """Take the home's charger and battery for OCPP and SunSpec (their sessions fixed first)
    and add an S2 heat pump to `devices`."""
    charger = next((d for d in devices if isinstance(d, EvCharger)), None)
    battery = next((d for d in devices if isinstance(d, Battery)), None)
    if charger is not None:
        charger.sessions = one_need_a_day(charger.sessions, start_s)
        charger.efficiency = 1.0  # the charger's meter is what the car gets
        charger.authorized = False  # no charging before its first transaction
    heat_pump = RmLoad(HEAT_PUMP_ID)
    devices.append(heat_pump)
    return ProtocolFaces(charger, battery, heat_pump, threading.RLock())


async def serve_battery(faces: ProtocolFaces, clock: Clock) -> None:
    """The battery's Modbus TCP server, before the agent polls it."""
    if faces.battery is None:
        return
    faces.battery_port = free_port()
    faces.server = SunspecBattery(faces.battery, faces.lock, clock).server(faces.battery_port)
    await faces.server.start()


def connect_devices(faces: ProtocolFaces, clock: Clock, agent: Any) -> None:
    """The charge point and the heat pump's RM connect to the agent (once it listens)."""
    from ven.devices.bus import DeviceRouter
    from ven.devices.ocpp_central import OcppCentralSystem
    from ven.devices.s2_cem import S2Cem
    from ven.simulators.s2_heat_pump import HeatPumpRM

    assert isinstance(agent.bus, DeviceRouter)
    # One line in the homes' log says where each device went (read by the closed-loop test).
    print(
        f"{agent.settings.site_id}: protocol devices: " + ", ".join(f"{a.name}" for a in agent.bus.adapters),
        file=sys.stderr,
        flush=True,
    )
    for adapter in agent.bus.adapters:
        if isinstance(adapter, OcppCentralSystem):
            connect_charger(faces, clock, adapter.port)
        elif isinstance(adapter, S2Cem):
            rm = HeatPumpRM(
                f"ws://127.0.0.1:{adapter.port}/", step_s=RM_STEP_REAL_S, speed=clock.speed, clock=clock.now
            )
            faces.heat_pump.rm = rm
            faces.tasks.append(asyncio.create_task(rm.run()))
            faces.rms.append(rm)


def connect_charger(faces: ProtocolFaces, clock: Clock, ocpp_port: int) -> None:
    """The charge point connects to the agent's central system (once it listens)."""
    if faces.charger is None:
        return
    from ven.simulators.ocpp_charge_point import run_charge_point

    faces.tasks.append(
        asyncio.create_task(
            run_charge_point(
                f"ws://127.0.0.1:{ocpp_port}",
                faces.charger.device_id,
                faces.charger,
                faces.lock,
                clock,
                voltage_v=VOLTAGE_V,
                phases=PHASES,
            )
        )
    )


async def stop(faces: ProtocolFaces) -> None:
    for rm in faces.rms:
        with contextlib.suppress(Exception):
            await rm.stop()
    for task in faces.tasks:
        task.cancel()
    for task in faces.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if faces.server is not None:
        await faces.server.stop()
