"""`flexvpp bench vtn`: our VTN against the stock openleadr server. Standard library only at import."""

from __future__ import annotations

import argparse
from typing import Any

from flexvpp.bench.args import positive_float, positive_int


def register(bench_subparsers: Any) -> None:
    vtn = bench_subparsers.add_parser(
        "vtn",
        help="oadrPoll throughput and p99 latency: our VTN vs the stock openleadr server",
        description="Start our VTN (`flexvpp vtn serve`) on a fresh PostgreSQL database (dropped "
        "afterwards) and a stock in-memory openleadr.OpenADRServer, register the same number of "
        "distinct VENs on each, drive both with oadrPoll for the same time, and print requests/s, "
        "p50/p99 latency and the ratio ours/stock.",
    )
    vtn.add_argument(
        "--vens", type=positive_int, default=1000, help="distinct registered VENs (default 1000)"
    )
    vtn.add_argument(
        "--seconds", type=positive_float, default=10.0, help="polling time per server (default 10)"
    )
    vtn.add_argument("--concurrency", type=positive_int, default=50, help="requests in flight (default 50)")
    vtn.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the benchmark database on (any existing database on it)",
    )
    vtn.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (path is printed)")
    vtn.set_defaults(handler=_bench_vtn)


def _bench_vtn(args: argparse.Namespace) -> int:
    import signal
    import sys

    from flexvpp.bench.servers import BenchFailed, BenchStopped, run_stoppable
    from flexvpp.bench.vtn import BenchOptions, format_result, run_bench

    options = BenchOptions(
        vens=args.vens,
        seconds=args.seconds,
        concurrency=args.concurrency,
        pg_url=args.pg_url,
        keep_logs=args.keep_logs,
    )
    try:
        result = run_stoppable(run_bench(options))
    except BenchFailed as exc:
        print(f"flexvpp bench vtn: error: {exc}", file=sys.stderr)
        return 1
    except BenchStopped as exc:
        print(f"flexvpp bench vtn: {exc}", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(format_result(result, options.seconds))
    return 0 if result.ours.errors == 0 and result.stock.errors == 0 else 1
