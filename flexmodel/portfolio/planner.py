"""`plan_portfolio`: a scenario with portfolio caps or floors, planned jointly.

Small portfolios (at most `JOINT_MAX_HOMES` homes) get the exact joint model; larger ones, or
method="decomposition", get column generation (decomposition.py) with its proven gap. The
decomposition's pricing runs in this process (workers=1), in local worker processes, or on a
dask cluster (`cluster="tcp://HOST:PORT"`).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from flexmodel.errors import PlanningError
from flexmodel.portfolio.decomposition import (
    ColumnGeneration,
    DecompositionOptions,
    DecompositionResult,
    Progress,
)
from flexmodel.portfolio.joint import solve_joint
from flexmodel.portfolio.pricing import DaskPricer, InProcessPricer, PoolPricer, Pricer
from flexmodel.portfolio.result import portfolio_plan
from flexmodel.problem import PortfolioProblem, SiteProblem, prepare_portfolio, prepare_sites
from flexmodel.scenario import Plan, Scenario
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

JOINT_MAX_HOMES = 50


class Method(enum.StrEnum):
    AUTO = "auto"
    JOINT = "joint"
    DECOMPOSITION = "decomposition"


class DecompositionNeedsHighs(PlanningError):
    def __init__(self, solver: str) -> None:
        super().__init__(
            f"the portfolio decomposition plans homes on the HiGHS array path; solver {solver!r} "
            "is supported by the joint method only (method=joint)"
        )


def make_pricer(
    problems: list[SiteProblem], options: SolverOptions, workers: int = 1, cluster: str | Any | None = None
) -> Pricer:
    """In-process, local worker processes, or a dask cluster (an address or a Client)."""
    if cluster is not None:
        client = cluster
        if isinstance(cluster, str):
            from flexmodel.parallel import CLUSTER_ADDRESS, ClusterUnavailable

            if not CLUSTER_ADDRESS.match(cluster):
                raise ClusterUnavailable(f"cluster address {cluster!r} is not of the form tcp://HOST:PORT")
            import distributed

            try:
                client = distributed.Client(cluster, timeout=20, set_as_default=False)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                raise ClusterUnavailable(f"cannot reach the dask scheduler at {cluster}: {exc}") from exc
        return DaskPricer(problems, options, client, owns_client=isinstance(cluster, str))
    if workers > 1:
        return PoolPricer(problems, options, workers)
    return InProcessPricer(problems, options)


def decompose(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    options: SolverOptions,
    dw: DecompositionOptions | None = None,
    workers: int = 1,
    cluster: str | Any | None = None,
    progress: Progress | None = None,
) -> DecompositionResult:
    if options.solver != "highs":
        raise DecompositionNeedsHighs(options.solver)
    pricer = make_pricer(problems, options, workers, cluster)
    try:
        return ColumnGeneration(problems, portfolio, pricer, options, dw or DecompositionOptions()).run(
            progress
        )
    finally:
        pricer.close()


@dataclass(frozen=True, slots=True)
class PortfolioSolution:
    """The plan plus what it was made of (for flexibility and for the record)."""

    plan: Plan
    site_plans: list[SitePlan]
    problems: list[SiteProblem]
    portfolio: PortfolioProblem
    method: Method
    decomposition: DecompositionResult | None


def solve_portfolio(
    scenario: Scenario,
    options: SolverOptions,
    method: Method = Method.AUTO,
    workers: int = 1,
    cluster: str | Any | None = None,
    dw: DecompositionOptions | None = None,
) -> PortfolioSolution:
    """Plan a scenario whose portfolio block couples the sites (raises PlanningError)."""
    started = time.perf_counter()
    problems = prepare_sites(scenario)
    portfolio = prepare_portfolio(scenario)
    if method is Method.AUTO:
        # The decomposition prices homes on the HiGHS array path; GLPK plans jointly at any size.
        small = len(problems) <= JOINT_MAX_HOMES or options.solver != "highs"
        method = Method.JOINT if small else Method.DECOMPOSITION
    if method is Method.JOINT:
        joint = solve_joint(problems, portfolio, options)
        gap = joint.gap if not joint.proven or (joint.gap or 0.0) > 0 else None
        plan = portfolio_plan(
            joint.plans, portfolio, solver=options.solver, seconds=time.perf_counter() - started, gap=gap
        )
        return PortfolioSolution(plan, joint.plans, problems, portfolio, method, None)
    result = decompose(problems, portfolio, options, dw, workers, cluster)
    message = (
        f"column generation: {result.iterations} iterations, {result.columns} plans, "
        f"{result.mixed_homes} homes coordinated jointly, bound {result.bound_eur:.6f} EUR"
    )
    plan = portfolio_plan(
        result.plans,
        portfolio,
        solver=options.solver,
        seconds=time.perf_counter() - started,
        gap=result.gap,
        message=message,
    )
    return PortfolioSolution(plan, result.plans, problems, portfolio, method, result)


def plan_portfolio(
    scenario: Scenario,
    options: SolverOptions,
    method: Method = Method.AUTO,
    workers: int = 1,
    cluster: str | Any | None = None,
    dw: DecompositionOptions | None = None,
) -> Plan:
    """The spec's Plan of solve_portfolio (raises PlanningError)."""
    return solve_portfolio(scenario, options, method, workers, cluster, dw).plan
