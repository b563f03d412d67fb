"""`flexvpp bench ven`. Standard library only at import."""

from __future__ import annotations

import argparse
from typing import Any


def register(bench_subparsers: Any) -> None:
    ven = bench_subparsers.add_parser(
        "ven",
        help="simulated homes (agent + devices) against one VTN: CPU and memory per home",
        description="Start Mosquitto, a VTN and N simulated homes, each with its agent; after registration "
        "measure CPU and memory over a window and print the figures per home and the estimated capacity.",
    )
    ven.add_argument("--homes", type=int, default=20, help="homes to run (default 20)")
    ven.add_argument(
        "--homes-per-process", type=int, default=25, help="homes per worker process (default 25)"
    )
    ven.add_argument("--seconds", type=float, default=120.0, help="measurement window (default 120)")
    ven.add_argument(
        "--warmup-s", type=float, default=120.0, help="longest wait for registration (default 120)"
    )
    ven.add_argument("--telemetry-s", type=float, default=60.0, help="device telemetry period (default 60)")
    ven.add_argument("--broker", help="use this broker instead of starting a private Mosquitto")
    ven.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from flexmodel.usage_error import UsageError

    if args.homes < 1 or args.homes_per_process < 1 or args.seconds <= 0 or args.telemetry_s <= 0:
        raise UsageError("--homes, --homes-per-process, --seconds and --telemetry-s must be positive")
    from flexvpp.bench.ven import run_bench

    return run_bench(args)
