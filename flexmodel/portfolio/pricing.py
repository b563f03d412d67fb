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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from flexmodel.cluster import connect, thread_count
from flexmodel.fast import process_planner
from flexmodel.parent_watch import exit_with_parent
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.scenario import PlanStatus
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

IntArray = NDArray[np.int64]
GAP_FLOOR = 1e-6  # a MILP home's answer is trusted to this relative gap (the planner's GAP_OPTIMAL)
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class PricedBatch:
    """One round's answers for homes start..stop-1; the new columns come back whole."""

    start: int
    priced_eur: FloatArray  # per home: cost + Σ π·net, the value the home minimised
    lower_eur: FloatArray  # per home: a proven lower bound on that minimum (MILP gap deducted)
    new_homes: IntArray  # global indices of the homes whose answer prices out (a new column)
    new_net_kw: FloatArray  # shape (len(new_homes), n_slots): their g - e
    new_cost_eur: FloatArray  # their cost under the real prices (site total + imbalance share)
    new_plans: list[SitePlan]  # their answers, as they would be reported under the real prices


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


def fixed_where_coupled(p: SiteProblem, coupled: NDArray[np.bool_]) -> bool:
    """True when the home's net import in the coupled slots is the same in every plan: no
    battery, no smart or solar EV that may charge there, no curtailable PV producing there.
    Then π·net is a constant of the home, its answer never changes, and it need not be priced
    again: min_x (cost + π·net) = min_x cost + π·net."""
    if p.battery is not None or p.heat_pump is not None or p.appliances:
        return False
    if any((ev.charge_mask & coupled).any() for ev in p.optimised_evs):
        return False
    return not (p.pv_curtailable and bool((p.pv_kw[coupled] > 0.0).any()))


def reduced_cost_tolerance(priced_eur: float) -> float:
    """A column enters the master only when it improves on it by more than solver noise."""
    return 1e-9 * max(1.0, abs(priced_eur))


def price_range(
    problems: Sequence[SiteProblem],
    start: int,
    multipliers_kw: FloatArray,
    convexity_dual_eur: FloatArray | None,
    options: SolverOptions,
    skip: NDArray[np.bool_] | None = None,
    test_multipliers_kw: FloatArray | None = None,
) -> PricedBatch:
    """Plan homes start.. against the multipliers; keep the answers whose reduced cost
    (priced - the home's convexity dual) is negative, or every answer when no duals are given.
    Homes marked in `skip` are not planned (their priced and lower values are NaN). The reduced
    cost is taken at `test_multipliers_kw` (the master's own) when given: the homes are then
    planned at a smoothed point but a column enters only if it improves the master."""
    planner = process_planner(options)
    k = len(problems)
    priced, lower = np.zeros(k), np.zeros(k)
    new: list[int] = []
    nets: list[FloatArray] = []
    costs: list[float] = []
    plans: list[SitePlan] = []
    for j, p in enumerate(problems):
        if skip is not None and skip[j]:
            priced[j] = lower[j] = np.nan
            continue
        plan = planner.solve(priced_problem(p, multipliers_kw))
        x = plan.flows.net_import_kw
        cost = plan.cost.total_eur + float(np.dot(p.imbalance_eur_per_kwh, x) * p.dt_h)
        priced[j] = cost + float(np.dot(multipliers_kw, x))
        lower[j] = _lower(plan, priced[j])
        test = priced[j] if test_multipliers_kw is None else cost + float(np.dot(test_multipliers_kw, x))
        if convexity_dual_eur is None or test - convexity_dual_eur[j] < -reduced_cost_tolerance(test):
            new.append(start + j)
            nets.append(x)
            costs.append(cost)
            plans.append(dataclasses.replace(plan, imbalance_eur=cost - plan.cost.total_eur))
    n = len(multipliers_kw)
    return PricedBatch(
        start,
        priced,
        lower,
        np.array(new, dtype=np.int64),
        np.array(nets) if nets else np.zeros((0, n)),
        np.array(costs),
        plans,
    )


