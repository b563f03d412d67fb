"""Plan a portfolio scenario: the joint solver when the portfolio package provides one,
otherwise per-site plans coordinated by prices on the capped/floored slots (dual ascent).

The price coordination: every site's objective gets `lambda_t * (g_t - e_t) * dt` on top of its
own costs (the planner's per-site imbalance term carries it, so each site stays a small LP);
`lambda_t` rises where the summed net import exceeds a cap and falls (below zero) where it is
under a floor, and the least-violating iterate is kept. That needs no joint model, but proves
no optimality gap and can leave a violation where the joint optimum has none: the plan then
reports `net_import_cap` / `net_import_floor` violations with their size, as the spec asks.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from flexmodel.errors import PlanningError
from flexmodel.planner import assemble_plan, error_plan
from flexmodel.problem import PortfolioProblem, SiteProblem, prepare_portfolio, prepare_sites
from flexmodel.scenario import Plan, PlanStatus, Scenario, Violation
from flexmodel.site_plan import SitePlan, ev_energy, net_battery, net_grid, site_cost, violations
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
SiteRunner = Callable[[list[SiteProblem], SolverOptions], list[SitePlan]]

MAX_ROUNDS = 10
TOLERANCE_KW = 0.05
STEP_EUR_PER_KWH_PER_KW = 0.02  # first price step per kW of violation, per site


def _default_runner(problems: list[SiteProblem], options: SolverOptions) -> list[SitePlan]:
    from flexmodel.parallel import plan_chunk

    return plan_chunk(problems, options)


def _net(plans: list[SitePlan], n_slots: int) -> FloatArray:
    net = np.zeros(n_slots)
    for plan in plans:
        net = net + plan.flows.grid_import_kw - plan.flows.grid_export_kw
    return net


def _excess(net: FloatArray, portfolio: PortfolioProblem) -> tuple[FloatArray, FloatArray]:
    """(over the cap, under the floor) per slot [kW], zero where none is set."""
    over = np.where(np.isfinite(portfolio.net_import_cap_kw), net - portfolio.net_import_cap_kw, 0.0)
    under = np.where(np.isfinite(portfolio.net_import_floor_kw), portfolio.net_import_floor_kw - net, 0.0)
    return np.maximum(over, 0.0), np.maximum(under, 0.0)


def _with_price(problems: list[SiteProblem], extra: FloatArray) -> list[SiteProblem]:
    return [dataclasses.replace(p, imbalance_eur_per_kwh=p.imbalance_eur_per_kwh + extra) for p in problems]


def _average(plans: list[SitePlan], problem: SiteProblem) -> SitePlan:
    """The mean of one site's plans from several rounds: a convex combination of feasible LP
    answers is feasible, and the running mean of dual-ascent answers approaches the coordinated
    optimum where the single answers jump from one corner to another."""
    flows = [p.flows for p in plans]
    mean = dataclasses.replace(
        flows[-1],
        **{
            f.name: np.mean([getattr(x, f.name) for x in flows], axis=0)
            for f in dataclasses.fields(flows[-1])
            if f.name != "ev_kw"
        },
        ev_kw={k: np.mean([x.ev_kw[k] for x in flows], axis=0) for k in flows[-1].ev_kw},
    )
    mean = net_grid(net_battery(mean, problem), problem)
    energy = ev_energy(mean, problem)
    found = violations(mean, problem, energy)
    last = plans[-1]
    return dataclasses.replace(
        last,
        status=PlanStatus.BEST_EFFORT if found else last.status,
        flows=mean,
        ev_energy_kwh=energy,
        peak_kw=float(mean.grid_import_kw.max(initial=0.0)),
        cost=site_cost(mean, problem),
        violations=found,
    )


def _flexible(problem: SiteProblem) -> bool:
    """Whether a price on net import can change the site's plan (an EV or battery to move)."""
    return bool(problem.optimised_evs) or problem.battery is not None


