"""Price coordination: per-site plans whose sum respects the caps and floors as well as prices
can make it (dual ascent), without a joint model.

Every site's objective gets `lambda_t * (g_t - e_t) * dt` on top of its own costs (the planner's
per-site imbalance term carries it, so each site stays a small problem for the per-home planner);
`lambda_t` rises where the summed net import exceeds a cap and falls (below zero) where it is
under a floor, and the least-violating iterate is kept. It needs no joint model and is fast, but
proves no optimality gap and can leave a violation where the joint optimum has none: the plan
then reports it (flexmodel.portfolio.result), with status best_effort.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from flexmodel.portfolio.result import (
    PortfolioViolations,
    excess_kw,
    net_import_kw,
    portfolio_violations,
)
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.scenario import PlanStatus
from flexmodel.site_plan import SitePlan, ev_energy, net_battery, net_grid, site_cost, violations
from flexmodel.solve import SolverOptions

SiteRunner = Callable[[list[SiteProblem], SolverOptions], list[SitePlan]]

MAX_ROUNDS = 10
STEP_EUR_PER_KWH_PER_KW = 0.02  # first price step per kW of violation, per site


def _with_price(problems: list[SiteProblem], extra: FloatArray) -> list[SiteProblem]:
    return [dataclasses.replace(p, imbalance_eur_per_kwh=p.imbalance_eur_per_kwh + extra) for p in problems]


def _average(plans: list[SitePlan], problem: SiteProblem) -> SitePlan:
    """The mean of one site's plans from several rounds: a convex combination of feasible LP
    answers is feasible, and the running mean of dual-ascent answers approaches the coordinated
    optimum where the single answers jump from one corner to another."""
    if problem.needs_integers:
        # A mean of appliance starts (or of on/off heat-pump slots) is no plan: keep the last.
        return plans[-1]
    flows = [p.flows for p in plans]
    mean = dataclasses.replace(
        flows[-1],
        **{
            f.name: np.mean([getattr(x, f.name) for x in flows], axis=0)
            for f in dataclasses.fields(flows[-1])
            if f.name not in ("ev_kw", "appliance_kw", "appliance_start")
            and getattr(flows[-1], f.name) is not None
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
    """Whether a price on net import can change the site's plan (an EV, battery, heat pump or
    appliance to move)."""
    return (
        bool(problem.optimised_evs)
        or problem.battery is not None
        or problem.heat_pump is not None
        or bool(problem.appliances)
    )


def coordinate(
    problems: list[SiteProblem], portfolio: PortfolioProblem, options: SolverOptions, runner: SiteRunner
) -> tuple[list[SitePlan], int]:
    """(per-site plans, rounds): the least-violating plans over at most MAX_ROUNDS rounds, each
    round planning every site that can move (`runner`: the per-home planner, in this process or
    in worker processes)."""
    n = portfolio.n_slots
    lam = np.zeros(n)
    plans = runner(problems, options)
    # Only sites with something to move are planned again; the others' plans cannot change.
    movable = [i for i, p in enumerate(problems) if _flexible(p)]
    history: list[list[SitePlan]] = []
    candidates: list[tuple[PortfolioViolations, list[SitePlan]]] = []
    step = STEP_EUR_PER_KWH_PER_KW
    rounds = 1
    while True:
        mean = plans
        if history:
            mean = list(plans)
            for i in movable:
                mean[i] = _average([h[i] for h in history], problems[i])
        for option in (plans, mean):
            candidates.append((portfolio_violations(net_import_kw(option, n), portfolio), option))
        if any(found.met for found, _ in candidates) or rounds >= MAX_ROUNDS or not movable:
            break
        over, under = excess_kw(net_import_kw(plans, n), portfolio)
        # Raise the price where over the cap, lower it where under the floor.
        lam = lam + step * (over - under)
        replanned = runner(_with_price([problems[i] for i in movable], lam), options)
        plans = list(plans)
        for i, plan in zip(movable, replanned, strict=True):
            plans[i] = plan
        history.append(plans)
        rounds += 1
    best = min(candidates, key=lambda c: c[0].total_kwh)[1]
    # Report the sites' costs without the coordination price: they pay their own tariff.
    return [_restore(plan, p) for plan, p in zip(best, problems, strict=True)], rounds


def _restore(plan: SitePlan, problem: SiteProblem) -> SitePlan:
    imbalance = float(np.dot(problem.imbalance_eur_per_kwh, plan.flows.net_import_kw)) * problem.dt_h
    return dataclasses.replace(plan, imbalance_eur=imbalance)
