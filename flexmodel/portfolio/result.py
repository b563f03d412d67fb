"""A portfolio's answer: the solved sites plus the coupling, turned into the spec's Plan.

Violations of the portfolio's caps and floors are recomputed from the sites' arrays (never taken
from the solver's slacks), so what the plan reports is what its numbers say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexmodel.planner import site_plan_out
from flexmodel.problem import FloatArray, PortfolioProblem
from flexmodel.scenario import Plan, PlanStatus, PortfolioOut, SolverInfo, Violation
from flexmodel.site_plan import VIOLATION_KWH, SitePlan

GAP_OPTIMAL = 1e-6  # a proven relative gap below this counts as optimal


@dataclass(frozen=True, slots=True)
class PortfolioViolations:
    cap_kwh: float  # Σ_t max(0, net_t - cap_t)·Δ over the slots with a cap
    floor_kwh: float  # Σ_t max(0, floor_t - net_t)·Δ over the slots with a floor

    @property
    def total_kwh(self) -> float:
        return self.cap_kwh + self.floor_kwh


def net_import_kw(plans: list[SitePlan], n_slots: int) -> FloatArray:
    net = np.zeros(n_slots)
    for plan in plans:
        net += plan.flows.grid_import_kw - plan.flows.grid_export_kw
    return net


def portfolio_violations(net_kw: FloatArray, portfolio: PortfolioProblem) -> PortfolioViolations:
    cap = portfolio.net_import_cap_kw
    floor = portfolio.net_import_floor_kw
    over = np.where(np.isfinite(cap), np.maximum(0.0, net_kw - np.nan_to_num(cap)), 0.0)
    under = np.where(np.isfinite(floor), np.maximum(0.0, np.nan_to_num(floor) - net_kw), 0.0)
    return PortfolioViolations(float(over.sum() * portfolio.dt_h), float(under.sum() * portfolio.dt_h))


def imbalance_eur(net_kw: FloatArray, portfolio: PortfolioProblem) -> float:
    deviation = net_kw - portfolio.nominated_net_kw
    return float(np.dot(portfolio.imbalance_eur_per_kwh, deviation) * portfolio.dt_h)


def objective_eur(plans: list[SitePlan], portfolio: PortfolioProblem) -> float:
    """Σ sites' total cost + the portfolio's imbalance term: what the planner minimises last."""
    net = net_import_kw(plans, portfolio.n_slots)
    return sum(p.cost.total_eur for p in plans) + imbalance_eur(net, portfolio)


def portfolio_plan(
    plans: list[SitePlan],
    portfolio: PortfolioProblem,
    *,
    solver: str,
    seconds: float,
    gap: float | None,
    message: str | None = None,
) -> Plan:
    """The spec's Plan. Status: best_effort when a site or the portfolio misses something;
    else feasible when the proven gap exceeds GAP_OPTIMAL (gap reported); else optimal."""
    net = net_import_kw(plans, portfolio.n_slots)
    found = portfolio_violations(net, portfolio)
    violations = []
    if found.cap_kwh > VIOLATION_KWH:
        violations.append(Violation(kind="net_import_cap", kwh=found.cap_kwh))
    if found.floor_kwh > VIOLATION_KWH:
        violations.append(Violation(kind="net_import_floor", kwh=found.floor_kwh))
    site_gaps = [p.gap for p in plans if p.gap is not None]
    gaps = site_gaps + ([gap] if gap is not None else [])
    worst_gap = max(gaps) if gaps else None
    if violations or any(p.status is PlanStatus.BEST_EFFORT for p in plans):
        status = PlanStatus.BEST_EFFORT
    elif worst_gap is not None and worst_gap > GAP_OPTIMAL:
        status = PlanStatus.FEASIBLE
    else:
        status = PlanStatus.OPTIMAL
    imbalance = imbalance_eur(net, portfolio)
    return Plan(
        status=status,
        objective_eur=sum(p.cost.total_eur for p in plans) + imbalance,
        solver=SolverInfo(name=solver, seconds=seconds),
        portfolio=PortfolioOut(
            net_import_kw=[float(v) for v in net], imbalance_eur=imbalance, violations=violations
        ),
        sites=[site_plan_out(p) for p in plans],
        gap=worst_gap if status is not PlanStatus.OPTIMAL else None,
        message=message,
    )
