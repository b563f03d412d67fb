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

import numpy as np

from flexmodel.portfolio.joint import _price_scale, solve_joint
from flexmodel.portfolio.master import IntArray, MasterLp, MasterSolution
from flexmodel.portfolio.pricing import PricedBatch, Pricer
from flexmodel.portfolio.result import objective_eur, portfolio_violations
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)

SAME_PLAN_KW = 1e-6  # a re-planned home whose net import differs more than this is re-coordinated
MAX_JOINT_HOMES = 400  # more mixed homes than this: the coordination step plans them in groups


@dataclass(frozen=True, slots=True)
class DecompositionOptions:
    target_gap: float = 0.002  # stop when (master - bound)/|master| is below this
    max_iterations: int = 60
    time_limit_s: float | None = None
    smoothing: float = 0.5  # Wentges: price with α·best duals + (1-α)·current (stabilises π)


@dataclass(frozen=True, slots=True)
class DecompositionResult:
    plans: list[SitePlan]
    primal_eur: float
    bound_eur: float
    gap: float | None  # None when the plan is best effort (no bound is claimed then)
    iterations: int
    columns: int
    mixed_homes: int
    violation_kwh: float
    seconds: float


Progress = Callable[[int, float, float], None]  # iteration, master value, best bound


@dataclass(slots=True)
class _Columns:
    home: list[int]
    origin: list[int]  # which multipliers (row of the history) produced the column
    net: list[FloatArray]
    cost: list[float]


def _collect(batches: list[PricedBatch]) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    net = np.concatenate([b.net_kw for b in batches])
    return net, np.concatenate([b.cost_eur for b in batches]), np.concatenate(
        [b.priced_eur for b in batches]
    ), np.concatenate([b.lower_eur for b in batches])


