"""A large portfolio planned by Dantzig-Wolfe column generation, with a proven optimality gap.

Why this method: the coupling (caps and floors on Σ_sites net import) touches each home only
through its net import profile, and the per-home planner is fastest when only costs change
(flexmodel.fast reuses one highspy object per process). Column generation asks exactly that of
the homes: each round plans every home alone with the portfolio's multipliers π_t added to its
price of net import (flexmodel.portfolio.pricing), in parallel in worker processes or on a dask
cluster. It also gives, from the same rounds, the two numbers a proven gap needs:

- a lower bound (Lagrangian dual): for any π from the master's duals (π >= 0 on caps, <= 0 on
  floors), Σ_homes min_x (cost_i + π·net_i) - Σ π·cap_t (+ floors) is below the cost of every
  plan that respects the caps and floors, whatever the homes' binaries (weak duality); the
  homes' minima are exact (the planner's MILP gap, when a home needed binaries, is deducted);
- a primal plan: the restricted master LP (master.py) mixes the plans found so far per home.
  A basic solution of it is a single plan for all but at most as many homes as there are
  coupled slots; those homes are fixed to that plan, and the few mixed ones are re-planned
  together by the exact joint model (joint.py) around the others' fixed net import. The result
  is a real plan (no mixtures, exclusivity kept), checked against the caps and floors.

gap = (primal - best bound) / |primal|, reported with status `feasible` (or `optimal` when
below 1e-6). ADMM was not chosen: it converges slowly to a primal that is only approximately
feasible and has no bound of its own; a pure subgradient method has the bound but no primal.

Priorities: each home's answer keeps its own higher levels (limits, smart-EV shortfall, solar-EV
energy) at their best, which is what the spec's order asks as long as the caps and floors can be
met that way (the common case: evening caps bind when there is no PV surplus). When they cannot,
the master's violation slacks (priced far above any cost) minimise the violation over the plans
found, the plan says `best_effort` with the violation, and no gap is claimed for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexmodel.errors import PlanningError, SolveFailed
from flexmodel.portfolio.joint import _price_scale, solve_joint
from flexmodel.portfolio.master import IntArray, MasterLp, MasterSolution
from flexmodel.portfolio.pricing import Pricer, fixed_where_coupled, make_pricer
from flexmodel.portfolio.result import net_import_kw, objective_eur, portfolio_violations
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)

MAX_JOINT_HOMES = 400  # more mixed homes than this: the coordination step plans them in groups


@dataclass(frozen=True, slots=True)
class DecompositionOptions:
    target_gap: float = 0.002  # stop when (master - bound)/|master| is below this
    max_iterations: int = 60
    time_limit_s: float | None = None
    smoothing: float = 0.5  # Wentges alpha: price at alpha·(best-bound duals) + (1-alpha)·(master duals)


@dataclass(frozen=True, slots=True)
class DecompositionResult:
    plans: list[SitePlan]
    primal_eur: float
    bound_eur: float
    gap: float | None  # None when the plan is best effort (no bound is claimed then)
    iterations: int
    columns: int
    mixed_homes: int
    fixed_homes: int  # homes whose net import in the coupled slots cannot change (priced once)
    violation_kwh: float
    seconds: float


Progress = Callable[[int, float, float], None]  # iteration, master value, best bound


def _nomination_constant(portfolio: PortfolioProblem) -> float:
    return -float(np.dot(portfolio.imbalance_eur_per_kwh, portfolio.nominated_net_kw) * portfolio.dt_h)


class ColumnGeneration:
    """The loop of the module docstring; `run()` returns the plan."""

    def __init__(
        self,
        problems: list[SiteProblem],
        portfolio: PortfolioProblem,
        pricer: Pricer,
        options: SolverOptions,
        dw: DecompositionOptions,
    ) -> None:
        self.problems, self.portfolio, self.pricer = problems, portfolio, pricer
        self.options, self.dw = options, dw
        self.penalty = 1e2 * _price_scale(problems)
        self.master = MasterLp(portfolio, len(problems), self.penalty)
        self.plans: list[SitePlan] = []  # one per master column (after the slacks), in order
        self.best_bound = -np.inf
        self.constant = _nomination_constant(portfolio)
        coupled = np.isfinite(portfolio.net_import_cap_kw) | np.isfinite(portfolio.net_import_floor_kw)
        self.fixed = np.array([fixed_where_coupled(p, coupled) for p in problems], dtype=bool)
        self.fixed_net: FloatArray = np.zeros((0, portfolio.n_slots))
        self.fixed_lower: FloatArray = np.zeros(0)
        self.round0_lower: FloatArray = np.zeros(len(problems))

    def _round(self, y: FloatArray, sol: MasterSolution | None) -> tuple[float, int]:
        """Price every home at the duals y; add the columns that improve the master (reduced
        cost at the master's own duals); return (the Lagrangian bound at y, columns added)."""
        pi = self.master.multipliers(y)
        duals = sol.convexity_dual_eur if sol is not None else None
        skip = self.fixed if sol is not None else None
        test = sol.multipliers_kw if sol is not None else None
        batches = self.pricer.price(pi, duals, skip, test)
        lower = sum(float(np.nansum(b.lower_eur)) for b in batches)
        if sol is None:
            self.round0_lower = np.concatenate([b.lower_eur for b in batches])
        if skip is not None:
            # Homes fixed where coupled: min (cost + π·net) = their round-0 bound + π·net.
            lower += float(self.fixed_lower.sum() + (self.fixed_net @ pi).sum())
        added = 0
        for b in batches:
            self.master.add_columns(b.new_homes, b.new_net_kw, b.new_cost_eur)
            self.plans.extend(b.new_plans)
            added += len(b.new_homes)
        return lower + float(np.dot(y, self.master.rhs)) + self.constant, added

    def run(self, progress: Progress | None = None) -> DecompositionResult:
        started = time.perf_counter()
        # Round 0 (π = 0): the homes alone. Its bound ignores the coupling, a valid relaxation.
        best_y = np.zeros(self.master.n_coupling)
        self.best_bound, _ = self._round(best_y, None)
        # Round 0 gave one column per home, in home order: keep what the fixed homes need.
        fixed = np.flatnonzero(self.fixed)
        self.fixed_net = np.array([self.plans[i].flows.net_import_kw for i in fixed]).reshape(
            len(fixed), self.portfolio.n_slots
        )
        self.fixed_lower = self.round0_lower[fixed]
        iterations, sol = 0, self.master.solve()
        alpha = self.dw.smoothing
        while iterations < self.dw.max_iterations:
            master_value = sol.value_eur + self.constant
            if self._converged(master_value) or self._out_of_time(started):
                break
            iterations += 1
            # Wentges smoothing: price between the best-bound duals and the master's, which keeps
            # the multipliers from swinging between extremes and lifts the bound sooner.
            y = alpha * best_y + (1.0 - alpha) * sol.coupling_dual
            bound, added = self._round(y, sol)
            if bound > self.best_bound:
                self.best_bound, best_y = bound, y
            log.info(
                "column generation %d: master %.4f, bound %.4f (best %.4f), %d new columns",
                iterations,
                master_value,
                bound,
                self.best_bound,
                added,
            )
            if progress is not None:
                progress(iterations, master_value, self.best_bound)
            if added == 0:
                if alpha == 0.0:
                    # No column prices out at the master's duals: its value is the bound itself.
                    self.best_bound = max(self.best_bound, master_value)
                    break
                alpha = 0.0  # a smoothed point found nothing: price at the master's duals
                continue
            sol = self.master.solve()
        return self._recover(sol, iterations, started)

    def _converged(self, master_value: float) -> bool:
        gap = master_value - self.best_bound
        return bool(gap <= self.dw.target_gap * max(1e-9, abs(master_value)))

    def _out_of_time(self, started: float) -> bool:
        limit = self.dw.time_limit_s
        return limit is not None and time.perf_counter() - started > limit

    def _recover(self, sol: MasterSolution, iterations: int, started: float) -> DecompositionResult:
        """Fix the homes the master gives one plan; re-plan the mixed ones jointly."""
        weights = sol.weights
        homes = np.array(self.master.column_home, dtype=np.int64)
        best_w = np.zeros(len(self.problems))
        chosen: list[SitePlan | None] = [None] * len(self.problems)
        for c in np.flatnonzero(weights > 1e-9):
            i = homes[c]
            if weights[c] > best_w[i]:
                best_w[i], chosen[i] = weights[c], self.plans[c]
        plans = [p for p in chosen if p is not None]
        if len(plans) != len(self.problems):
            raise SolveFailed("portfolio master", "a home has no plan with positive weight")
        mixed = np.flatnonzero(best_w < 1.0 - 1e-7)
        if len(mixed):
            self._coordinate(plans, mixed)
        return self._result(plans, sol, iterations, len(mixed), started)

    def _coordinate(self, plans: list[SitePlan], mixed: IntArray) -> None:
        """The exact joint plan of the mixed homes around every other home's fixed net import."""
        log.info("coordinating %d mixed homes jointly", len(mixed))
        for group in np.array_split(mixed, max(1, -(-len(mixed) // MAX_JOINT_HOMES))):
            n = self.portfolio.n_slots
            others = net_import_kw(plans, n) - net_import_kw([plans[i] for i in group], n)
            joint = solve_joint([self.problems[i] for i in group], self.portfolio, self.options, others)
            for i, plan in zip(group, joint.plans, strict=True):
                plans[i] = plan

    def _result(
        self, plans: list[SitePlan], sol: MasterSolution, iterations: int, mixed: int, started: float
    ) -> DecompositionResult:
        primal = objective_eur(plans, self.portfolio)
        found = portfolio_violations(net_import_kw(plans, self.portfolio.n_slots), self.portfolio)
        gap = None
        if found.met:  # a best-effort plan claims no gap
            gap = max(0.0, primal - self.best_bound) / max(1e-9, abs(primal))
        return DecompositionResult(
            plans=plans,
            primal_eur=primal,
            bound_eur=self.best_bound,
            gap=gap,
            iterations=iterations,
            columns=len(self.plans),
            mixed_homes=mixed,
            fixed_homes=int(self.fixed.sum()),
            violation_kwh=found.total_kwh,
            seconds=time.perf_counter() - started,
        )


class DecompositionNeedsHighs(PlanningError):
    def __init__(self, solver: str) -> None:
        super().__init__(
            f"the portfolio decomposition plans homes on the HiGHS array path; solver {solver!r} "
            "is supported by the joint method only (method=joint)"
        )


def decompose(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    options: SolverOptions,
    dw: DecompositionOptions | None = None,
    workers: int = 1,
    cluster: str | Any | None = None,
    progress: Progress | None = None,
) -> DecompositionResult:
    """Column generation with its pricing in this process (workers=1), in local worker
    processes, or on a dask cluster (an address or a Client); raises PlanningError."""
    if options.solver != "highs":
        raise DecompositionNeedsHighs(options.solver)
    pricer = make_pricer(problems, options, workers, cluster)
    try:
        return ColumnGeneration(problems, portfolio, pricer, options, dw or DecompositionOptions()).run(
            progress
        )
    finally:
        pricer.close()