def coordinate(
    problems: list[SiteProblem], portfolio: PortfolioProblem, options: SolverOptions, runner: SiteRunner
) -> tuple[list[SitePlan], int]:
    """Per-site plans whose sum respects the caps/floors as well as prices can make it."""
    n = portfolio.n_slots
    lam = np.zeros(n)
    plans = runner(problems, options)
    # Only sites with something to move are planned again; the others' plans cannot change.
    movable = [i for i, p in enumerate(problems) if _flexible(p)]
    history: list[list[SitePlan]] = []
    candidates: list[tuple[float, list[SitePlan]]] = []
    step = STEP_EUR_PER_KWH_PER_KW
    rounds = 1
    while True:
        mean = plans
        if history:
            mean = list(plans)
            for i in movable:
                mean[i] = _average([h[i] for h in history], problems[i])
        for option in (plans, mean):
            over, under = _excess(_net(option, n), portfolio)
            candidates.append((float((over + under).sum()), option))
        over, under = _excess(_net(plans, n), portfolio)
        if min(c[0] for c in candidates) <= TOLERANCE_KW or rounds >= MAX_ROUNDS or not movable:
            break
        # Raise the price where over the cap, lower it where under the floor.
        lam = lam + step * (over - under)
        replanned = runner(_with_price([problems[i] for i in movable], lam), options)
        plans = list(plans)
        for i, plan in zip(movable, replanned, strict=True):
            plans[i] = plan
        history.append(plans)
        rounds += 1
    best = min(candidates, key=lambda c: c[0])[1]
    # Report the sites' costs without the coordination price: they pay their own tariff.
    return [_restore(plan, p) for plan, p in zip(best, problems, strict=True)], rounds


def _restore(plan: SitePlan, problem: SiteProblem) -> SitePlan:
    net = plan.flows.grid_import_kw - plan.flows.grid_export_kw
    imbalance = float(np.dot(problem.imbalance_eur_per_kwh, net)) * problem.dt_h
    return dataclasses.replace(plan, imbalance_eur=imbalance)


def _portfolio_violations(plan: Plan, portfolio: PortfolioProblem) -> list[Violation]:
    assert plan.portfolio is not None
    over, under = _excess(np.asarray(plan.portfolio.net_import_kw), portfolio)
    found = []
    for kind, excess in (("net_import_cap", over), ("net_import_floor", under)):
        kwh = float(excess[excess > TOLERANCE_KW].sum()) * portfolio.dt_h
        if kwh > 0:
            found.append(Violation(kind=kind, kwh=kwh))
    return found


def _joint(scenario: Scenario, options: SolverOptions, method: str) -> tuple[Plan, dict[str, Any]]:
    """The portfolio package's exact joint model or column generation (with its proven gap)."""
    from flexmodel.portfolio.planner import Method
    from flexmodel.portfolio.planner import plan_portfolio as plan_jointly

    started = time.perf_counter()
    try:
        plan = plan_jointly(scenario, options, Method(method))
    except PlanningError as exc:
        return error_plan(str(exc), options.solver, time.perf_counter() - started), {"method": method}
    return plan, {"method": method if method != "auto" else "joint or decomposition (by size)"}


def plan_portfolio(
    scenario: Scenario, options: SolverOptions, method: str = "auto", runner: SiteRunner | None = None
) -> tuple[Plan, dict[str, Any]]:
    """(the plan, facts about the method) for a validated scenario; status "error" on failure.

    Without caps or floors the homes are independent and each is planned on its own (the
    imbalance term is separable). With them, `method` "auto", "joint" or "decomposition" uses
    flexmodel.portfolio; "coordination" the fast price coordination above.
    """
    started = time.perf_counter()
    if method != "coordination" and prepare_portfolio(scenario).has_caps_or_floors:
        return _joint(scenario, options, method)
    portfolio = prepare_portfolio(scenario)
    run = runner or _default_runner
    try:
        problems = prepare_sites(scenario)
        rounds = 1
        if portfolio.has_caps_or_floors:
            plans, rounds = coordinate(problems, portfolio, options, run)
        else:
            plans = run(problems, options)
    except PlanningError as exc:
        return error_plan(str(exc), options.solver, time.perf_counter() - started), {"method": "error"}
    plan = assemble_plan(plans, portfolio, options.solver, time.perf_counter() - started)
    facts: dict[str, Any] = {
        "method": "price-coordination" if portfolio.has_caps_or_floors else "per-site",
        "rounds": rounds,
    }
    if portfolio.has_caps_or_floors:
        assert plan.portfolio is not None
        violations = _portfolio_violations(plan, portfolio)
        status = plan.status
        if violations:
            status = PlanStatus.BEST_EFFORT
        elif status is PlanStatus.OPTIMAL:
            status = PlanStatus.FEASIBLE  # price coordination proves no optimality
        plan = plan.model_copy(
            update={
                "status": status,
                "portfolio": plan.portfolio.model_copy(update={"violations": violations}),
            }
        )
    return plan, facts
