"""Home Assistant MQTT discovery on a real Mosquitto (ven/ha/): the configs read back from the
broker hold what HA's MQTT discovery requires, their templates render on the states the agent
keeps (jinja2, the engine HA renders them with), and availability follows the agent's will.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jinja2
import pytest
from ven_broker import Mosquitto, Recorder, wait_for

from ven.agent.events import DrEvent, EventInterval
from ven.agent.runner import HomeAgent
from ven.clock import WallClock
from ven.device_bus import BrokerAddress
from ven.settings import AgentSettings
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec
from ven.simulators.run import mqtt_home

pytestmark = pytest.mark.mqtt

NOWHERE = "http://127.0.0.1:9/OpenADR2/Simple/2.0b"  # no VTN: discovery does not need one
_ID = r"[a-zA-Z0-9_-]+"
# HA's device classes used here and the units HA accepts for each
# (https://www.home-assistant.io/integrations/sensor/#device-class).
SENSOR_UNITS = {
    "power": {"W", "kW"},
    "energy": {"Wh", "kWh", "MWh"},
    "energy_storage": {"Wh", "kWh", "MWh"},
    "battery": {"%"},
    "current": {"A", "mA"},
    "voltage": {"V", "mV"},
    "temperature": {"°C", "°F", "K"},
}
BINARY_CLASSES = {"plug", "power", "running", "problem", None}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
TEMPLATES = jinja2.Environment()


def render(template: str, payload: bytes) -> str:
    return TEMPLATES.from_string(template).render(value_json=json.loads(payload))


def check_config(topic: str, config: dict[str, Any]) -> list[str]:
    """What HA's MQTT discovery would refuse or misread in one config (empty: none)."""
    import re

    problems = []
    match = re.fullmatch(rf"homeassistant/(sensor|binary_sensor)/{_ID}/{_ID}/config", topic)
    if match is None:
        return [f"{topic}: not <prefix>/<component>/<node_id>/<object_id>/config"]
    component = match.group(1)
    for key in ("name", "unique_id", "state_topic", "device", "availability"):
        if key not in config:
            problems.append(f"{topic}: no {key}")
    device = config.get("device", {})
    if not device.get("identifiers") or not all(isinstance(i, str) for i in device["identifiers"]):
        problems.append(f"{topic}: device without identifiers")
    if any("topic" not in a for a in config.get("availability", [])):
        problems.append(f"{topic}: an availability entry without topic")
    if config.get("availability_mode", "latest") not in ("all", "any", "latest"):
        problems.append(f"{topic}: availability_mode {config['availability_mode']}")
    device_class = config.get("device_class")
    if component == "sensor":
        if device_class is not None and config.get("unit_of_measurement") not in SENSOR_UNITS[device_class]:
            problems.append(f"{topic}: unit {config.get('unit_of_measurement')} for {device_class}")
        if config.get("state_class", "measurement") not in STATE_CLASSES:
            problems.append(f"{topic}: state_class {config['state_class']}")
        if device_class == "energy" and config.get("state_class") not in ("total", "total_increasing"):
            problems.append(f"{topic}: energy must be total or total_increasing")
    elif device_class not in BINARY_CLASSES:
        problems.append(f"{topic}: binary_sensor device_class {device_class}")
    return problems