class Pricer(Protocol):
    def price(
        self,
        multipliers_kw: FloatArray,
        convexity_dual_eur: FloatArray | None,
        skip: NDArray[np.bool_] | None,
        test_multipliers_kw: FloatArray | None = None,
    ) -> list[PricedBatch]:
        """Every home but the skipped ones planned against the multipliers, in home order."""

    def close(self) -> None: ...


class InProcessPricer:
    def __init__(self, problems: Sequence[SiteProblem], options: SolverOptions) -> None:
        self.problems, self.options = list(problems), options

    def price(
        self,
        multipliers_kw: FloatArray,
        convexity_dual_eur: FloatArray | None,
        skip: NDArray[np.bool_] | None,
        test_multipliers_kw: FloatArray | None = None,
    ) -> list[PricedBatch]:
        return [
            price_range(
                self.problems, 0, multipliers_kw, convexity_dual_eur, self.options, skip, test_multipliers_kw
            )
        ]

    def close(self) -> None:
        return None


# ---- local worker processes: the homes live in each worker from its start
_WORKER_PROBLEMS: list[SiteProblem] = []


def _init_worker(problems: list[SiteProblem], owner_pid: int) -> None:
    global _WORKER_PROBLEMS
    exit_with_parent(owner_pid)
    _WORKER_PROBLEMS = problems


def _price_slice(
    start: int,
    stop: int,
    multipliers_kw: FloatArray,
    convexity_dual_eur: FloatArray | None,
    options: SolverOptions,
    skip: NDArray[np.bool_] | None,
    test_multipliers_kw: FloatArray | None,
) -> PricedBatch:
    problems = _WORKER_PROBLEMS[start:stop]
    return price_range(
        problems, start, multipliers_kw, convexity_dual_eur, options, skip, test_multipliers_kw
    )


def _part(values: Any, a: int, b: int) -> Any:
    """values[a:b], or None for None (a slice of a per-home array for one chunk)."""
    return None if values is None else values[a:b]


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
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(list(problems), os.getpid()),
        )

    def price(
        self,
        multipliers_kw: FloatArray,
        convexity_dual_eur: FloatArray | None,
        skip: NDArray[np.bool_] | None,
        test_multipliers_kw: FloatArray | None = None,
    ) -> list[PricedBatch]:
        futures = [
            self.pool.submit(
                _price_slice,
                a,
                b,
                multipliers_kw,
                _part(convexity_dual_eur, a, b),
                self.options,
                _part(skip, a, b),
                test_multipliers_kw,
            )
            for a, b in self.ranges
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskPricer:
    """The same rounds on a dask.distributed cluster; the homes are scattered once."""

    def __init__(
        self, problems: Sequence[SiteProblem], options: SolverOptions, client: Any, owns_client: bool = False
    ) -> None:
        self.options, self.client, self.owns_client = options, client, owns_client
        self.ranges = _bounds(len(problems), thread_count(client))
        self.chunks = [client.scatter(list(problems[a:b])) for a, b in self.ranges]

    def price(
        self,
        multipliers_kw: FloatArray,
        convexity_dual_eur: FloatArray | None,
        skip: NDArray[np.bool_] | None,
        test_multipliers_kw: FloatArray | None = None,
    ) -> list[PricedBatch]:
        futures = [
            self.client.submit(
                price_range,
                chunk,
                a,
                multipliers_kw,
                _part(convexity_dual_eur, a, b),
                self.options,
                _part(skip, a, b),
                test_multipliers_kw,
                pure=False,
            )
            for chunk, (a, b) in zip(self.chunks, self.ranges, strict=True)
        ]
        return list(self.client.gather(futures))

    def close(self) -> None:
        self.client.cancel(self.chunks)
        if self.owns_client:  # a client opened for this plan from an address
            self.client.close()


def make_pricer(
    problems: Sequence[SiteProblem],
    options: SolverOptions,
    workers: int = 1,
    cluster: str | Any | None = None,
) -> Pricer:
    """In-process, local worker processes, or a dask cluster (an address or a Client)."""
    if isinstance(cluster, str):
        return DaskPricer(problems, options, connect(cluster), owns_client=True)
    if cluster is not None:
        return DaskPricer(problems, options, cluster)
    if workers > 1:
        return PoolPricer(problems, options, workers)
    return InProcessPricer(problems, options)
