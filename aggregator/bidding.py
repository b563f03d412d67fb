"""Portfolio flexibility for bidding: plan the portfolio, then say per hour how many kW it can
reduce or add around that plan while every home keeps its targets (flexmodel.portfolio.flexibility).

Small portfolios (at most `exact_max_homes`) get the exact figure, one joint optimisation per hour
and direction; larger ones the per-home guarded figure, summed, which never promises more than
the exact one (see that module's docstring for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flexmodel.errors import PlanningError
from flexmodel.planner import plan_scenario
from flexmodel.portfolio.flexibility import Flexibility, exact_flexibility, safe_flexibility
from flexmodel.scenario import Plan, PlanStatus, Scenario
from flexmodel.solve import SolverOptions

EXACT_MAX_HOMES = 20


@dataclass(frozen=True, slots=True)
class BiddingView:
    plan: Plan
    flexibility: Flexibility
    exact: bool  # True: the exact joint figure; False: the guarded per-home sum (a lower bound)


def plan_with_flexibility(
    scenario: Scenario,
    options: SolverOptions,
    *,
    hours: Sequence[int] | None = None,
    workers: int = 1,
    exact_max_homes: int = EXACT_MAX_HOMES,
) -> BiddingView:
    """Plan the scenario (flexmodel.planner.plan_scenario) and compute its flexibility per hour; raises
    PlanningError when it cannot be planned."""
    planned = plan_scenario(scenario, options, workers=workers)
    if planned.plan.status is PlanStatus.ERROR:
        raise PlanningError(planned.plan.message or "the scenario could not be planned")
    exact = len(planned.problems) <= exact_max_homes
    compute = exact_flexibility if exact else safe_flexibility
    flex = compute(planned.problems, planned.portfolio, planned.site_plans, options, None, hours)
    return BiddingView(plan=planned.plan, flexibility=flex, exact=exact)
