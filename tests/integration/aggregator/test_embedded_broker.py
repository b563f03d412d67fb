"""`flexvpp broker`: the embedded MQTT broker (amqtt) that serves the demo where no Mosquitto is
installed. The process is the point (it stops on SIGTERM), so it runs as one."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from cli_in_process import run_flexvpp
from paho.mqtt.enums import CallbackAPIVersion

from flexvpp.child_process import python_module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"flexvpp broker did not listen on {port}")


def test_the_embedded_broker_keeps_retained_messages_and_stops_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        python_module("flexvpp", "broker", "--listen", f"127.0.0.1:{port}"), stderr=subprocess.PIPE
    )
    try:
        _wait_listening(port, proc)
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        publisher.publish("flexvpp/test/config", b'{"type": "meter"}', qos=1, retain=True).wait_for_publish(
            10
        )
        publisher.loop_stop()
        publisher.disconnect()

        received: list[tuple[str, bytes, bool]] = []
        subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub")
        subscriber.on_message = lambda _c, _u, m: received.append((m.topic, m.payload, m.retain))
        subscriber.connect("127.0.0.1", port)
        subscriber.subscribe("flexvpp/test/#", qos=1)
        subscriber.loop_start()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        subscriber.loop_stop()
        subscriber.disconnect()
        assert received == [("flexvpp/test/config", b'{"type": "meter"}', True)]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize("listen", ["1883", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:99999", "host:port"])
def test_a_bad_listen_address_is_named(listen: str) -> None:
    done = run_flexvpp("broker", "--listen", listen)
    assert done.returncode == 2
    assert f"--listen {listen!r}: expected HOST:PORT" in done.stderr


def test_an_address_in_use_is_named_without_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_flexvpp("broker", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert done.stderr.strip() == f"flexvpp broker: error: --listen 127.0.0.1:{port}: Address already in use"
