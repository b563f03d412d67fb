"""The agent core on a real Mosquitto: discovery, bad input ignored, safety, broker restart."""

from __future__ import annotations

import json
import uuid

import pytest
from ven_broker import Mosquitto, Recorder, wait_for

from ven.agent.core import AgentCore, DispatchSettings, status_topic
from ven.agent.events import DrEvent, EventInterval
from ven.agent.policy import SiteLimits
from ven.clock import AcceleratedClock
from ven.device_bus import BrokerAddress, MqttBus, Will
from ven.messages import parse_ack
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome

pytestmark = pytest.mark.mqtt


def test_agent_on_a_real_broker(mosquitto: Mosquitto) -> None:
    site = f"agent-{uuid.uuid4().hex[:8]}"
    broker = BrokerAddress.parse(mosquitto.url)
    clock = AcceleratedClock(speed=30.0)
    device_buses: list[MqttBus] = []

    def device_bus(device_id: str) -> MqttBus:
        device_buses.append(MqttBus(broker, client_id=f"sim-{site}-{device_id}"))
        return device_buses[-1]

    home = SimulatedHome(
        HomeSpec(
            site_id=site,
            seed=4,
            base_load_kw=3.0,
            pv_kw=None,
            battery_kwh=None,
            heat_pump=False,
            smart_plug_kw=1.0,
            telemetry_interval_s=30,
        ),
        clock,
        device_bus,
    )
    ev = home.device("evse-1")
    assert isinstance(ev, EvCharger)
    ev.sessions.clear()
    now = clock.now()
    ev.plug_in(CarSession(now - 60, now + 8 * 3600, 30.0, 40.0))
    bus = MqttBus(broker, client_id=f"agent-{site}", will=Will(status_topic(site), '{"online": false}'))
    core = AgentCore(site, "ven-it", bus, clock, SiteLimits(7.0, 10.0), DispatchSettings(60, 600))
    rec = Recorder(mosquitto.url, f"flexvpp/{site}/#")
    home.start()
    core.start()
    try:
        wait_for(lambda: {"meter-1", "evse-1", "plug-1"} <= set(core.snapshot().devices), what="discovery")
        wait_for(lambda: core.snapshot().meter_kw is not None, what="meter telemetry")
        assert json.loads(rec.on(status_topic(site))[-1]) == {"online": True}

        # garbage and a stranger on the bus: logged, counted, ignored
        before = core.registry.ignored
        rec.bus.publish(f"flexvpp/{site}/evse-1/telemetry", "[{]")
        rec.bus.publish(f"flexvpp/{site}/toaster-1/state", json.dumps({"ts": 1, "online": True}))
        wait_for(lambda: core.registry.ignored >= before + 2, what="bad input counted")

        # an event asking 11 kW for the EV with 3 kW of base load and 1 kW of plug: clipped to 7 kW
        start = clock.now()
        core.set_event(
            [
                DrEvent(
                    "max",
                    0,
                    "LOAD_DISPATCH",
                    "setpoint",
                    (EventInterval(start, 3600, 11.0),),
                    resource_ids=("evse-1",),
                )
            ]
        )
        result = core.step()
        assert result.setpoints["evse-1"] == 3.0 and result.predicted_import_kw <= 7.0 + 1e-9
        wait_for(
            lambda: any(parse_ack("a", p).accepted for p in rec.on(f"flexvpp/{site}/evse-1/ack")), what="ack"
        )
        wait_for(lambda: abs(home.meter.power_kw - 7.0) < 1e-6, what="the site at its limit")

        # the broker restarts: devices re-announce, the agent re-subscribes and commands again
        mosquitto.stop()
        wait_for(lambda: not bus.connected, what="agent disconnected")
        core.step()  # no broker: no crash
        mosquitto.start()
        # every client backs off on its own (up to 30 s): the command goes out once all are back
        for client in (bus, rec.bus, *device_buses):
            wait_for(lambda c=client: c.connected, timeout_s=60, what="every client reconnected")
        acks_before = len(rec.on(f"flexvpp/{site}/evse-1/ack"))
        core.set_event(
            [
                DrEvent(
                    "slow",
                    0,
                    "LOAD_DISPATCH",
                    "setpoint",
                    (EventInterval(clock.now(), 3600, 2.0),),
                    resource_ids=("evse-1",),
                    priority=1,
                )
            ]
        )
        wait_for(lambda: core.snapshot().meter_kw is not None, what="telemetry after restart")
        assert core.step().setpoints["evse-1"] == 2.0
        wait_for(
            lambda: len(rec.on(f"flexvpp/{site}/evse-1/ack")) > acks_before,
            timeout_s=30,
            what="ack after restart",
        )
        wait_for(lambda: abs(ev.power_kw - 2.0) < 1e-6, what="EV at 2 kW")
    finally:
        core.stop()
        home.stop()
        rec.bus.stop()
