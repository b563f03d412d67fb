"""`flexvpp broker`: an embedded MQTT broker (flexvpp/broker.py). Standard library only at import."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    broker = subparsers.add_parser(
        "broker",
        help="serve an embedded MQTT broker (amqtt) where no Mosquitto is installed",
        description="Serve MQTT 3.1.1 (retained messages, QoS 0-2, wills; anonymous clients, nothing kept "
        "on disk) until SIGTERM or Ctrl-C. For a demo or a test machine with Python alone; run Mosquitto "
        "in production.",
    )
    broker.add_argument(
        "--listen",
        default="127.0.0.1:1883",
        metavar="HOST:PORT",
        help="where to listen (default 127.0.0.1:1883)",
    )
    broker.set_defaults(handler=_broker)


def _broker(args: argparse.Namespace) -> int:
    from flexvpp.cli import UsageError

    host, _, port_text = args.listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen {args.listen!r}: expected HOST:PORT with a port from 1 to 65535")
    try:
        import amqtt  # noqa: F401
    except ModuleNotFoundError:
        raise UsageError("the embedded broker needs amqtt: pip install 'flexvpp[server]'") from None
    from flexvpp.broker import run

    try:
        return run(host, int(port_text))
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
