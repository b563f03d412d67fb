"""`flexvpp bench plan`: plan a realistic portfolio and print how long it took and what it used.

Standard library only at import; the handler imports numpy, the planner and tqdm.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from flexvpp.bench.args import check_day, check_homes_and_workers, day_inputs, load_average, share

DEFAULT_DATE = "2025-05-11"  # Mother's Day 2025: Belgian day-ahead down to -462 EUR/MWh at noon


def register(bench_subparsers: Any) -> None:
    plan = bench_subparsers.add_parser(
        "plan",
        help="plan a generated portfolio of homes and print wall time, ms per home, binaries, memory",
        description="Generate a portfolio (96 quarter-hours; PV, battery, EV, capacity tariff) for one day, "
        "plan it with HiGHS (array path) and/or GLPK (Pyomo path), and print the figures. Prices, PV, "
        "household load and EV sessions come from --data DIR (the shared public data) or, without it, "
        "are generated in code.",
    )
    plan.add_argument("--homes", type=int, default=10_000, help="homes in the portfolio (default 10000)")
    plan.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    plan.add_argument("--solver", choices=["highs", "glpk", "both"], default="both")
    plan.add_argument("--date", default=DEFAULT_DATE, help=f"the day, YYYY-MM-DD (default {DEFAULT_DATE})")
    plan.add_argument("--data", type=Path, metavar="DIR", help="shared data directory (../shared/data)")
    plan.add_argument(
        "--glpk-homes",
        type=int,
        default=200,
        metavar="N",
        help="plan only the first N homes with GLPK and extrapolate (default 200; 0 = all)",
    )
    plan.add_argument("--seed", type=int, default=1, help="portfolio random seed (default 1)")
    plan.add_argument(
        "--heat-pumps",
        type=share,
        default=0.0,
        metavar="SHARE",
        help="share of the homes with a heat pump, 0..1 (default 0: the portfolio the planner's speed "
        "figures have always been measured on; 0.3 for issue 15's mix)",
    )
    plan.add_argument(
        "--appliances",
        type=share,
        default=0.0,
        metavar="SHARE",
        help="share of the homes with shiftable appliances, 0..1 (default 0; 0.5 for issue 15's mix)",
    )
    plan.add_argument(
        "--stacked-lp-homes",
        type=int,
        default=0,
        metavar="N",
        help="also build and solve the LP relaxations of the first N homes as one HiGHS LP, in this process "
        "(the stacked-LP floor; default 0 = off)",
    )
    plan.set_defaults(handler=_bench_plan)


def _check(args: argparse.Namespace) -> date:
    from flexmodel.usage_error import UsageError

    check_homes_and_workers(args)
    if args.glpk_homes < 0:
        raise UsageError(f"--glpk-homes: {args.glpk_homes} must be 0 (all) or more")
    if args.stacked_lp_homes < 0:
        raise UsageError(f"--stacked-lp-homes: {args.stacked_lp_homes} must be 0 (off) or more")
    return check_day(args)


class _MemorySampler:
    """Peak resident memory [MB] of this process plus all its descendants, sampled in a thread.

    The pool's workers are children of the fork server, not of this process, so
    getrusage(RUSAGE_CHILDREN) does not see them; psutil walks the whole process tree.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        import threading

        self.peak_mb = 0.0
        self._cpu_s: dict[int, float] = {}  # per descendant process: CPU seconds last seen
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def _sample(self) -> float:
        import psutil

        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
                times = child.cpu_times()
                self._cpu_s[child.pid] = times.user + times.system
            except psutil.Error:
                continue  # ended between listing and reading
        return float(total) / 2**20

    @property
    def worker_cpu_s(self) -> float:
        """CPU seconds the worker processes used (as last sampled): independent of other load."""
        return sum(self._cpu_s.values())

    def _run(self) -> None:
        try:
            import psutil  # noqa: F401  (in the dev extra; without it, only getrusage is printed)
        except ImportError:
            return
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._sample())
            self._stop.wait(self._interval_s)

    def __enter__(self) -> _MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _rusage_mb() -> tuple[float, float]:
    """Peak RSS [MB] of this process and of its largest waited-for child (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return own, child


def _portfolio(args: argparse.Namespace, day: date) -> tuple[list[Any], str, float]:
    from flexmodel.problem import prepare_sites
    from flexmodel.scenario import parse_scenario
    from flexvpp.bench.homes import make_portfolio

    started = time.perf_counter()
    inputs = day_inputs(args, day)
    document = make_portfolio(
        inputs, args.homes, seed=args.seed, heat_pump_share=args.heat_pumps, appliance_share=args.appliances
    )
    scenario = parse_scenario(document)
    problems = prepare_sites(scenario)
    prices = inputs.day_ahead_eur_per_kwh * 1000.0
    with_hp = sum(1 for p in problems if p.heat_pump is not None)
    with_apps = sum(1 for p in problems if p.appliances)
    about = (
        f"{args.homes} homes on {day.isoformat()} from {inputs.source}; day-ahead "
        f"{prices.min():.1f} .. {prices.max():.1f} EUR/MWh, {int((prices < 0).sum())} negative quarter-hours;"
        f" {with_hp} with a heat pump, {with_apps} with shiftable appliances"
    )
    return problems, about, time.perf_counter() - started


def _run(problems: list[Any], solver: str, workers: int) -> tuple[list[Any], float]:
    from tqdm import tqdm

    from flexmodel.parallel import plan_sites
    from flexmodel.solve import SolverOptions

    started = time.perf_counter()
    with tqdm(total=len(problems), desc=solver, unit="home", file=sys.stderr, mininterval=0.5) as bar:
        plans = plan_sites(problems, SolverOptions(solver=solver), workers=workers, progress=bar.update)
    return plans, time.perf_counter() - started


def _report(label: str, plans: list[Any], wall_s: float, homes_total: int) -> None:
    n = len(plans)
    binaries = sum(1 for p in plans if p.needed_binaries)
    best_effort = sum(1 for p in plans if str(p.status) == "best_effort")
    objective = sum(p.objective_eur for p in plans)
    print(f"{label}: planned {n} homes in {wall_s:.2f} s wall = {wall_s / n * 1000:.2f} ms per home")
    if n < homes_total:
        print(
            f"{label}: EXTRAPOLATED to {homes_total} homes: {wall_s / n * homes_total:.1f} s "
            f"(measured on the first {n} homes only)"
        )
    print(f"{label}: homes that needed binaries: {binaries} of {n} = {100.0 * binaries / n:.1f} %")
    print(f"{label}: best_effort homes: {best_effort}; sum of objectives {objective:.4f} EUR")
    _report_split(label, plans)


def _report_split(label: str, plans: list[Any]) -> None:
    """Where the workers' time went: homes solved as LPs against homes that needed a MILP (each
    plan's own solve time, wall clock in its worker: under load it includes waiting for a core)."""
    lp_s = sum(p.solve_seconds for p in plans if not p.needed_binaries)
    milp = [p.solve_seconds for p in plans if p.needed_binaries]
    total = lp_s + sum(milp)
    if total <= 0.0:
        return
    n_lp = len(plans) - len(milp)
    lp_ms = 1000 * lp_s / max(1, n_lp)
    milp_s = sum(milp)
    milp_ms = 1000 * milp_s / max(1, len(milp))
    print(
        f"{label}: solve time in the workers: LP homes {lp_s:.1f} s ({lp_ms:.2f} ms a home), "
        f"binary homes {milp_s:.1f} s ({milp_ms:.1f} ms a home, {100 * milp_s / total:.0f} % of the total)"
    )


