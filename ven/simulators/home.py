"""A simulated home: devices, their physics, and one MQTT client per device.

Each device is its own bus client (as real hardware behind adapters would be): it publishes
its retained `config` and `state` on every (re)connect, SenML `telemetry` every
`telemetry_interval_s` of simulated time, and answers `set` with an `ack`. The physics runs
in sub-steps of at most `MAX_STEP_S` simulated seconds; the meter reads the base load plus
the sum of every other device, so the home's books balance exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ven.clock import Clock
from ven.device_bus import DeviceBus
from ven.messages import (
    Ack,
    MalformedPayload,
    TopicKind,
    dumps,
    parse_set,
    senml_pack,
    topic,
)
from ven.simulators.base import SimDevice, SiteView
from ven.simulators.battery import Battery
from ven.simulators.ev_charger import CAR_CAPACITY_KWH, EvCharger, PlugIn, daily_sessions
from ven.simulators.heat_pump import HeatPump
from ven.simulators.meter import Meter
from ven.simulators.profiles import BaseLoadProfile, ConstantLoad, PvProfile
from ven.simulators.pv_inverter import PvInverter
from ven.simulators.smart_plug import SmartPlug

log = logging.getLogger(__name__)

MAX_STEP_S = 5.0
MAX_LATE_READINGS = 4  # a tick later than this many telemetry intervals publishes only the last ones
BusFactory = Callable[[str], DeviceBus]


@dataclass(frozen=True, slots=True)
class HomeSpec:
    """What a simulated home contains. `base_load_kw` set = a constant base load."""

    site_id: str
    seed: int = 0
    import_limit_kw: float = 9.2
    pv_kw: float | None = 5.0
    battery_kwh: float | None = 10.0
    ev_max_kw: float | None = 11.0
    heat_pump: bool = True
    smart_plug_kw: float | None = 1.0
    base_load_kw: float | None = None
    telemetry_interval_s: float = 60.0
    session_days: int = 7
    plug_in_now: PlugIn | None = None  # a car on the charger from the start (before the daily ones)


def build_devices(spec: HomeSpec, start_s: float) -> list[SimDevice]:
    devices: list[SimDevice] = [Meter("meter-1", spec.import_limit_kw)]
    if spec.pv_kw:
        devices.append(PvInverter("pv-1", PvProfile(spec.pv_kw, spec.seed)))
    if spec.smart_plug_kw:
        devices.append(SmartPlug("plug-1", spec.smart_plug_kw))
    if spec.heat_pump:
        devices.append(HeatPump("hp-1"))
    if spec.ev_max_kw:
        sessions = daily_sessions(spec.seed, CAR_CAPACITY_KWH, start_s - 86400.0, spec.session_days + 1)
        charger = EvCharger("evse-1", max_kw=spec.ev_max_kw, sessions=sessions)
        if spec.plug_in_now is not None:
            charger.plug_in(spec.plug_in_now.session(start_s))
        devices.append(charger)
    if spec.battery_kwh:
        devices.append(Battery("battery-1", capacity_kwh=spec.battery_kwh, soc_kwh=spec.battery_kwh / 2))
    return devices


class DeviceClient:
    """One device on the bus."""

    def __init__(self, home: SimulatedHome, device: SimDevice, bus: DeviceBus) -> None:
        self._home = home
        self.device = device
        self.bus = bus
        self._last_state: dict[str, Any] | None = None
        bus.on_connect(self.announce)
        bus.subscribe(topic(home.site_id, device.device_id, TopicKind.SET), self._on_set)

    def _topic(self, kind: TopicKind) -> str:
        return topic(self._home.site_id, self.device.device_id, kind)

    def announce(self) -> None:
        with self._home.lock:
            self.bus.publish(self._topic(TopicKind.CONFIG), dumps(self.device.config()), retain=True)
            self.publish_state(force=True)

    def publish_state(self, *, force: bool = False) -> None:
        state = self.device.state(self._home.clock.now())
        unchanged = self._last_state is not None and {k: v for k, v in state.items() if k != "ts"} == {
            k: v for k, v in self._last_state.items() if k != "ts"
        }
        if force or not unchanged:
            self._last_state = state
            self.bus.publish(self._topic(TopicKind.STATE), dumps(state), retain=True)

    def publish_telemetry(self, time_s: float) -> None:
        pack = senml_pack(self.device.device_id, time_s, self.device.telemetry())
        self.bus.publish(self._topic(TopicKind.TELEMETRY), dumps(pack))

    def _on_set(self, topic_name: str, payload: bytes) -> None:
        try:
            command = parse_set(topic_name, payload)
        except MalformedPayload as exc:
            log.warning("%s", exc)
            command_id = _command_id(payload)
            if command_id is not None:  # the sender can be told what is wrong
                ack = Ack(command_id=command_id, accepted=False, reason=str(exc).split(": ", 1)[-1])
                self.bus.publish(self._topic(TopicKind.ACK), dumps(ack))
            return
        with self._home.lock:
            ack = self.device.handle_set(command, self._home.clock.now())
            self.bus.publish(self._topic(TopicKind.ACK), dumps(ack))
            self.publish_state()


def _command_id(payload: bytes) -> str | None:
    import json

    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("command_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


class SimulatedHome:
    """Devices + physics + bus clients. Drive it with `tick()` or `start(thread=True)`."""

    def __init__(
        self,
        spec: HomeSpec,
        clock: Clock,
        bus_factory: BusFactory,
        devices: list[SimDevice] | None = None,
        protocol_devices: frozenset[str] = frozenset(),
    ) -> None:
        """`protocol_devices`: ids of devices that another face serves (an OCPP charge point,
        a SunSpec server: ven/simulators/ocpp_charge_point.py, sunspec_battery.py): they get no
        MQTT client, their physics and the meter's sum stay here."""
        self.spec = spec
        self.site_id = spec.site_id
        self.clock = clock
        self.lock = threading.RLock()
        now = clock.now()
        self.base_load = (
            ConstantLoad(spec.base_load_kw) if spec.base_load_kw is not None else BaseLoadProfile(spec.seed)
        )
        self.devices = {d.device_id: d for d in (devices or build_devices(spec, now))}
        self.protocol_devices = protocol_devices
        self.clients = {
            d_id: DeviceClient(self, d, bus_factory(d_id))
            for d_id, d in self.devices.items()
            if d_id not in protocol_devices
        }
        self.base_load_now_kw = 0.0
        self._sim_s = now
        self._telemetry_slot = int(now // spec.telemetry_interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def meter(self) -> Meter:
        return next(d for d in self.devices.values() if isinstance(d, Meter))

    def device(self, device_id: str) -> SimDevice:
        return self.devices[device_id]

    def start(self, *, thread: bool = True) -> None:
        with self.lock:
            self._step(self._sim_s, 0.0)  # first readings before the first announcement
        for client in self.clients.values():
            client.bus.start()
        if thread:
            self._thread = threading.Thread(target=self._run, name=f"home-{self.site_id}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for client in self.clients.values():
            client.bus.stop()

    def _run(self) -> None:
        period_real_s = min(1.0, max(0.05, MAX_STEP_S / self.clock.speed))
        while not self._stop.wait(period_real_s):
            try:
                self.tick()
            except Exception:  # the simulated home keeps running whatever one step does
                log.exception("home %s: step failed", self.site_id)

    def tick(self) -> None:
        """Advance the physics to the clock's now; publish what changed and due telemetry.

        Telemetry is read at each interval's edge (the physics is advanced to the edge first),
        as a meter's quarter-hour register is, however late the tick comes: energy per slot
        from the counters is then exact, not interpolated across an edge."""
        now = self.clock.now()
        interval = self.spec.telemetry_interval_s
        with self.lock:
            slot = int(now // interval)
            for edge_slot in range(max(self._telemetry_slot + 1, slot - MAX_LATE_READINGS + 1), slot + 1):
                edge = edge_slot * interval
                self._physics(edge)
                for client in self.clients.values():
                    client.publish_telemetry(edge)
                for device_id in self.protocol_devices:
                    d = self.devices[device_id]
                    d.edge_reading = (edge, d.power_kw, d.energy_import_wh)
            self._telemetry_slot = slot
            self._physics(now)
            for client in self.clients.values():
                client.publish_state()

    def _physics(self, now_s: float) -> None:
        while self._sim_s < now_s - 1e-9:
            dt = min(MAX_STEP_S, now_s - self._sim_s)
            self._sim_s += dt
            self._step(self._sim_s, dt)

    def _step(self, now_s: float, dt_s: float) -> None:
        for device in self.devices.values():
            if device.expire(now_s):
                client = self.clients.get(device.device_id)
                if client is not None:
                    client.publish_state()
        self.base_load_now_kw = self.base_load.load_kw(now_s)
        net = self.base_load_now_kw
        flexible = [d for d in self.devices.values() if not isinstance(d, Meter | Battery)]
        for device in flexible:
            device.step(now_s, dt_s, SiteView(net))
            net += device.power_kw
        for device in self.devices.values():
            if isinstance(device, Battery):
                device.step(now_s, dt_s, SiteView(net))
                net += device.power_kw
        self.meter.step(now_s, dt_s, SiteView(net))

    def others_sum_kw(self) -> float:
        """The base load plus every non-meter device: what the meter must read."""
        return self.base_load_now_kw + sum(
            d.power_kw for d in self.devices.values() if not isinstance(d, Meter)
        )
