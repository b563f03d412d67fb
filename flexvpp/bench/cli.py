"""`flexvpp bench ...`: benchmarks that print their figures.

Each benchmark's command line lives in its own module with a `register(bench_subparsers)`
function (standard library only at import, heavy imports in the handler, so a VEN-only gateway
can list them all); add the module to BENCH_MODULES to add it.
"""

from __future__ import annotations

from typing import Any

from flexvpp.bench import load_cli, plan, portfolio, ven_cli, vtn_cli

# Modules that add `flexvpp bench <name>` subcommands, in --help order.
BENCH_MODULES = (vtn_cli, load_cli, ven_cli, plan, portfolio)


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="benchmarks that print figures",
        description="Benchmarks. Each one starts what it measures, prints its figures and cleans up.",
    )
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    for module in BENCH_MODULES:
        module.register(bench_sub)
