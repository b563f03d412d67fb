"""Puts the agent's Home Assistant discovery on a broker and keeps the states current.

Configs are retained and sent again after every (re)connect (HA also re-reads retained ones
when it restarts); a device that disappears gets an empty retained config (HA removes its
entities). States are retained JSON, sent when they change. Availability is the agent's
status topic: its retained `{"online": false}` is the agent's MQTT will, so HA greys the
home out when the agent dies or loses the broker.

The bus is the agent's own MQTT device bus when HA listens on that broker (one connection,
one will), else a connection of its own with the same will.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from ven.device_bus import BrokerAddress, DeviceBus, MqttBus, Will
from ven.ha.discovery import Discovery, StateInputs, agent_status_topic, state_topic
from ven.messages import AgentStatus, dumps

log = logging.getLogger(__name__)


class HaPublisher:
    def __init__(self, discovery: Discovery, bus: DeviceBus, *, own_bus: bool) -> None:
        self.discovery = discovery
        self.bus = bus
        self.own_bus = own_bus
        self._lock = threading.Lock()
        self._configs: dict[str, str] = {}  # discovery topic -> payload sent
        self._states: dict[str, str] = {}  # state topic -> payload sent
        self._entities_key: tuple[tuple[str, int], ...] | None = None
        self._entities: dict[str, str] = {}

    def start(self) -> None:
        """Before the agent's bus starts: every (re)connect announces everything again."""
        self.bus.on_connect(self._connected)
        if self.own_bus:
            self.bus.start()

    def stop(self) -> None:
        if self.own_bus:
            self.bus.publish(
                agent_status_topic(self.discovery.site_id), dumps(AgentStatus(online=False)), retain=True
            )
            self.bus.stop()

    def _connected(self) -> None:
        with self._lock:
            self._configs.clear()
            self._states.clear()
        if self.own_bus:
            self.bus.publish(
                agent_status_topic(self.discovery.site_id), dumps(AgentStatus(online=True)), retain=True
            )

    def publish(self, inputs: StateInputs) -> None:
        """After a control step: new or changed configs, removed devices, changed states."""
        if not self.bus.connected:
            return  # everything goes again on the next connect
        # The configs change only with the devices' configs (the registry keeps each object
        # until the device announces a new one): build them again only then.
        key = tuple(sorted((d, id(v.config)) for d, v in inputs.snapshot.devices.items()))
        if key != self._entities_key:
            self._entities_key = key
            self._entities = {e.topic: _json(e.config) for e in self.discovery.entities(inputs.snapshot)}
        entities = self._entities
        states = {
            state_topic(self.discovery.site_id, device_id): _json(state)
            for device_id, state in self.discovery.states(inputs).items()
        }
        with self._lock:
            gone = [t for t in self._configs if t not in entities]
            new = {t: p for t, p in entities.items() if self._configs.get(t) != p}
            changed = {t: p for t, p in states.items() if self._states.get(t) != p}
            for topic in gone:
                del self._configs[topic]
            self._configs.update(new)
            self._states.update(changed)
        for topic in gone:
            self.bus.publish(topic, "", retain=True)
        # States before configs: an entity HA creates finds its value (and its device online).
        for topic, payload in changed.items():
            self.bus.publish(topic, payload, retain=True)
        for topic, payload in new.items():
            self.bus.publish(topic, payload, retain=True)
        if new or gone:
            log.info("Home Assistant: %d entities announced, %d removed", len(new), len(gone))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def build_publisher(
    site_id: str,
    prefix: str,
    broker_url: str | None,
    devices_bus: DeviceBus | None,
    devices_broker_url: str | None,
    will: Will,
) -> HaPublisher | None:
    """On `broker_url` (default: the MQTT devices' broker); None when there is no broker."""
    discovery = Discovery(site_id, prefix)
    if broker_url is None or (devices_bus is not None and _same(broker_url, devices_broker_url)):
        if devices_bus is None:
            log.info("Home Assistant discovery off: no MQTT broker (set home_assistant_broker_url)")
            return None
        return HaPublisher(discovery, devices_bus, own_bus=False)
    bus = MqttBus(BrokerAddress.parse(broker_url), client_id=f"agent-{site_id}-ha", will=will)
    return HaPublisher(discovery, bus, own_bus=True)


def _same(url: str, other: str | None) -> bool:
    return other is not None and BrokerAddress.parse(url) == BrokerAddress.parse(other)
