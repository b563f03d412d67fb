"""`flexvpp bench ...`: benchmarks that print their figures.

Each benchmark lives in its own module with a `register(bench_subparsers)` function (standard
library only at import, heavy imports in the handler); list the module in BENCH_MODULES to add it.
"""

from __future__ import annotations

import importlib
from typing import Any

# Modules that add `flexvpp bench <name>` subcommands, in --help order.
BENCH_MODULES = (
    "vtn.bench_cli",
    "vtn.loadbench_cli",
    "ven.bench_cli",
    "flexvpp.bench_plan",
    "flexvpp.bench_portfolio",
)


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="benchmarks that print figures",
        description="Benchmarks. Each one starts what it measures, prints its figures and cleans up.",
    )
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    for module_name in BENCH_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A package that is not installed (e.g. a VEN-only gateway) adds no benchmarks.
            if exc.name not in (module_name, module_name.split(".")[0]):
                raise
            continue
        module.register(bench_sub)
