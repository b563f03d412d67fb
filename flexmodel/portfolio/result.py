"""A portfolio's answer: the solved sites plus the coupling, turned into the spec's Plan.

The one implementation of the portfolio's sums (net import, the excess over caps and under
floors, the violation in kWh, the imbalance term, the objective) and of the tolerance below which
a miss is solver noise: `VIOLATION_KWH`, the same as for a site's limits and EV targets. Every
formulation (independent homes, joint model, column generation, price coordination) reports
through `portfolio_plan`, so what a plan reports is recomputed from its arrays, never taken from
a solver's slacks, and the same way whichever formulation made it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexmodel.problem import FloatArray, PortfolioProblem
from flexmodel.scenario import Plan, PlanStatus, PortfolioOut, SolverInfo, Violation
from flexmodel.site_plan import GAP_OPTIMAL, VIOLATION_KWH, SitePlan, site_plan_out


@dataclass(frozen=True, slots=True)
class PortfolioViolations:
    cap_kwh: float  # Σ_t max(0, net_t - cap_t)·Δ over the slots with a cap
    floor_kwh: float  # Σ_t max(0, floor_t - net_t)·Δ over the slots with a floor

    @property
    def total_kwh(self) -> float:
        return self.cap_kwh + self.floor_kwh

    def reported(self) -> list[Violation]:
        """The violations a plan reports: those above solver noise (VIOLATION_KWH)."""
        found = []
        if self.cap_kwh > VIOLATION_KWH:
            found.append(Violation(kind="net_import_cap", kwh=self.cap_kwh))
        if self.floor_kwh > VIOLATION_KWH:
            found.append(Violation(kind="net_import_floor", kwh=self.floor_kwh))
        return found

    @property
    def met(self) -> bool:
        """Every cap and floor holds (to solver noise)."""
        return not self.reported()


def net_import_kw(plans: list[SitePlan], n_slots: int) -> FloatArray:
    """Σ_sites (g_t - e_t) per slot [kW]."""
    net = np.zeros(n_slots)
    for plan in plans:
        net += plan.flows.net_import_kw
    return net


def excess_kw(net_kw: FloatArray, portfolio: PortfolioProblem) -> tuple[FloatArray, FloatArray]:
    """(over the cap, under the floor) per slot [kW], zero where no cap or floor is set."""
    cap, floor = portfolio.net_import_cap_kw, portfolio.net_import_floor_kw
    over = np.where(np.isfinite(cap), np.maximum(0.0, net_kw - np.nan_to_num(cap)), 0.0)
    under = np.where(np.isfinite(floor), np.maximum(0.0, np.nan_to_num(floor) - net_kw), 0.0)
    return over, under


def portfolio_violations(net_kw: FloatArray, portfolio: PortfolioProblem) -> PortfolioViolations:
    over, under = excess_kw(net_kw, portfolio)
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
    gap: float | None = None,
    proven: bool = True,
    message: str | None = None,
) -> Plan:
    """The spec's Plan from the solved sites (in scenario order).

    Status: best_effort when a site or the portfolio misses something; else feasible when a site
    is, when the formulation proves no optimum (`proven` False: price coordination, a time
    limit), or when the proven gap (the sites' and the formulation's `gap`) exceeds GAP_OPTIMAL;
    else optimal. The gap is reported unless the plan is optimal."""
    net = net_import_kw(plans, portfolio.n_slots)
    violations = portfolio_violations(net, portfolio).reported()
    gaps = [p.gap for p in plans if p.gap is not None] + ([gap] if gap is not None else [])
    worst_gap = max(gaps) if gaps else None
    statuses = {p.status for p in plans}
    if violations or PlanStatus.BEST_EFFORT in statuses:
        status = PlanStatus.BEST_EFFORT
    elif PlanStatus.FEASIBLE in statuses or not proven or (worst_gap or 0.0) > GAP_OPTIMAL:
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


def error_plan(message: str, solver: str, seconds: float = 0.0) -> Plan:
    """The request could not be planned at all: status error with its message."""
    return Plan(
        status=PlanStatus.ERROR,
        objective_eur=None,
        solver=SolverInfo(name=solver, seconds=seconds),
        portfolio=None,
        sites=[],
        message=message,
    )
