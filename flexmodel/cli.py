"""Subcommand `plan`: plan a scenario document. Standard library only at import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PROGRESS_MIN_SITES = 50  # show a progress bar on stderr from this many sites


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
    plan.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    plan.add_argument("--cluster", metavar="ADDR", help="dask.distributed scheduler, tcp://HOST:PORT")
    plan.add_argument(
        "--portfolio-method",
        choices=["auto", "joint", "decomposition"],
        default="auto",
        help="with portfolio caps/floors: exact joint model, column generation, or by size (default auto)",
    )
    plan.set_defaults(handler=_plan)


def _progress_bar(n_sites: int) -> Any:
    """A tqdm bar on stderr for many sites, else None."""
    if n_sites < PROGRESS_MIN_SITES:
        return None
    from tqdm import tqdm

    return tqdm(total=n_sites, desc="planning", unit="site", file=sys.stderr)


def _runner(args: argparse.Namespace, n_sites: int) -> Any:
    """The in-process runner (the Pyomo model, site by site) or the parallel one (flexmodel.parallel)."""

    def run(problems: list[Any], options: Any) -> list[Any]:
        bar = _progress_bar(n_sites)
        try:
            if args.workers > 1 or args.cluster:
                from flexmodel.parallel import plan_sites

                progress = bar.update if bar is not None else None
                return list(
                    plan_sites(
                        problems, options, workers=args.workers, cluster=args.cluster, progress=progress
                    )
                )
            from flexmodel.planner import solve_site

            plans = []
            for problem in problems:
                plans.append(solve_site(problem, options))
                if bar is not None:
                    bar.update(1)
            return plans
        finally:
            if bar is not None:
                bar.close()

    return run


def _plan(args: argparse.Namespace) -> int:
    from flexmodel.usage_error import UsageError

    if args.workers < 1:
        raise UsageError(f"--workers: {args.workers} must be at least 1")
    try:
        text = args.scenario.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.scenario}: {exc.strerror or exc}") from None

    from flexmodel.planner import plan_scenario
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
    options = SolverOptions(solver=args.solver)
    plan = plan_scenario(
        scenario,
        options,
        runner=_runner(args, len(scenario.sites)),
        workers=args.workers,
        cluster=args.cluster,
        portfolio_method=args.portfolio_method,
    )
    out = plan.to_json()
    if args.output is not None:
        args.output.write_text(out + "\n", encoding="utf-8")
    else:
        print(out)
    if plan.status is PlanStatus.ERROR:
        print(f"flexvpp plan: {plan.message}", file=sys.stderr)
        return 1
    return 0
