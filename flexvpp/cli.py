"""The `flexvpp` command line.

Each package contributes its subcommands through a `register(subparsers)` function in its
own `cli` module. Those modules import only the standard library at module level, so a home
gateway with `flexvpp[ven]` can run `flexvpp ven ...` without the server's dependencies;
heavy imports happen inside the command handlers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

# UsageError lives in flexmodel so product packages can raise it without importing flexvpp.
from flexmodel.usage_error import CommandFailed as CommandFailed
from flexmodel.usage_error import UsageError as UsageError
from flexvpp import __version__

Handler = Callable[[argparse.Namespace], int]

# Modules that add subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "vtn.cli",
    "ven.cli",
    "flexvpp.plan_cli",
    "aggregator.cli",
    "flexvpp.bench.cli",
    "flexvpp.demo_cli",
    "flexvpp.broker_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flexvpp",
        description="flexvpp: a demand-response flexibility aggregator (OpenADR 2.0b VTN and VEN, "
        "per-home and portfolio planning).",
    )
    parser.add_argument("--version", action="version", version=f"flexvpp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A package that is not installed (or has no CLI yet) adds no commands.
            if exc.name not in (module_name, module_name.split(".")[0]):
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except UsageError as exc:
        print(f"flexvpp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"flexvpp {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