def _net_sum(plans: list[SitePlan]) -> FloatArray:
    total: FloatArray = np.zeros(len(plans[0].flows.grid_import_kw)) if plans else np.zeros(0)
    for p in plans:
        total = total + p.flows.grid_import_kw - p.flows.grid_export_kw
    return total


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
        self.history: list[FloatArray] = []
        self.columns = _Columns([], [], [], [])
        self.best_bound = -np.inf
        self.best_pi: FloatArray = np.zeros(portfolio.n_slots)
        self.constant = _nomination_constant(portfolio)

    def _price(self, pi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        self.history.append(pi)
        choice = np.full(len(self.problems), len(self.history) - 1, dtype=np.int64)
        return _collect(self.pricer.price(np.array(self.history), choice, want_plans=False))

    def _add(self, homes: IntArray, net: FloatArray, cost: FloatArray) -> None:
        self.master.add_columns(homes, net, cost)
        origin = len(self.history) - 1
        for j, i in enumerate(homes):
            self.columns.home.append(int(i))
            self.columns.origin.append(origin)
            self.columns.net.append(net[j])
            self.columns.cost.append(float(cost[j]))

    def _bound(self, lower: FloatArray, sol: MasterSolution | None) -> float:
        coupling = sol.coupling_value_eur if sol is not None else 0.0
        return float(lower.sum()) + coupling + self.constant

    def run(self, progress: Progress | None = None) -> DecompositionResult:
        started = time.perf_counter()
        net, cost, _priced, lower = self._price(np.zeros(self.portfolio.n_slots))
        self._add(np.arange(len(self.problems)), net, cost)
        uncoupled_bound = float(lower.sum()) + self.constant  # the relaxation without coupling
        self.best_bound = uncoupled_bound
        iterations, sol = 0, self.master.solve()
        while iterations < self.dw.max_iterations:
            iterations += 1
            master_value = sol.value_eur + self.constant
            if self._converged(master_value, sol) or self._out_of_time(started):
                break
            pi = sol.multipliers_kw
            net, cost, priced, lower = self._price(pi)
            bound = self._bound(lower, sol)
            self.best_bound = max(self.best_bound, bound)
            reduced = priced - sol.convexity_dual_eur
            new = np.flatnonzero(reduced < -1e-9 * np.maximum(1.0, np.abs(priced)))
            log.info(
                "column generation %d: master %.4f, bound %.4f (best %.4f), %d new columns",
                iterations, master_value, bound, self.best_bound, len(new),
            )
            if progress is not None:
                progress(iterations, master_value, self.best_bound)
            if len(new) == 0:
                # No column prices out: the master's value is the Lagrangian bound itself.
                self.best_bound = max(self.best_bound, master_value)
                break
            self._add(new.astype(np.int64), net[new], cost[new])
            sol = self.master.solve()
        return self._recover(sol, iterations, started)

    def _converged(self, master_value: float, sol: MasterSolution) -> bool:
        if not np.isfinite(self.best_bound):
            return False
        return (master_value - self.best_bound) <= self.dw.target_gap * max(1e-9, abs(master_value))

    def _out_of_time(self, started: float) -> bool:
        limit = self.dw.time_limit_s
        return limit is not None and time.perf_counter() - started > limit

    def _recover(self, sol: MasterSolution, iterations: int, started: float) -> DecompositionResult:
        """Fix the homes the master gives one plan; re-plan the mixed ones jointly."""
        n_homes = len(self.problems)
        weights = sol.weights
        best_col = np.full(n_homes, -1, dtype=np.int64)
        best_w = np.zeros(n_homes)
        homes = np.array(self.columns.home, dtype=np.int64)
        for c in np.flatnonzero(weights > 1e-9):
            i = homes[c]
            if weights[c] > best_w[i]:
                best_w[i], best_col[i] = weights[c], c
        single = best_w >= 1.0 - 1e-7
        # Re-plan every home against the multipliers that produced its chosen column, and keep
        # the answer when it is that column (LPs with ties may answer with another vertex).
        choice = np.array([self.columns.origin[c] for c in best_col], dtype=np.int64)
        batches = self.pricer.price(np.array(self.history), choice, want_plans=True)
        plans: list[SitePlan] = [p for b in batches for p in (b.plans or [])]
        for i in np.flatnonzero(single):
            column_net = self.columns.net[best_col[i]]
            answer = plans[i].flows.grid_import_kw - plans[i].flows.grid_export_kw
            if np.abs(answer - column_net).max() > SAME_PLAN_KW:
                single[i] = False
        mixed = np.flatnonzero(~single)
        if len(mixed):
            self._coordinate(plans, mixed)
        return self._result(plans, sol, iterations, len(mixed), started)

    def _coordinate(self, plans: list[SitePlan], mixed: IntArray) -> None:
        """The exact joint plan of the mixed homes around every other home's fixed net import."""
        log.info("coordinating %d mixed homes jointly", len(mixed))
        for group in np.array_split(mixed, max(1, -(-len(mixed) // MAX_JOINT_HOMES))):
            others = _net_sum(plans) - _net_sum([plans[i] for i in group])
            joint = solve_joint([self.problems[i] for i in group], self.portfolio, self.options, others)
            for i, plan in zip(group, joint.plans, strict=True):
                plans[i] = plan

    def _result(
        self, plans: list[SitePlan], sol: MasterSolution, iterations: int, mixed: int, started: float
    ) -> DecompositionResult:
        primal = objective_eur(plans, self.portfolio)
        net = _net_sum(plans)
        violation = portfolio_violations(net, self.portfolio).total_kwh
        gap = None
        if violation <= 1e-6:
            gap = max(0.0, primal - self.best_bound) / max(1e-9, abs(primal))
        return DecompositionResult(
            plans=plans,
            primal_eur=primal,
            bound_eur=self.best_bound,
            gap=gap,
            iterations=iterations,
            columns=len(self.columns.home),
            mixed_homes=mixed,
            violation_kwh=violation,
            seconds=time.perf_counter() - started,
        )
