"""vtn/openadr3/notifiers_mqtt.py on the real Mosquitto: acknowledged only once the broker has
every topic, and a broker that is not there is a failed result, not an exception."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from vtn.openadr3.notifiers_mqtt import BadBrokerUrl, BrokerAddress, PahoPublisher

pytestmark = pytest.mark.mqtt
BROKER = BrokerAddress("127.0.0.1", 1883)


def _listener(pattern: str, got: list[tuple[str, bytes]], ready: threading.Event) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"listen-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(pattern, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda _c, _u, m: got.append((m.topic, bytes(m.payload)))
    client.connect(BROKER.host, BROKER.port)
    client.loop_start()
    return client


async def test_a_publish_reaches_every_topic_and_is_acknowledged() -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    got: list[tuple[str, bytes]] = []
    ready = threading.Event()
    listener = _listener(f"{prefix}/#", got, ready)
    publisher = PahoPublisher(BROKER, timeout_s=5)
    publisher.start()
    try:
        assert ready.wait(5) and publisher.wait_connected(5)
        result = await publisher.publish(
            [f"{prefix}/events/create", f"{prefix}/vens/v1/events/create"], b"{}"
        )
        assert result.acknowledged, result
        for _ in range(50):
            if len(got) == 2:
                break
            threading.Event().wait(0.1)
        assert sorted(got) == [(f"{prefix}/events/create", b"{}"), (f"{prefix}/vens/v1/events/create", b"{}")]
    finally:
        publisher.stop()
        listener.loop_stop()
        listener.disconnect()


async def test_no_broker_is_a_failed_result() -> None:
    publisher = PahoPublisher(BrokerAddress("127.0.0.1", 1), timeout_s=1)
    publisher.start()
    try:
        result = await publisher.publish(["x/y"], b"{}")
        assert not result.acknowledged and "not connected" in (result.error or "")
    finally:
        publisher.stop()


def test_broker_urls_are_checked() -> None:
    assert BrokerAddress.parse("mqtt://h:1884") == BrokerAddress("h", 1884)
    assert BrokerAddress.parse("h") == BrokerAddress("h", 1883)
    for bad in ("http://h", "mqtt://h:99999", "mqtt://"):
        with pytest.raises(BadBrokerUrl):
            BrokerAddress.parse(bad)
