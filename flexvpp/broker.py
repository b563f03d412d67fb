"""An embedded MQTT broker for a machine with Python alone (`flexvpp broker`; the demo's broker
when no `mosquitto` binary is on the PATH).

amqtt is the maintained pure-Python MQTT 3.1.1 broker on PyPI: retained messages, QoS 0-2 and
last wills, which is what the device bus (../shared/spec/mqtt-devices.md) and the agents use.
Mosquitto stays the broker for production and is preferred by the demo when it is installed:
it is faster and it is what a home gateway runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from typing import Any

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, Any]:
    """One plain TCP listener, anonymous clients, nothing kept on disk (as the demo's Mosquitto)."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    """Serve MQTT on host:port until `stop` is set."""
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    log.warning("embedded MQTT broker (amqtt) listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def check_free(host: str, port: int) -> None:
    """Raise OSError naming the address when it cannot be bound (in use, no such interface): amqtt
    would log a traceback for it before failing."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def run(host: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT; 0 on a clean stop. OSError when host:port cannot be bound."""
    check_free(host, port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop.set)
        await serve(host, port, stop)

    asyncio.run(main())
    return 0
