"""The decomposition's pricing step: every home planned alone against portfolio multipliers.

A multiplier π_t [EUR per kW in slot t] is the price the coupling puts on the home's net import
g_t - e_t. It enters the home's own model as an extra imbalance price π_t/Δ [EUR/kWh] (the site
model already prices imbalance·(g - e)·Δ), so the per-home planner (flexmodel.fast: one reused
highspy object per process, only costs changed) solves exactly min cost + Σ_t π_t·(g_t - e_t)
under the home's own priorities. Nothing else of the home changes, which is what the array path
is built for.

Homes are sent to the workers once (a pool initializer, or scattered on a dask cluster); each
round only sends the multipliers. Three runners share one function, `price_range`:

    InProcessPricer   in this process (tests, small portfolios)
    PoolPricer        local worker processes (ProcessPoolExecutor, forkserver)
    DaskPricer        a dask.distributed cluster (`tcp://HOST:PORT` or a Client)
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.scenario import PlanStatus
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

IntArray = NDArray[np.int64]
GAP_FLOOR = 1e-6  # a MILP home's answer is trusted to this relative gap (the planner's GAP_OPTIMAL)
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class PricedBatch:
    """One round's answers for homes start..stop-1."""

    start: int
    net_kw: FloatArray  # shape (homes, n_slots): g - e of each home's answer
    cost_eur: FloatArray  # each answer's cost under the real prices (site total + imbalance share)
    priced_eur: FloatArray  # cost + Σ π·net: the value the home minimised
    lower_eur: FloatArray  # a proven lower bound on that minimum (MILP gap deducted)
    plans: list[SitePlan] | None  # the answers themselves, when asked for


def priced_problem(p: SiteProblem, multiplier_kw: FloatArray) -> SiteProblem:
    """The home with π/Δ added to its imbalance price (see the module docstring)."""
    if not multiplier_kw.any():
        return p
    return dataclasses.replace(p, imbalance_eur_per_kwh=p.imbalance_eur_per_kwh + multiplier_kw / p.dt_h)


def _lower(plan: SitePlan, value: float) -> float:
    gap = plan.gap if plan.gap is not None else (GAP_FLOOR if plan.needed_binaries else 0.0)
    if plan.status is PlanStatus.FEASIBLE and plan.gap is None:
        gap = max(gap, GAP_FLOOR)
    return value - gap * max(1.0, abs(value))


def price_range(
    problems: Sequence[SiteProblem],
    start: int,
    multipliers_kw: FloatArray,
    choice: IntArray,
    options: SolverOptions,
    want_plans: bool,
) -> PricedBatch:
    """Plan homes problems[0..] (global index start..) against multipliers_kw[choice[j]]."""
    from flexmodel.fast import process_planner

    planner = process_planner(options)
    k, n = len(problems), multipliers_kw.shape[1]
    net, cost, priced, lower = np.zeros((k, n)), np.zeros(k), np.zeros(k), np.zeros(k)
    plans: list[SitePlan] = []
    for j, p in enumerate(problems):
        pi = multipliers_kw[choice[j]]
        plan = planner.solve(priced_problem(p, pi))
        x = plan.flows.grid_import_kw - plan.flows.grid_export_kw
        net[j] = x
        cost[j] = plan.cost.total_eur + float(np.dot(p.imbalance_eur_per_kwh, x) * p.dt_h)
        priced[j] = cost[j] + float(np.dot(pi, x))
        lower[j] = _lower(plan, priced[j])
        if want_plans:
            # The plan as the home would report it under its real prices.
            plans.append(dataclasses.replace(plan, imbalance_eur=cost[j] - plan.cost.total_eur))
    return PricedBatch(start, net, cost, priced, lower, plans if want_plans else None)


class Pricer(Protocol):
    def price(self, multipliers_kw: FloatArray, choice: IntArray, want_plans: bool) -> list[PricedBatch]:
        """Every home planned against multipliers_kw[choice[home]], batches in home order."""

    def close(self) -> None: ...


class InProcessPricer:
    def __init__(self, problems: Sequence[SiteProblem], options: SolverOptions) -> None:
        self.problems, self.options = list(problems), options

    def price(self, multipliers_kw: FloatArray, choice: IntArray, want_plans: bool) -> list[PricedBatch]:
        return [price_range(self.problems, 0, multipliers_kw, choice, self.options, want_plans)]

    def close(self) -> None:
        return None


# ---- local worker processes: the homes live in each worker from its start
_WORKER_PROBLEMS: list[SiteProblem] = []


def _init_worker(problems: list[SiteProblem]) -> None:
    global _WORKER_PROBLEMS
    _WORKER_PROBLEMS = problems


def _price_slice(
    start: int, stop: int, multipliers_kw: FloatArray, choice: IntArray, options: SolverOptions, want: bool
) -> PricedBatch:
    return price_range(_WORKER_PROBLEMS[start:stop], start, multipliers_kw, choice, options, want)


def _bounds(n: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, math.ceil(n / (workers * CHUNKS_PER_WORKER)))
    return [(i, min(n, i + size)) for i in range(0, n, size)]


class PoolPricer:
    def __init__(self, problems: Sequence[SiteProblem], options: SolverOptions, workers: int) -> None:
        self.options = options
        self.ranges = _bounds(len(problems), workers)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["flexmodel.fast", "flexmodel.portfolio.pricing"])
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(list(problems),)
        )

    def price(self, multipliers_kw: FloatArray, choice: IntArray, want_plans: bool) -> list[PricedBatch]:
        futures = [
            self.pool.submit(_price_slice, a, b, multipliers_kw, choice[a:b], self.options, want_plans)
            for a, b in self.ranges
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskPricer:
    """The same rounds on a dask.distributed cluster; the homes are scattered once."""

    def __init__(self, problems: Sequence[SiteProblem], options: SolverOptions, client: Any) -> None:
        self.options, self.client = options, client
        threads = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        self.ranges = _bounds(len(problems), threads)
        self.chunks = [client.scatter(list(problems[a:b])) for a, b in self.ranges]

    def price(self, multipliers_kw: FloatArray, choice: IntArray, want_plans: bool) -> list[PricedBatch]:
        futures = [
            self.client.submit(
                price_range, chunk, a, multipliers_kw, choice[a:b], self.options, want_plans, pure=False
            )
            for chunk, (a, b) in zip(self.chunks, self.ranges, strict=True)
        ]
        return list(self.client.gather(futures))

    def close(self) -> None:
        self.client.cancel(self.chunks)
