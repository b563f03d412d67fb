"""The demo's homes: simulated devices and their agents in one process (`python -m flexvpp.demo_homes`).

Every process of the demo shares one simulated clock, `origin + (time.time() - anchor) * speed`,
so the VTN, the agents and the devices agree on what time it is. The process writes what each
car asked for and got (`sessions-<first>.json`) every few seconds and when it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class AnchoredClock:
    """Simulated time shared across processes (ven.clock.Clock protocol)."""

    def __init__(self, speed: float, origin_s: float, anchor_s: float) -> None:
        self._speed, self._origin_s, self._anchor_s = speed, origin_s, anchor_s

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._origin_s + (time.time() - self._anchor_s) * self._speed


class FilePv:
    """A PV profile from the user's file: kW per kW peak by time of day (15-min steps)."""

    def __init__(self, nominal_kw: float, per_kwp: list[float]) -> None:
        self.nominal_kw = nominal_kw
        self._per_kwp = per_kwp

    def _at(self, now_s: float) -> float:
        slot = int((now_s % 86400) // (86400 / len(self._per_kwp)))
        return max(0.0, self._per_kwp[slot] * self.nominal_kw)

    def clear_sky_kw(self, now_s: float) -> float:
        return self._at(now_s)

    def available_kw(self, now_s: float) -> float:
        return self._at(now_s)


# A command must outlive the agent's pauses, which are real time: on a busy machine an agent's
# step can come late by a second or more, and at x900 that is a quarter of an hour of simulated
# time. A charger whose command lapsed falls back to its own mode (full power), which is what
# broke the evening cap in earlier demos.
COMMAND_TTL_REAL_S = 5.0


def command_ttl_s(dispatch_s: float, speed: float) -> float:
    """valid_until - now [simulated s]: four dispatch periods, and at least 5 s of real time."""
    return max(4 * dispatch_s, COMMAND_TTL_REAL_S * speed)


def home_spec(site: str, index: int, telemetry_s: float) -> Any:
    from ven.simulators.home import HomeSpec

    # A realistic mix: every home has an EV; most have PV; about half a battery.
    return HomeSpec(
        site_id=site,
        seed=index + 11,
        pv_kw=[4.0, 5.0, 6.5, None][index % 4],
        battery_kwh=[10.0, None, 5.0, None, 13.5][index % 5],
        ev_max_kw=[11.0, 7.4, 11.0][index % 3],
        heat_pump=False,
        smart_plug_kw=None,
        telemetry_interval_s=telemetry_s,
    )


async def _run(a: argparse.Namespace) -> None:
    from flexvpp.demo_protocols import connect_devices, protocol_faces, serve_battery
    from flexvpp.demo_protocols import stop as protocol_stop
    from ven.agent.runner import HomeAgent
    from ven.device_bus import BrokerAddress
    from ven.settings import AgentSettings
    from ven.simulators.ev_charger import EvCharger
    from ven.simulators.home import SimulatedHome, build_devices
    from ven.simulators.pv_inverter import PvInverter

    clock = AnchoredClock(a.speed, a.origin, a.anchor)
    broker = BrokerAddress.parse(a.broker)
    pv_shape = json.loads(Path(a.pv).read_text()) if a.pv else None
    homes, agents, faces = [], [], []
    for i in range(a.first, a.first + a.count):
        site = f"{a.prefix}-{i + 1:03d}"
        spec = home_spec(site, i, a.telemetry_s)
        devices = build_devices(spec, clock.now())
        for device in devices:
            if pv_shape is not None and isinstance(device, PvInverter):
                device.profile = FilePv(device.profile.nominal_kw, pv_shape)  # type: ignore[assignment]
        face = protocol_faces(devices, clock.now()) if a.protocol_devices else None
        home = SimulatedHome(
            spec,
            clock,
            _bus_factory(broker, site),
            devices,
            face.device_ids if face is not None else frozenset(),
        )
        homes.append(home)
        sources: dict[str, Any] = {"broker_url": a.broker}
        if face is not None:
            face.lock = home.lock
            await serve_battery(face, clock)
            sources["devices"] = face.device_entries(a.broker)
            faces.append(face)
        settings = AgentSettings.model_validate(
            {
                "vtn_url": a.vtn_url,
                "ven_name": f"ven-{site}",
                "site_id": site,
                **sources,
                "speed": a.speed,
                "buffer_path": Path(a.dir) / f"{site}.db",
                "discovery_wait_s": 3,
                "dispatch_period_s": a.dispatch_s,
                "command_ttl_s": command_ttl_s(a.dispatch_s, a.speed),
                "replan_every_s": 10 * 86400,
                "housekeeping_every": 2,
                # The VTN's schedules steer the charger (dispatch_target "ev"); the battery keeps
                # to self-consumption, which covers the house in the evening.
                "dispatch_device": "evse-1",
                # No Home Assistant on the demo's private broker: no discovery to publish.
                "home_assistant": False,
            }
        )
        agents.append(HomeAgent(settings, clock=clock))
    for home in homes:
        home.start()
    await asyncio.gather(*(agent.start() for agent in agents))
    for face, agent in zip(faces, agents, strict=False):
        connect_devices(face, clock, agent)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sessions: dict[str, dict[str, Any]] = {}
    out = Path(a.dir) / f"sessions-{a.first}.json"
    while not stop.is_set():
        _note_sessions(homes, sessions, EvCharger)
        out.write_text(json.dumps(list(sessions.values())))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)
    _note_sessions(homes, sessions, EvCharger)
    out.write_text(json.dumps(list(sessions.values())))
    await asyncio.gather(*(protocol_stop(face) for face in faces), return_exceptions=True)
    await asyncio.gather(*(agent.stop() for agent in agents), return_exceptions=True)
    await asyncio.gather(*(asyncio.to_thread(home.stop) for home in homes))


