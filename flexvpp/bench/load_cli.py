"""`flexvpp bench load`: simulated VENs against the VTN on PostgreSQL. Standard library only at import."""

from __future__ import annotations

import argparse
from typing import Any

from flexvpp.bench.args import positive_float, positive_int


def register(bench_subparsers: Any) -> None:
    load = bench_subparsers.add_parser(
        "load",
        help="thousands of simulated VENs (poll + telemetry) against our VTN on PostgreSQL",
        description="Start our VTN on a fresh PostgreSQL database (dropped afterwards), provision and "
        "register N simulated VENs (many per process, real OpenADR 2.0b messages; with --tls over HTTPS "
        "with one client certificate per VEN), let each poll every --poll-s and send a TELEMETRY_USAGE "
        "value every --telemetry-s for --minutes, and print polls/s, p50/p99 latency, errors, report "
        "values sent versus stored, the VTN's CPU and memory and the machine's load average.",
    )
    load.add_argument("--vens", type=positive_int, default=5000, help="simulated VENs (default 5000)")
    load.add_argument("--minutes", type=positive_float, default=10.0, help="measurement window (default 10)")
    load.add_argument("--poll-s", type=positive_float, default=10.0, help="poll period per VEN (default 10)")
    load.add_argument(
        "--telemetry-s", type=positive_float, default=60.0, help="telemetry period per VEN (default 60)"
    )
    load.add_argument("--workers", type=positive_int, default=2, help="load-generating processes (default 2)")
    load.add_argument(
        "--vtn-workers",
        type=positive_int,
        default=None,
        help="VTN worker processes (`vtn serve --workers`; default: the CPU count)",
    )
    load.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the benchmark database on (any existing database on it)",
    )
    load.add_argument("--tls", action="store_true", help="HTTPS with mutual TLS, one certificate per VEN")
    load.add_argument("--keep-logs", action="store_true", help="keep the VTN's log (path is printed)")
    load.set_defaults(handler=_bench_load)


def _bench_load(args: argparse.Namespace) -> int:
    import logging
    import os
    import signal
    import sys

    from flexvpp.bench.load import LoadOptions, format_load, run_load
    from flexvpp.bench.servers import BenchFailed, BenchStopped, run_stoppable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = LoadOptions(
        vens=args.vens, minutes=args.minutes, poll_s=args.poll_s, telemetry_s=args.telemetry_s,
        pg_url=args.pg_url, tls=args.tls, workers=args.workers, keep_logs=args.keep_logs,
        vtn_workers=args.vtn_workers or os.cpu_count() or 1,
    )  # fmt: skip
    try:
        result = run_stoppable(run_load(options))
    except BenchFailed as exc:
        print(f"flexvpp bench load: error: {exc}", file=sys.stderr)
        return 1
    except BenchStopped as exc:
        print(f"flexvpp bench load: {exc}", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(format_load(result, options))
    return 0 if result.ok else 1
