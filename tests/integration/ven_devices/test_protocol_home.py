"""A simulated home whose charger speaks OCPP 1.6J and whose battery is a SunSpec device
(flexvpp/demo_protocols.py, ven/simulators/ocpp_charge_point.py, sunspec_battery.py), against
the agent's own adapters over real sockets: the home's physics follows what the agent writes,
and the agent reads the physics back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from devices_rig import AgentSide, until

from flexvpp.demo_protocols import ProtocolFaces, connect_charger, protocol_faces, serve_battery, stop
from ven.clock import WallClock
from ven.device_bus import FakeBroker, FakeBus
from ven.devices.config import OcppChargers, SunspecDevice
from ven.devices.ocpp_central import OcppCentralSystem
from ven.devices.sunspec import SunspecAdapter
from ven.simulators.battery import Battery
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome, build_devices


class Home:
    def __init__(self) -> None:
        self.clock = WallClock()
        spec = HomeSpec(site_id="proto", pv_kw=None, heat_pump=False, smart_plug_kw=None, base_load_kw=0.5)
        devices = build_devices(spec, self.clock.now())
        self.faces: ProtocolFaces = protocol_faces(devices, self.clock.now())
        broker = FakeBroker()
        self.sim = SimulatedHome(
            spec, self.clock, lambda _id: FakeBus(broker), devices, self.faces.device_ids
        )
        self.faces.lock = self.sim.lock
        charger, battery = self.faces.charger, self.faces.battery
        assert isinstance(charger, EvCharger) and isinstance(battery, Battery)
        self.charger, self.battery = charger, battery
        now = self.clock.now()
        charger.sessions = [CarSession(now + 0.5, now + 3600, 30.0, 20.0)]  # arrives in half a second


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    h = Home()
    await serve_battery(h.faces, h.clock)
    h.sim.start()
    try:
        yield h
    finally:
        await stop(h.faces)
        h.sim.stop()


def _reading(side: AgentSide, device_id: str, name: str) -> Any:
    view = side.device(device_id)
    return None if view is None else view.reading(name)


async def test_the_agent_steers_the_simulated_charger_and_battery(home: Home) -> None:
    ocpp = OcppCentralSystem(
        OcppChargers(listen="127.0.0.1:0", max_current_a=16.0, min_current_a=0.0, meter_interval_s=1),
        home.clock,
    )
    address = f"127.0.0.1:{home.faces.battery_port}/1"
    sunspec = SunspecAdapter(SunspecDevice(address=address, device_id="battery-1", poll_s=0.2), home.clock)
    async with AgentSide([ocpp, sunspec], home.clock) as side:
        connect_charger(home.faces, home.clock, ocpp.port)
        await until(lambda: {"evse-1", "battery-1"} <= set(side.registry.snapshot(0).devices), what="devices")
        # The car arrives: a transaction, and the charger charges at its own full power.
        await until(lambda: ocpp.sessions["evse-1"].transaction is not None, what="a transaction")
        await until(lambda: (_reading(side, "evse-1", "power") or 0) > 10_000, what="11 kW measured")

        ack = await side.ack(side.send("evse-1", power_kw=4.14))  # 6 A per phase
        assert ack.accepted, ack
        await until(lambda: abs(home.charger.power_kw - 4.14) < 0.01, what="the car at 4.14 kW")
        await until(lambda: abs((_reading(side, "evse-1", "power") or 0) - 4140) < 10, what="4.14 kW read")

        ack = await side.ack(side.send("battery-1", power_kw=-2.0))  # discharge 2 kW
        assert ack.accepted, ack
        await until(lambda: abs(home.battery.power_kw + 2.0) < 0.01, what="the battery discharging")
        await until(lambda: abs((_reading(side, "battery-1", "power") or 0) + 2000) < 1, what="-2 kW read")
        soc = _reading(side, "battery-1", "soc")
        assert soc is not None and 0 < soc < 100

        # The battery's command lapses (its revert timer): back to self-consumption, which
        # here charges from nothing (no PV) and covers the house: it discharges the base load.
        ack = await side.ack(side.send("battery-1", ttl_s=1.0, power_kw=1.0))
        assert ack.accepted, ack
        await until(lambda: home.battery.command is None, timeout_s=10, what="the command reverted")
        await until(lambda: home.battery.power_kw < 0, what="self-consumption")
