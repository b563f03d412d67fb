"""`flexvpp demo`: the closed loop end to end on embedded defaults. Standard library only at import."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole loop on one machine: VTN, broker, simulated homes, one day, a report",
        description="Start a private MQTT broker (Mosquitto if installed, else the embedded one), the VTN "
        "on SQLite and N simulated homes with their agents; "
        "simulate one day on an accelerated clock with day-ahead prices, an evening DR cap and an "
        "imbalance signal; print a summary and write an HTML report. Exit 1, saying why on stderr, when no "
        "planning run succeeds or the VTN logs an error.",
    )
    demo.add_argument("--homes", type=int, default=20, help="simulated homes (default 20)")
    demo.add_argument(
        "--out", type=Path, default=Path("flexvpp-demo"), help="report folder (default ./flexvpp-demo)"
    )
    demo.add_argument("--prices", type=Path, help="day-ahead prices: JSON (PUT /api/v1/prices body) or CSV")
    demo.add_argument(
        "--pv", type=Path, help="PV output per kW peak by quarter hour of the day (CSV or JSON)"
    )
    demo.add_argument(
        "--speed", type=float, default=900.0, help="simulated seconds per real second (default 900)"
    )
    demo.add_argument("--broker", help="use this MQTT broker (mqtt://host:port) instead of a private one")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from flexvpp.cli import UsageError

    if not 1 <= args.homes <= 200:
        raise UsageError(f"--homes {args.homes}: must be between 1 and 200")
    if not 10 <= args.speed <= 5000:
        raise UsageError(f"--speed {args.speed}: must be between 10 and 5000")
    for name in ("prices", "pv"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise UsageError(f"--{name} {path}: no such file")
    from flexvpp.demo import Demo, run_demo
    from flexvpp.demo_data import DemoInputError, read_prices, read_pv_shape

    try:  # a bad file is reported before anything starts
        if args.pv is not None:
            read_pv_shape(args.pv)
        if args.prices is not None:
            from datetime import UTC, datetime

            read_prices(args.prices, datetime.now(UTC), 96)
    except DemoInputError as exc:
        raise UsageError(str(exc)) from None
    return run_demo(Demo(args.homes, args.out, args.speed, args.prices, args.pv, args.broker))
