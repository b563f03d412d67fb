"""The agent's device bus: the MQTT bus (when there is one) joined with the protocol adapters.

`DeviceRouter` is a `DeviceBus`. A `set` for a device that an adapter owns goes to that
adapter; everything else goes to MQTT. What an adapter publishes for its devices (config,
telemetry, state, ack, in the MQTT payload format) is delivered to the router's subscribers
as if it had come from the broker, retained messages included. The adapters' messages are
never sent to the broker: the agent is their only reader.

Deliveries are serialised under one lock, whether they come from paho's network thread (MQTT
devices) or the event loop (adapters): the agent's handlers never run concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from ven.device_bus import (
    ConnectHook,
    DeviceBus,
    MessageHandler,
    matching,
    retain_message,
    retained_matching,
    safe_call,
)
from ven.messages import (
    Ack,
    DeviceConfig,
    MalformedPayload,
    TopicKind,
    dumps,
    parse_topic,
    senml_pack,
    topic,
)

log = logging.getLogger(__name__)


class DeviceLink:
    """What an adapter uses to speak for its devices (the device side of the MQTT topics)."""

    def __init__(self, router: DeviceRouter) -> None:
        self._router = router

    def _topic(self, device_id: str, kind: TopicKind) -> str:
        return topic(self._router.site_id, device_id, kind)

    def config(self, config: DeviceConfig) -> None:
        self._router.deliver(self._topic(config.device_id, TopicKind.CONFIG), dumps(config), retain=True)

    def telemetry(self, device_id: str, time_s: float, values: Sequence[tuple[str, str, float]]) -> None:
        if values:
            pack = senml_pack(device_id, time_s, list(values))
            self._router.deliver(self._topic(device_id, TopicKind.TELEMETRY), dumps(pack), retain=False)

    def state(self, device_id: str, state: dict[str, Any]) -> None:
        self._router.deliver(self._topic(device_id, TopicKind.STATE), dumps(state), retain=True)

    def ack(self, device_id: str, ack: Ack) -> None:
        self._router.deliver(self._topic(device_id, TopicKind.ACK), dumps(ack), retain=False)

    def remove(self, device_id: str) -> None:
        """The device is gone for good (an empty retained config, as on MQTT)."""
        self._router.deliver(self._topic(device_id, TopicKind.STATE), "", retain=True)
        self._router.deliver(self._topic(device_id, TopicKind.CONFIG), "", retain=True)


class DeviceAdapter(Protocol):
    """One protocol's devices. `command` is called on any thread and must return at once."""

    name: str  # for log lines: "ocpp :9000", "sunspec 10.0.0.5:502/1"

    def owns(self, device_id: str) -> bool: ...

    def command(self, device_id: str, payload: bytes) -> None: ...

    async def open(self, link: DeviceLink) -> None: ...

    async def close(self) -> None: ...


class DeviceRouter:
    """A `DeviceBus` over an optional MQTT bus and any number of adapters."""

    def __init__(self, site_id: str, mqtt_bus: DeviceBus | None, adapters: Sequence[DeviceAdapter]) -> None:
        self.site_id = site_id
        self.mqtt = mqtt_bus
        self.adapters = list(adapters)
        self.link = DeviceLink(self)
        self._lock = threading.RLock()  # serialises every delivery to the agent
        self._subs: list[tuple[str, MessageHandler]] = []
        self._retained: dict[str, str] = {}
        self._hooks: list[ConnectHook] = []
        self._started = False

    # --- DeviceBus ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.mqtt.connected if self.mqtt is not None else self._started

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        adapter = self._adapter_for(topic)
        if adapter is not None:
            adapter.command(parse_topic(topic).device_id, payload.encode())
        elif self.mqtt is not None:
            self.mqtt.publish(topic, payload, retain=retain)
        else:
            log.debug("no MQTT bus: %s not sent", topic)

    def subscribe(self, pattern: str, handler: MessageHandler) -> None:
        with self._lock:
            self._subs.append((pattern, handler))
            retained = retained_matching(self._retained, pattern)
        for name, payload in retained:
            self._call(handler, name, payload)
        if self.mqtt is not None:
            self.mqtt.subscribe(pattern, lambda t, p: self._call_bytes(handler, t, p))

    def on_connect(self, hook: ConnectHook) -> None:
        if self.mqtt is not None:
            self.mqtt.on_connect(hook)
        else:
            self._hooks.append(hook)

    def start(self) -> None:
        self._started = True
        if self.mqtt is not None:
            self.mqtt.start()
            return
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook failed")

    def stop(self) -> None:
        self._started = False
        if self.mqtt is not None:
            self.mqtt.stop()

    # --- adapters -----------------------------------------------------------------------------
    async def open(self) -> None:
        """Start every adapter (bind its server, start its polling); a failure is raised."""
        for adapter in self.adapters:
            await adapter.open(self.link)
            log.info("devices: %s open", adapter.name)

    async def close(self) -> None:
        for adapter in self.adapters:
            try:
                await adapter.close()
            except Exception:
                log.exception("closing %s failed", adapter.name)

    def deliver(self, topic_name: str, payload: str, *, retain: bool) -> None:
        """A message from an adapter's device to the agent (as if from the broker)."""
        with self._lock:
            if retain:
                retain_message(self._retained, topic_name, payload)
            handlers = matching(self._subs, topic_name)
        for handler in handlers:
            self._call(handler, topic_name, payload)

    def _adapter_for(self, topic_name: str) -> DeviceAdapter | None:
        try:
            parsed = parse_topic(topic_name)
        except MalformedPayload:
            return None
        if parsed.kind != TopicKind.SET or parsed.site_id != self.site_id:
            return None
        return next((a for a in self.adapters if a.owns(parsed.device_id)), None)

    def _call(self, handler: MessageHandler, topic_name: str, payload: str) -> None:
        self._call_bytes(handler, topic_name, payload.encode())

    def _call_bytes(self, handler: MessageHandler, topic_name: str, payload: bytes) -> None:
        with self._lock:
            safe_call(handler, topic_name, payload)
