"""Entry points: `solve_site` (one prepared site) and `plan_scenario` (a whole scenario).

The CLI, the parallel runner and the aggregator all plan through these two functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import numpy as np

from flexmodel.errors import PlanningError
from flexmodel.model import build_model
from flexmodel.problem import PortfolioProblem, SiteProblem, prepare_portfolio, prepare_sites
from flexmodel.scenario import (
    Plan,
    PlanStatus,
    PortfolioOut,
    Scenario,
    SiteCost,
    SitePlanOut,
    SolverInfo,
    Violation,
)
from flexmodel.site_plan import SitePlan, net_battery, net_grid, plan_from_flows, read_flows
from flexmodel.solve import SolverOptions, solve_lexicographic

log = logging.getLogger(__name__)


def solve_site(problem: SiteProblem, options: SolverOptions) -> SitePlan:
    """Plan one site exactly: an LP, with binaries added only in the slots where the answer
    imports and exports (or charges and discharges) at once, until no slot does.

    Why this is exact: the model with binaries in a subset S of the slots is a relaxation of the
    model with binaries everywhere (the MILP). When its optimum does both things in no slot, it
    is feasible for the MILP, so it is optimal for the MILP too. S only grows, so this ends
    after at most n_slots rounds. To save rounds, the first MILP round also covers the slots
    where doing both can pay (`_risky_slots`); that changes the number of rounds, not the answer.
    """
    started = time.perf_counter()
    grid_slots: set[int] = set()
    battery_slots: set[int] = set()
    while True:
        model = build_model(problem, exclusive_grid_slots=grid_slots, exclusive_battery_slots=battery_slots)
        result = solve_lexicographic(model, problem, options, mip=bool(grid_slots or battery_slots))
        flows = net_grid(net_battery(read_flows(model, problem), problem), problem)
        new_grid = flows.grid_both_slots() - grid_slots
        new_battery = flows.battery_both_slots() - battery_slots
        if not (new_grid or new_battery):
            break
        log.debug(
            "%s: the answer does both in %s / %s; adding binaries", problem.site_id, new_grid, new_battery
        )
        if not (grid_slots or battery_slots):
            risky_grid, risky_battery = _risky_slots(problem)
            new_grid |= risky_grid if new_grid else set()
            new_battery |= risky_battery if new_battery else set()
        grid_slots |= new_grid
        battery_slots |= new_battery
    return plan_from_flows(
        flows,
        problem,
        binary_slots=len(grid_slots) + len(battery_slots),
        proven=result.proven,
        gap=result.gap,
        solve_seconds=time.perf_counter() - started,
    )


def _risky_slots(p: SiteProblem) -> tuple[set[int], set[int]]:
    """Slots where simultaneous import and export (export earns more than import costs) or
    simultaneous charge and discharge (burning energy: import or export price below zero) pays."""
    buy = p.import_price_eur_per_kwh + p.imbalance_eur_per_kwh
    sell = p.export_price_eur_per_kwh + p.imbalance_eur_per_kwh
    grid = {int(t) for t in np.flatnonzero(sell > buy)}
    battery = {int(t) for t in np.flatnonzero((buy < 0) | (sell < 0))} if p.battery is not None else set()
    return grid, battery


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def site_plan_out(plan: SitePlan) -> SitePlanOut:
    f = plan.flows
    return SitePlanOut(
        site_id=plan.site_id,
        status=plan.status,
        grid_import_kw=_floats(f.grid_import_kw),
        grid_export_kw=_floats(f.grid_export_kw),
        pv_used_kw=_floats(f.pv_used_kw),
        battery_kw=_floats(f.battery_kw),
        battery_soc_kwh=_floats(f.battery_soc_kwh),
        ev_kw={k: _floats(v) for k, v in f.ev_kw.items()},
        ev_energy_kwh=dict(plan.ev_energy_kwh),
        peak_kw=plan.peak_kw,
        cost_eur=SiteCost(
            energy=plan.cost.energy_eur,
            export=plan.cost.export_eur,
            capacity=plan.cost.capacity_eur,
            total=plan.cost.total_eur,
        ),
        violations=[Violation(kind=v.kind, kwh=v.kwh, ev_id=v.ev_id) for v in plan.violations],
        gap=plan.gap,
    )


def _status(plans: Iterable[SitePlan]) -> PlanStatus:
    statuses = {p.status for p in plans}
    for status in (PlanStatus.BEST_EFFORT, PlanStatus.FEASIBLE):
        if status in statuses:
            return status
    return PlanStatus.OPTIMAL


def assemble_plan(plans: list[SitePlan], portfolio: PortfolioProblem, solver: str, seconds: float) -> Plan:
    """The spec's Plan from solved sites (in scenario order): sums, imbalance, overall status."""
    net = np.zeros(portfolio.n_slots)
    for plan in plans:
        net += plan.flows.grid_import_kw - plan.flows.grid_export_kw
    deviation = net - portfolio.nominated_net_kw
    imbalance = float(np.dot(portfolio.imbalance_eur_per_kwh, deviation) * portfolio.dt_h)
    gaps = [p.gap for p in plans if p.gap is not None]
    return Plan(
        status=_status(plans),
        objective_eur=sum(p.cost.total_eur for p in plans) + imbalance,
        solver=SolverInfo(name=solver, seconds=seconds),
        portfolio=PortfolioOut(net_import_kw=_floats(net), imbalance_eur=imbalance, violations=[]),
        sites=[site_plan_out(p) for p in plans],
        gap=max(gaps) if gaps else None,
    )


def error_plan(message: str, solver: str, seconds: float = 0.0) -> Plan:
    return Plan(
        status=PlanStatus.ERROR,
        objective_eur=None,
        solver=SolverInfo(name=solver, seconds=seconds),
        portfolio=None,
        sites=[],
        message=message,
    )


SiteRunner = Callable[[list[SiteProblem], SolverOptions], list[SitePlan]]


def solve_sites_sequentially(problems: list[SiteProblem], options: SolverOptions) -> list[SitePlan]:
    return [solve_site(p, options) for p in problems]


def plan_scenario(
    scenario: Scenario,
    options: SolverOptions,
    runner: SiteRunner = solve_sites_sequentially,
    *,
    workers: int = 1,
    cluster: str | None = None,
    portfolio_method: str = "auto",
) -> Plan:
    """Plan every site of a validated scenario. Returns status "error" instead of raising for
    requests that cannot be planned. Portfolio caps/floors couple the sites: those scenarios are
    planned jointly by flexmodel.portfolio (exact joint model for small portfolios, column
    generation with a proven gap above; `workers`/`cluster` run its per-home pricing)."""
    started = time.perf_counter()
    portfolio = prepare_portfolio(scenario)
    if portfolio.has_caps_or_floors:
        from flexmodel.portfolio.planner import Method, plan_portfolio  # imports this module

        try:
            method = Method(portfolio_method)
            return plan_portfolio(scenario, options, method, workers=workers, cluster=cluster)
        except PlanningError as exc:
            return error_plan(str(exc), options.solver, time.perf_counter() - started)
    try:
        plans = runner(prepare_sites(scenario), options)
    except PlanningError as exc:
        return error_plan(str(exc), options.solver, time.perf_counter() - started)
    return assemble_plan(plans, portfolio, options.solver, time.perf_counter() - started)
