"""Portfolio flexibility for bidding: per hour, how many kW the portfolio can reduce or add.

Definition (what can be offered without over-promising): for hour h, `reduce_kw[h]` is the
largest r such that some plan has net import at least r below the planned net import in every
quarter-hour of h (so it can be delivered as a block), while

- every home keeps its physical limits and its smart-EV shortfall no worse than in the plan
  (every target the plan meets is still met; solar-EV energy is best effort and may change);
- the portfolio's caps and floors are no worse than in the plan in every slot:
  net_t <= max(cap_t, planned_t) and net_t >= min(floor_t, planned_t).

`add_kw[h]` likewise with net import at least r above the plan. Each (hour, direction) is one
exact optimisation (`exact_flexibility`): the joint model of joint.py with r maximised, an LP
with battery binaries only where its answer charges and discharges at once (as the planner does).

Large portfolios (`safe_flexibility`): the same optimisation per home alone, where the home's own
net import may not exceed its planned net import in any capped slot, nor fall below it in any
floored slot. Why the sum never over-promises: without caps and floors the homes' models share
no constraint, so the homes' own best deviations can be carried out at the same time and add
up. With them, the guard makes each home stay on its side of its own plan in the coupled slots,
so the portfolio's net there moves only in the allowed direction: every home's deviation is
feasible whatever the others do. It is a lower bound on the exact figure (a home cannot use
another's slack in a capped slot), never above it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from flexmodel.portfolio.joint import _Exclusive, build_joint_model
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.site_plan import SitePlan, read_flows
from flexmodel.solve import SolverOptions, make_solver, solve

LEVEL_SLACK = 1e-6  # kWh: how far a kept level may move (solver noise)
MAX_BINARY_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class Flexibility:
    """Per hour of the plan [kW]: reduce_kw[h] below and add_kw[h] above the planned net import."""

    reduce_kw: FloatArray
    add_kw: FloatArray


def _levels_of(plans: list[SitePlan], problems: list[SiteProblem]) -> tuple[float, float]:
    over = short = 0.0
    for plan, p in zip(plans, problems, strict=True):
        for v in plan.violations:
            if v.kind == "ev_shortfall":
                smart = any(ev.ev_id == v.ev_id and str(ev.mode) == "smart" for ev in p.evs)
                short += v.kwh if smart else 0.0
            else:
                over += v.kwh
    return over, short


def _guarded(portfolio: PortfolioProblem, planned: FloatArray) -> tuple[FloatArray, FloatArray]:
    cap, floor = portfolio.net_import_cap_kw, portfolio.net_import_floor_kw
    upper = np.where(np.isfinite(cap), np.maximum(np.nan_to_num(cap), planned), np.inf)
    lower = np.where(np.isfinite(floor), np.minimum(np.nan_to_num(floor), planned), -np.inf)
    return upper, lower


def _model(
    problems: list[SiteProblem], portfolio: PortfolioProblem, exclusive: _Exclusive, plans: list[SitePlan]
) -> pyo.ConcreteModel:
    free = dataclasses.replace(
        portfolio,
        net_import_cap_kw=np.full(portfolio.n_slots, np.nan),
        net_import_floor_kw=np.full(portfolio.n_slots, np.nan),
    )
    m, _ = build_joint_model(problems, free, exclusive)
    planned = sum(
        (p.flows.grid_import_kw - p.flows.grid_export_kw for p in plans), np.zeros(portfolio.n_slots)
    )
    upper, lower = _guarded(portfolio, planned)
    m.guard_cap = pyo.Constraint(
        [int(t) for t in np.flatnonzero(np.isfinite(upper))],
        rule=lambda m, t: m.net_kw[t] <= float(upper[t]) + 1e-7,
    )
    m.guard_floor = pyo.Constraint(
        [int(t) for t in np.flatnonzero(np.isfinite(lower))],
        rule=lambda m, t: m.net_kw[t] >= float(lower[t]) - 1e-7,
    )
    over, short = _levels_of(plans, problems)
    m.keep_overrun = pyo.Constraint(expr=m.level_overrun_kwh <= over + LEVEL_SLACK)
    m.keep_shortfall = pyo.Constraint(expr=m.level_smart_shortfall_kwh <= short + LEVEL_SLACK)
    m.r_kw = pyo.Var(domain=pyo.NonNegativeReals, doc="deviation offered in every slot of the hour [kW]")
    m.objective = pyo.Objective(expr=m.r_kw, sense=pyo.maximize)
    m.planned = planned
    return m


def _solve_hour(m: pyo.ConcreteModel, slots: range, sign: float, solver: object, mip: bool) -> float:
    if hasattr(m, "deviation"):
        m.del_component(m.deviation)
    planned = m.planned
    # sign -1: reduce (net <= planned - r); +1: add (net >= planned + r)
    m.deviation = pyo.Constraint(
        list(slots),
        rule=lambda m, t: (
            m.net_kw[t] <= float(planned[t]) - m.r_kw
            if sign < 0
            else m.net_kw[t] >= float(planned[t]) + m.r_kw
        ),
    )
    return float(solve(m, solver, "flexibility", mip=mip).objective)


def _battery_both(m: pyo.ConcreteModel, problems: list[SiteProblem]) -> dict[int, set[int]]:
    found = {}
    for i, p in enumerate(problems):
        if p.battery is not None:
            slots = read_flows(m.site[i], p).battery_both_slots()
            if slots:
                found[i] = slots
    return found


def exact_flexibility(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    plans: list[SitePlan],
    options: SolverOptions,
    slots_per_hour: int | None = None,
    hours: Sequence[int] | None = None,
) -> Flexibility:
    """The exact figures of the module docstring for these homes around their plans."""
    per_hour = slots_per_hour or max(1, round(1.0 / portfolio.dt_h))
    n_hours = portfolio.n_slots // per_hour
    exclusive = _Exclusive()
    m = _model(problems, portfolio, exclusive, plans)
    # One solver per model: the persistent HiGHS interface then only updates the hour's rows.
    solver = make_solver(options)
    out = {-1.0: np.zeros(n_hours), 1.0: np.zeros(n_hours)}
    for h in range(n_hours) if hours is None else hours:
        slots = range(h * per_hour, (h + 1) * per_hour)
        for sign in (-1.0, 1.0):
            for _ in range(MAX_BINARY_ROUNDS):
                value = _solve_hour(m, slots, sign, solver, exclusive.any())
                both = _battery_both(m, problems)
                new = {i: s - exclusive.battery.get(i, set()) for i, s in both.items()}
                if not any(new.values()):
                    break
                # Charging and discharging at once burns energy the battery cannot burn: forbid it
                # there with binaries (the model is rebuilt with them) and solve the hour again.
                for i, s in new.items():
                    exclusive.battery.setdefault(i, set()).update(s)
                m = _model(problems, portfolio, exclusive, plans)
                solver = make_solver(options)
            out[sign][h] = max(0.0, value)
    return Flexibility(reduce_kw=out[-1.0], add_kw=out[1.0])


def safe_flexibility(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    plans: list[SitePlan],
    options: SolverOptions,
    slots_per_hour: int | None = None,
    hours: Sequence[int] | None = None,
) -> Flexibility:
    """The large-portfolio figures: per home alone with its guard, summed (module docstring)."""
    total_reduce: FloatArray | None = None
    total_add: FloatArray | None = None
    for p, plan in zip(problems, plans, strict=True):
        own = plan.flows.grid_import_kw - plan.flows.grid_export_kw
        guard = dataclasses.replace(
            portfolio,
            net_import_cap_kw=np.where(np.isfinite(portfolio.net_import_cap_kw), own, np.nan),
            net_import_floor_kw=np.where(np.isfinite(portfolio.net_import_floor_kw), own, np.nan),
        )
        flex = exact_flexibility([p], guard, [plan], options, slots_per_hour, hours)
        total_reduce = flex.reduce_kw if total_reduce is None else total_reduce + flex.reduce_kw
        total_add = flex.add_kw if total_add is None else total_add + flex.add_kw
    if total_reduce is None or total_add is None:
        return Flexibility(np.zeros(0), np.zeros(0))
    return Flexibility(reduce_kw=total_reduce, add_kw=total_add)
