"""The one planning entry point: `plan_scenario` picks the formulation and plans.

    planned = plan_scenario(scenario, SolverOptions())              # in this process
    planned = plan_scenario(scenario, SolverOptions(), workers=4)   # on 4 local processes
    planned = plan_scenario(scenario, SolverOptions(), cluster="tcp://host:8786")
    planned.plan                                                    # the spec's Plan

Requests that cannot be planned give a Plan with status "error" and its message, not an
exception. Which formulation (`choose`, reported as `planned.formulation`):

- Without caps or floors on the portfolio's net import the homes are independent (the
  imbalance term is separable): each home alone, HiGHS on the array path (flexmodel.fast: one
  warm highspy object per LP structure, a few ms a home), another solver (GLPK) on the Pyomo
  model (flexmodel.model.solver); on `workers` processes or a dask `cluster` (flexmodel.parallel).
- Caps or floors couple them. `Method.AUTO`: the exact joint model (flexmodel.portfolio.joint) up
  to JOINT_MAX_HOMES homes, column generation with a proven gap above (decomposition: HiGHS
  only, so GLPK plans jointly at any size). `Method.COORDINATION`: price coordination (fast,
  no optimality proof).

Every formulation reports through flexmodel.portfolio.result, so the portfolio's sums and
violations are computed one way.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from flexmodel.errors import PlanningError
from flexmodel.parallel import Progress, plan_sites
from flexmodel.portfolio.coordination import coordinate
from flexmodel.portfolio.decomposition import DecompositionResult, decompose
from flexmodel.portfolio.joint import solve_joint
from flexmodel.portfolio.result import error_plan, portfolio_plan
from flexmodel.problem import PortfolioProblem, SiteProblem, prepare_portfolio, prepare_sites
from flexmodel.scenario import Plan, Scenario
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

JOINT_MAX_HOMES = 50  # Method.AUTO: the exact joint model up to this many homes


class Method(enum.StrEnum):
    """How to plan a portfolio whose caps or floors couple the homes."""

    AUTO = "auto"  # joint up to JOINT_MAX_HOMES homes (or with a solver other than HiGHS), else decomposition
    JOINT = "joint"
    DECOMPOSITION = "decomposition"
    COORDINATION = "coordination"


class Formulation(enum.StrEnum):
    """What actually planned the scenario."""

    HOMES_ARRAYS = "homes-arrays"  # independent homes, HiGHS through flexmodel.fast
    HOMES_PYOMO = "homes-pyomo"  # independent homes, the Pyomo model (GLPK)
    JOINT = "joint"
    DECOMPOSITION = "decomposition"
    COORDINATION = "coordination"


def choose(method: Method, solver: str, n_homes: int, coupled: bool) -> Formulation:
    """The formulation for a scenario; see the module docstring."""
    if not coupled:
        return Formulation.HOMES_ARRAYS if solver == "highs" else Formulation.HOMES_PYOMO
    if method is Method.AUTO:
        small = n_homes <= JOINT_MAX_HOMES or solver != "highs"
        return Formulation.JOINT if small else Formulation.DECOMPOSITION
    return Formulation(method.value)


@dataclass(frozen=True, slots=True)
class Planned:
    """The plan plus what it was made of (bidding computes flexibility from it; runs record it)."""

    plan: Plan
    formulation: Formulation
    site_plans: list[SitePlan]  # in scenario order; empty when the plan is an error
    problems: list[SiteProblem]
    portfolio: PortfolioProblem
    rounds: int | None = None  # price coordination's rounds
    decomposition: DecompositionResult | None = None

    def facts(self) -> dict[str, Any]:
        """How the plan was made, for a run's record."""
        out: dict[str, Any] = {"method": self.formulation.value}
        if self.rounds is not None:
            out["rounds"] = self.rounds
        if self.decomposition is not None:
            out["iterations"] = self.decomposition.iterations
        return out


def plan_scenario(
    scenario: Scenario,
    options: SolverOptions | None = None,
    *,
    method: Method = Method.AUTO,
    workers: int = 1,
    cluster: str | Any | None = None,
    progress: Progress | None = None,
) -> Planned:
    """Plan every site of a validated scenario (see the module docstring).

    `workers` local processes (1: this process) or a dask `cluster` (an address or, for the
    decomposition, a Client) plan the homes; `progress(k)` is told of k more homes planned
    (independent homes only)."""
    options = options or SolverOptions()
    started = time.perf_counter()
    problems = prepare_sites(scenario)
    portfolio = prepare_portfolio(scenario)
    formulation = choose(method, options.solver, len(problems), portfolio.has_caps_or_floors)
    try:
        return _plan(formulation, problems, portfolio, options, started, workers, cluster, progress)
    except PlanningError as exc:
        failed = error_plan(str(exc), options.solver, time.perf_counter() - started)
        return Planned(failed, formulation, [], problems, portfolio)


def _plan(
    formulation: Formulation,
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    options: SolverOptions,
    started: float,
    workers: int,
    cluster: str | Any | None,
    progress: Progress | None,
) -> Planned:
    def done(plans: list[SitePlan], **kwargs: Any) -> Plan:
        seconds = time.perf_counter() - started
        return portfolio_plan(plans, portfolio, solver=options.solver, seconds=seconds, **kwargs)

    if formulation in (Formulation.HOMES_ARRAYS, Formulation.HOMES_PYOMO):
        plans = plan_sites(problems, options, workers, cluster, progress)
        return Planned(done(plans), formulation, plans, problems, portfolio)
    if formulation is Formulation.JOINT:
        joint = solve_joint(problems, portfolio, options)
        result = done(joint.plans, gap=joint.gap, proven=joint.proven)
        return Planned(result, formulation, joint.plans, problems, portfolio)
    if formulation is Formulation.COORDINATION:
        runner = partial(plan_sites, workers=workers, cluster=cluster)
        plans, rounds = coordinate(problems, portfolio, options, runner)
        # Prices steer the sum but prove nothing: at best feasible.
        return Planned(done(plans, proven=False), formulation, plans, problems, portfolio, rounds=rounds)
    found = decompose(problems, portfolio, options, workers=workers, cluster=cluster)
    message = (
        f"column generation: {found.iterations} iterations, {found.columns} plans, "
        f"{found.mixed_homes} homes coordinated jointly, bound {found.bound_eur:.6f} EUR"
    )
    result = done(found.plans, gap=found.gap, message=message)
    return Planned(result, formulation, found.plans, problems, portfolio, decomposition=found)
