"""Subcommand `plan`: plan a scenario document. Standard library only at import.

By default the homes are planned on every core this process may use, HiGHS on the array path
(flexmodel.planner picks the formulation). A scenario with few homes stays in this process:
starting worker processes costs more than planning them (see `default_workers`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from flexmodel.usage_error import UsageError

PROGRESS_MIN_SITES = 50  # show a progress bar on stderr from this many sites
# Homes per worker process below which another process does not pay: starting the pool (the fork
# server imports the planner: Pyomo, highspy, scipy) costs seconds, and the array path plans a
# home in 2-20 ms of CPU (the most on days of negative prices, where a quarter of the homes need
# a MILP). Measured on 2025-05-11's homes, 2 cores under load 3-5: 500 homes 9.0 s in one process
# vs 11.4 s on 2 workers; 1000 homes 15.2 s vs 10.4 s.
MIN_HOMES_PER_WORKER = 500


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(n_sites: int) -> int:
    """Every core, but no more processes than the homes keep busy (1: plan in this process)."""
    return max(1, min(available_cores(), math.ceil(n_sites / MIN_HOMES_PER_WORKER)))


def register(subparsers: Any) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="plan a scenario (plan-format JSON) and print the plan",
        description="Plan every site of SCENARIO.json exactly (per the plan-format spec) and write the "
        "plan JSON to stdout or -o FILE. Exit 0 with a plan, 1 when the plan's status is error, 2 "
        "with every validation message when the scenario is malformed.",
    )
    plan.add_argument("scenario", type=Path, metavar="SCENARIO.json", help="the scenario document")
    plan.add_argument("-o", "--output", type=Path, metavar="PLAN.json", help="write the plan here")
    plan.add_argument("--solver", choices=["highs", "glpk"], default="highs", help="LP/MILP solver")
    plan.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: one per usable core, fewer for a small scenario)",
    )
    plan.add_argument("--cluster", metavar="ADDR", help="dask.distributed scheduler, tcp://HOST:PORT")
    plan.add_argument(
        "--portfolio-method",
        choices=["auto", "joint", "decomposition", "coordination"],
        default="auto",
        help="with portfolio caps/floors: exact joint model, column generation, price coordination, "
        "or joint/column generation by size (default auto)",
    )
    plan.set_defaults(handler=_plan)


def _progress_bar(n_sites: int) -> Any:
    """A tqdm bar on stderr for many sites, else None."""
    if n_sites < PROGRESS_MIN_SITES:
        return None
    from tqdm import tqdm

    return tqdm(total=n_sites, desc="planning", unit="site", file=sys.stderr)


def _plan(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: {args.workers} must be at least 1")
    try:
        text = args.scenario.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.scenario}: {exc.strerror or exc}") from None
    # Checked before planning, which may take minutes, rather than failing when the plan is ready.
    if args.output is not None and not args.output.parent.is_dir():
        raise UsageError(f"-o {args.output}: no such directory {args.output.parent}")
    if args.output is not None and args.output.is_dir():
        raise UsageError(f"-o {args.output}: is a directory; give a file name")

    from flexmodel.planner import Method, plan_scenario
    from flexmodel.scenario import PlanStatus, ScenarioInvalid, parse_scenario
    from flexmodel.solve import SolverOptions

    try:
        scenario = parse_scenario(text)
    except ScenarioInvalid as exc:
        print(
            f"flexvpp plan: {args.scenario}: invalid scenario ({len(exc.messages)} problems):",
            file=sys.stderr,
        )
        for message in exc.messages:
            print(f"  {message}", file=sys.stderr)
        return 2
    n_sites = len(scenario.sites)
    bar = _progress_bar(n_sites)
    try:
        planned = plan_scenario(
            scenario,
            SolverOptions(solver=args.solver),
            method=Method(args.portfolio_method),
            workers=args.workers or default_workers(n_sites),
            cluster=args.cluster,
            progress=bar.update if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()
    out = planned.plan.to_json()
    if args.output is not None:
        try:
            args.output.write_text(out + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"flexvpp plan: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    else:
        print(out)
    if planned.plan.status is PlanStatus.ERROR:
        print(f"flexvpp plan: {planned.plan.message}", file=sys.stderr)
        return 1
    return 0
