"""The MQTT device bus behind a Protocol: the real paho-mqtt client and an in-memory fake.

The real bus never raises on a broker outage: paho's network thread reconnects with
exponential back-off (1 s doubling to 30 s) and every subscription and "on connect"
publication (retained config, state, the agent's status) is redone after a reconnect.
Handlers run on the network thread; an exception in one is logged, never propagated.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
ConnectHook = Callable[[], None]

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


class BadBrokerUrl(ValueError):
    """The broker URL is not mqtt://host[:port]."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise BadBrokerUrl(f"broker URL {url!r}: expected mqtt://host[:port]")
        try:
            port = parsed.port or 1883
        except ValueError:
            raise BadBrokerUrl(f"broker URL {url!r}: bad port") from None
        return cls(parsed.hostname, port)


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: str
    retain: bool = True


class DeviceBus(Protocol):
    """What the agent and the simulators need from MQTT."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None: ...

    def subscribe(self, pattern: str, handler: MessageHandler) -> None: ...

    def on_connect(self, hook: ConnectHook) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def safe_call(handler: MessageHandler, topic_name: str, payload: bytes) -> None:
    try:
        handler(topic_name, payload)
    except Exception:  # a bad message must never stop the bus
        log.exception("handler for %s failed; message dropped", topic_name)


def matching(subs: list[tuple[str, MessageHandler]], topic_name: str) -> list[MessageHandler]:
    """The handlers whose pattern matches `topic_name` (MQTT's rules, via paho's matcher)."""
    return [handler for pattern, handler in subs if mqtt.topic_matches_sub(pattern, topic_name)]


def retain_message(retained: dict[str, str], topic_name: str, payload: str) -> None:
    """Keep a retained message as a broker does: an empty payload clears the topic."""
    if payload:
        retained[topic_name] = payload
    else:
        retained.pop(topic_name, None)


def retained_matching(retained: dict[str, str], pattern: str) -> list[tuple[str, str]]:
    """The retained messages a new subscription to `pattern` receives."""
    return [(name, payload) for name, payload in retained.items() if mqtt.topic_matches_sub(pattern, name)]


class MqttBus:
    """A paho-mqtt client (MQTT 3.1.1, QoS 1) that keeps itself connected."""

    def __init__(self, broker: BrokerAddress, client_id: str | None = None, will: Will | None = None) -> None:
        self._broker = broker
        self._subs: list[tuple[str, MessageHandler]] = []
        self._hooks: list[ConnectHook] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._stopping = False
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"flexvpp-{uuid.uuid4().hex[:12]}"
        )
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.max_queued_messages_set(10_000)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))

    def subscribe(self, pattern: str, handler: MessageHandler) -> None:
        with self._lock:
            self._subs.append((pattern, handler))
        if self.connected:
            self._client.subscribe(pattern, qos=1)

    def on_connect(self, hook: ConnectHook) -> None:
        self._hooks.append(hook)

    def start(self) -> None:
        # connect_async + loop_start: the network thread connects and reconnects by itself,
        # so a broker that is down at start-up is not an error.
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s refused the connection: %s", self._broker, reason)
            return
        log.info("connected to broker %s:%d", self._broker.host, self._broker.port)
        with self._lock:
            patterns = sorted({p for p, _ in self._subs})
        for pattern in patterns:
            client.subscribe(pattern, qos=1)
        self._connected.set()
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook failed")

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning(
                "lost the broker %s:%d (%s); reconnecting", self._broker.host, self._broker.port, reason
            )
        self._connected.clear()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            handlers = matching(self._subs, message.topic)
        for handler in handlers:
            safe_call(handler, message.topic, bytes(message.payload))


class FakeBroker:
    """An in-memory broker for unit tests: synchronous delivery, retained messages, wills."""

    def __init__(self) -> None:
        self.retained: dict[str, str] = {}
        self.log: list[tuple[str, str, bool]] = []
        self._buses: list[FakeBus] = []

    def attach(self, bus: FakeBus) -> None:
        self._buses.append(bus)

    def detach(self, bus: FakeBus, *, send_will: bool) -> None:
        if bus in self._buses:
            self._buses.remove(bus)
        if send_will and bus.will is not None:
            self.route(bus.will.topic, bus.will.payload, retain=bus.will.retain)

    def route(self, topic_name: str, payload: str, *, retain: bool) -> None:
        self.log.append((topic_name, payload, retain))
        if retain:
            retain_message(self.retained, topic_name, payload)
        for bus in list(self._buses):
            bus.deliver(topic_name, payload)

    def published(self, topic_name: str) -> list[str]:
        return [p for t, p, _ in self.log if t == topic_name]


class FakeBus:
    """A DeviceBus on a FakeBroker (same matching rules as MQTT, via paho's matcher)."""

    def __init__(self, broker: FakeBroker, will: Will | None = None) -> None:
        self._broker = broker
        self.will = will
        self._subs: list[tuple[str, MessageHandler]] = []
        self._hooks: list[ConnectHook] = []
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        if self._connected:
            self._broker.route(topic, payload, retain=retain)

    def subscribe(self, pattern: str, handler: MessageHandler) -> None:
        self._subs.append((pattern, handler))
        if self._connected:
            self._send_retained(pattern, handler)

    def on_connect(self, hook: ConnectHook) -> None:
        self._hooks.append(hook)

    def start(self) -> None:
        self._broker.attach(self)
        self._connected = True
        for pattern, handler in self._subs:
            self._send_retained(pattern, handler)
        for hook in self._hooks:
            hook()

    def stop(self) -> None:
        self._connected = False
        self._broker.detach(self, send_will=False)

    def crash(self) -> None:
        """Drop off the broker without a clean disconnect: the will is published."""
        self._connected = False
        self._broker.detach(self, send_will=True)

    def deliver(self, topic_name: str, payload: str) -> None:
        for handler in matching(self._subs, topic_name):
            safe_call(handler, topic_name, payload.encode())

    def _send_retained(self, pattern: str, handler: MessageHandler) -> None:
        for name, payload in retained_matching(self._broker.retained, pattern):
            safe_call(handler, name, payload.encode())