def _bus_factory(broker: Any, site: str) -> Any:
    from ven.device_bus import MqttBus

    return lambda device_id: MqttBus(broker, client_id=f"sim-{site}-{device_id}")


def _note_sessions(homes: list[Any], sessions: dict[str, dict[str, Any]], charger_type: type) -> None:
    """What each plugged-in car asked for and has got so far (the charger forgets at departure)."""
    for home in homes:
        for device in home.devices.values():
            if isinstance(device, charger_type) and device.session is not None:  # type: ignore[attr-defined]
                s = device.session  # type: ignore[attr-defined]
                key = f"{home.site_id}/{s.arrival_s}"
                sessions[key] = {
                    "site_id": home.site_id,
                    "ev_id": device.device_id,  # type: ignore[attr-defined]
                    "arrival_s": s.arrival_s,
                    "departure_s": s.departure_s,
                    "target_kwh": s.target_kwh,
                    "delivered_kwh": device.delivered_kwh,  # type: ignore[attr-defined]
                    "max_kw": device.max_kw,  # type: ignore[attr-defined]
                    "efficiency": device.efficiency,  # type: ignore[attr-defined]
                }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flexvpp.demo_homes")
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", default="home")
    p.add_argument("--broker", required=True)
    p.add_argument("--vtn-url", required=True)
    p.add_argument("--speed", type=float, required=True)
    p.add_argument("--origin", type=float, required=True)
    p.add_argument("--anchor", type=float, required=True)
    p.add_argument("--telemetry-s", type=float, default=900.0)
    p.add_argument("--dispatch-s", type=float, default=120.0)
    p.add_argument("--pv", default=None)
    p.add_argument("--dir", required=True)
    p.add_argument(
        "--protocol-devices",
        action="store_true",
        help="chargers on OCPP 1.6J and batteries on SunSpec Modbus TCP instead of MQTT",
    )
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_run(a))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