class Broker:
    """What a fresh HA would read from the broker: retained discovery configs and states."""

    def __init__(self, url: str, site: str) -> None:
        self.ha = Recorder(url, "homeassistant/#")
        self.site = Recorder(url, f"flexvpp/{site}/#")

    def configs(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for topic, payload in list(self.ha.messages):
            if payload:
                out[topic] = json.loads(payload)
            else:
                out.pop(topic, None)
        return out

    def last(self, topic: str) -> bytes | None:
        payloads = self.site.on(topic)
        return payloads[-1] if payloads else None

    def value(self, config: dict[str, Any]) -> str | None:
        payload = self.last(config["state_topic"])
        return None if payload is None else render(config["value_template"], payload)

    def available(self, config: dict[str, Any]) -> bool:
        for entry in config["availability"]:
            payload = self.last(entry["topic"])
            if payload is None or render(entry["value_template"], payload) != "online":
                return False
        return True

    def stop(self) -> None:
        self.ha.bus.stop()
        self.site.bus.stop()


def _entity(configs: dict[str, dict[str, Any]], unique_suffix: str) -> dict[str, Any] | None:
    return next((c for c in configs.values() if c["unique_id"].endswith(unique_suffix)), None)


async def test_the_home_appears_in_home_assistant_and_follows_the_agent(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = f"ha-{uuid.uuid4().hex[:8]}"
    clock = WallClock()
    home = mqtt_home(
        HomeSpec(site_id=site, pv_kw=4.0, battery_kwh=10.0, heat_pump=False, smart_plug_kw=None,
                 telemetry_interval_s=1.0),
        BrokerAddress.parse(mosquitto.url),
        clock,
    )  # fmt: skip
    charger = home.device("evse-1")
    assert isinstance(charger, EvCharger)
    charger.sessions.clear()
    charger.plug_in(CarSession(clock.now() - 60, clock.now() + 8 * 3600, 30.0, 20.0))
    settings = AgentSettings(
        vtn_url=NOWHERE, ven_name="ven-ha", site_id=site, broker_url=mosquitto.url,
        dispatch_period_s=0.3, discovery_wait_s=1, buffer_path=tmp_path / "buffer.db",
    )  # fmt: skip
    broker = Broker(mosquitto.url, site)
    home.start()
    agent = HomeAgent(settings, clock=clock)
    await agent.start()
    try:
        wanted = ["meter-1_power", "evse-1_charge_mode", "evse-1_plugged_in", "evse-1_setpoint",
                  "battery-1_soc", "pv-1_energy_export", "agent_dr_active", "agent_plan_next_kw"]  # fmt: skip
        await _until(lambda: all(_entity(broker.configs(), w) for w in wanted), "the discovery configs")
        configs = broker.configs()
        problems = [p for topic, config in configs.items() for p in check_config(topic, config)]
        assert not problems, problems
        assert len({c["unique_id"] for c in configs.values()}) == len(configs)

        # Every entity's template renders on the state the agent keeps, and it is available.
        await _until(lambda: all(broker.value(c) is not None for c in configs.values()), "the states")
        for config in configs.values():
            assert broker.available(config), config["unique_id"]
        meter_power = _entity(configs, "meter-1_power")
        assert meter_power is not None and meter_power["device_class"] == "power"
        await _until(lambda: broker.value(meter_power) not in (None, "None"), "meter power")
        float(broker.value(meter_power) or "")
        assert broker.value(_entity(configs, "evse-1_charge_mode") or {}) == "smart"
        assert broker.value(_entity(configs, "evse-1_plugged_in") or {}) == "on"
        dr_active = _entity(configs, "agent_dr_active") or {}
        assert broker.value(dr_active) == "off"

        # A DR event: HA shows it active, the charger's setpoint and the plan's next value.
        now = clock.now()
        event = DrEvent("dr-1", 0, "LOAD_DISPATCH", "setpoint",
                        (EventInterval(now, 600, 3.0), EventInterval(now + 600, 600, 1.5)),
                        resource_ids=("evse-1",))  # fmt: skip
        agent.core.set_event([event])
        await _until(lambda: broker.value(dr_active) == "on", "the DR event in HA")
        assert broker.value(_entity(configs, "agent_dr_event") or {}) == "dr-1"
        await _until(lambda: broker.value(_entity(configs, "evse-1_setpoint") or {}) == "3.0", "setpoint")
        assert broker.value(_entity(configs, "evse-1_next_setpoint") or {}) == "1.5"
        assert broker.value(_entity(configs, "agent_plan_next_kw") or {}) == "1.5"

        # A device that goes offline is unavailable in HA; the others stay.
        battery_soc = _entity(configs, "battery-1_soc") or {}
        home.device("battery-1").online = False
        home.clients["battery-1"].publish_state(force=True)
        await _until(lambda: not broker.available(battery_soc), "the battery unavailable")
        assert broker.available(meter_power)
    finally:
        await agent.stop()
        home.stop()
    # The agent stopped: every entity unavailable.
    await _until(lambda: not broker.available(meter_power), "the home unavailable")
    broker.stop()


def test_the_agent_will_makes_home_assistant_show_it_unavailable(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """`flexvpp ven run` with no MQTT devices (an OCPP central system only) announces the agent on
    --home-assistant-broker with its own connection; killed, its will marks it unavailable."""
    site = f"ha-{uuid.uuid4().hex[:8]}"
    broker = Broker(mosquitto.url, site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    agent = subprocess.Popen(
        [sys.executable, "-m", "flexvpp", "ven", "run", "--vtn-url", NOWHERE, "--ven-name", "ven-ha",
         "--site", site, "--ocpp-listen", "127.0.0.1:0", "--home-assistant-broker", mosquitto.url],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: _entity(broker.configs(), "agent_dr_active") is not None, 60, "the agent's configs")
        configs = broker.configs()
        problems = [p for topic, config in configs.items() for p in check_config(topic, config)]
        assert not problems, problems
        config = _entity(configs, "agent_dr_active") or {}
        wait_for(lambda: broker.available(config), 10, "the agent available")
        agent.send_signal(signal.SIGKILL)  # no clean disconnect: the broker sends the will
        agent.wait(timeout=10)
        wait_for(lambda: not broker.available(config), 10, "the agent unavailable (its will)")
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.wait(timeout=10)
        broker.stop()


async def _until(predicate: Any, what: str, timeout_s: float = 15.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
