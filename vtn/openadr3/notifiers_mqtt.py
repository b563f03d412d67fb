"""The MqttPublisher port (aggregator/openadr3_notification_records.py) over paho-mqtt.

One client per VTN process, kept connected by paho's network thread (a broker that is down at
start-up or goes away is not an error: a publish then fails, and the outbox tries again later).
A publish is acknowledged only when the broker has acknowledged (PUBACK, QoS 1) every topic;
the wait for it runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from aggregator.notification_records import SendResult

log = logging.getLogger(__name__)

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
        """mqtt://host[:port] (tcp:// too); ValueError naming what is wrong."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise BadBrokerUrl(f"broker URL {url!r}: expected mqtt://host[:port]")
        try:
            port = parts.port or 1883
        except ValueError:
            raise BadBrokerUrl(f"broker URL {url!r}: bad port") from None
        return cls(parts.hostname, port)


class PahoPublisher:
    """Publishes the 3.1 notifications (QoS 1, not retained) on one broker."""

    def __init__(self, broker: BrokerAddress, timeout_s: float = 10.0) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"flexvpp-vtn-{uuid.uuid4().hex[:12]}"
        )
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._connected.clear()  # first: our own disconnect is no loss to warn of
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    async def publish(self, topics: Sequence[str], payload: bytes) -> SendResult:
        if not self._connected.is_set():
            # Not handed to paho's queue: the outbox keeps it and tries again (no second copy later).
            return SendResult(None, f"not connected to the broker {self._broker.host}:{self._broker.port}")
        infos = [self._client.publish(topic, payload, qos=1) for topic in topics]
        failed = [mqtt.error_string(i.rc) for i in infos if i.rc != mqtt.MQTT_ERR_SUCCESS]
        if failed:
            return SendResult(None, f"publish refused: {failed[0]}")
        return await asyncio.to_thread(self._wait, infos)

    def _wait(self, infos: list[mqtt.MQTTMessageInfo]) -> SendResult:
        for info in infos:
            try:
                info.wait_for_publish(self._timeout_s)
            except (RuntimeError, ValueError) as exc:
                return SendResult(None, f"publish failed: {exc}")
            if not info.is_published():
                return SendResult(None, f"no PUBACK within {self._timeout_s:g} s")
        return SendResult(200)

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s refused the connection: %s", self._broker, reason)
            return
        log.info("3.1 notifications: connected to broker %s:%d", self._broker.host, self._broker.port)
        self._connected.set()

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if self._connected.is_set():
            log.warning(
                "3.1 notifications: lost broker %s:%d (%s)", self._broker.host, self._broker.port, reason
            )
        self._connected.clear()