def _bench_plan(args: argparse.Namespace) -> int:
    day = _check(args)
    print(f"machine: {os.cpu_count()} CPUs, load average before the run {load_average()}")
    problems, about, prepare_s = _portfolio(args, day)
    print(f"portfolio: {about}")
    print(f"portfolio: generated, validated and prepared in {prepare_s:.2f} s (not in the times below)")
    print(f"workers: {args.workers}")
    highs_plans = None
    if args.solver in ("highs", "both"):
        with _MemorySampler() as memory:
            highs_plans, wall = _run(problems, "highs", args.workers)
        _report("highs (array path)", highs_plans, wall, len(problems))
        _report_resources("highs (array path)", memory, len(highs_plans))
    if args.solver in ("glpk", "both"):
        subset = problems if args.glpk_homes == 0 else problems[: args.glpk_homes]
        with _MemorySampler() as memory:
            glpk_plans, wall = _run(subset, "glpk", args.workers)
        _report("glpk (Pyomo path)", glpk_plans, wall, len(problems))
        _report_resources("glpk (Pyomo path)", memory, len(glpk_plans))
        if highs_plans is not None:
            _compare(glpk_plans, highs_plans)
    if args.stacked_lp_homes:
        _report_stacked(problems[: args.stacked_lp_homes], len(problems))
    own, child = _rusage_mb()
    print(f"getrusage peak RSS: this process {own:.0f} MB, largest waited-for child {child:.0f} MB")
    print(f"load average after the run: {load_average()}")
    return 0


def _report_resources(label: str, memory: _MemorySampler, homes: int) -> None:
    if memory.peak_mb == 0.0:
        print(f"{label}: peak memory of the workers unknown (install psutil)")
        return
    print(f"{label}: peak memory, this process and its workers together: {memory.peak_mb:.0f} MB")
    if memory.worker_cpu_s > 0.0:
        cpu = memory.worker_cpu_s
        per_home_ms = cpu / homes * 1000
        print(
            f"{label}: worker CPU time {cpu:.1f} s = {per_home_ms:.2f} ms CPU per home (independent of load)"
        )


def _report_stacked(problems: list[Any], homes_total: int) -> None:
    from flexvpp.bench.stacked import stacked_floor

    floor = stacked_floor(problems)
    seconds = floor.build_s + floor.solve_s
    print(
        f"stacked-LP floor: {floor.homes} homes as one LP ({floor.columns} columns, {floor.rows} rows), "
        f"one process: built in {floor.build_s:.2f} s, solved in {floor.solve_s:.2f} s = "
        f"{1000 * seconds / floor.homes:.2f} ms per home; weighted objective {floor.objective_eur:.4f} EUR"
    )
    if floor.homes < homes_total:
        scaled_s = seconds / floor.homes * homes_total
        print(
            f"stacked-LP floor: at that rate {homes_total} homes would take {scaled_s:.1f} s "
            "in one process (a lower bound: the simplex grows faster than linearly with the LP)"
        )


def _compare(glpk_plans: list[Any], highs_plans: list[Any]) -> None:
    worst = max(
        abs(g.objective_eur - h.objective_eur) / max(1.0, abs(h.objective_eur))
        for g, h in zip(glpk_plans, highs_plans, strict=False)
    )
    print(f"glpk vs highs: largest relative objective difference {worst:.2e} on {len(glpk_plans)} homes")
