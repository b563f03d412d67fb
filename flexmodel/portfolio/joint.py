"""The exact joint plan of a portfolio: one Pyomo model, one block per site, plus the coupling.

Each site's block is built by the planner's own builders (flexmodel.model: grid, PV, battery,
EVs, balance, capacity tariff, levels), so the site model cannot drift from the per-home one.
The coupling adds, per slot with a cap or floor, a violation slack:

    Σ_sites (g_t - e_t) + background_t - cap_over_t   <= cap_t
    Σ_sites (g_t - e_t) + background_t + floor_under_t >= floor_t

(`background_kw` is the net import of homes planned elsewhere: the decomposition's last step
re-plans a few homes jointly around the others.) The levels, in the spec's order:

    1. Σ grid-limit overrun (physical limits)       minimise
    2. Σ smart-EV shortfall                          minimise
    3. Σ_t Δ·(cap_over_t + floor_under_t)            minimise (reported as portfolio violations)
    4. Σ solar-EV energy                             maximise
    5. Σ site costs + imbalance term                 minimise

Solved as flexmodel.solve does for one site: one weighted solve, accepted when every higher
level sits at a value no plan can beat (its ideal: 0, 0, 0, the solar bound), which proves it
lexicographically optimal; otherwise the levels are optimised and fixed one after another.
Exclusivity (no import and export, no charge and discharge in one slot) as in solve_site: an LP
first, binaries only on the slots of the sites whose answer does both, until none does.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from flexmodel.errors import SolveFailed
from flexmodel.model.appliance import add_appliances
from flexmodel.model.battery import add_battery
from flexmodel.model.capacity import add_capacity_tariff
from flexmodel.model.ev import add_evs
from flexmodel.model.grid import add_balance, add_grid
from flexmodel.model.heat_pump import add_heat_pump
from flexmodel.model.objective import add_levels
from flexmodel.model.pv import add_pv
from flexmodel.priorities import ATTAINED_TOL, LEVEL_TOL, solar_energy_bound_kwh
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.site_plan import SitePlan, net_grid, plan_from_flows, read_flows
from flexmodel.solve import SolverOptions, make_solver, solve

log = logging.getLogger(__name__)

MAX_BINARY_ROUNDS = 20


@dataclass(frozen=True, slots=True)
class JointLevel:
    name: str  # an Expression of the joint model
    maximise: bool
    ideal: float
    weight: float  # EUR per unit in the first, weighted solve


@dataclass(frozen=True, slots=True)
class JointResult:
    plans: list[SitePlan]
    gap: float | None  # relative MIP gap of the last solve when binaries were needed
    proven: bool
    binary_slots: int


@dataclass(slots=True)
class _Exclusive:
    """Per site: the slots that carry import/export and charge/discharge binaries."""

    grid: dict[int, set[int]] = field(default_factory=dict)
    battery: dict[int, set[int]] = field(default_factory=dict)

    def any(self) -> bool:
        return any(self.grid.values()) or any(self.battery.values())

    def count(self) -> int:
        return sum(len(s) for s in self.grid.values()) + sum(len(s) for s in self.battery.values())


def add_site_block(
    b: pyo.Block, p: SiteProblem, grid_slots: Collection[int] = (), battery_slots: Collection[int] = ()
) -> None:
    """The per-site model of flexmodel.model.build_model, built on a block of the joint model."""
    b.T = pyo.RangeSet(0, p.n_slots - 1, doc="Slots t of the horizon")
    b.T1 = pyo.RangeSet(0, p.n_slots, doc="Slot boundaries 0..n (SoC instants)")
    add_grid(b, p, grid_slots)
    add_pv(b, p)
    add_battery(b, p, battery_slots)
    add_evs(b, p)
    add_heat_pump(b, p)
    add_appliances(b, p)
    add_balance(b, p)
    add_capacity_tariff(b, p)
    add_levels(b, p)


def _add_coupling(m: pyo.ConcreteModel, portfolio: PortfolioProblem, background_kw: FloatArray) -> None:
    cap, floor = portfolio.net_import_cap_kw, portfolio.net_import_floor_kw
    m.CAPPED = pyo.Set(initialize=[int(t) for t in np.flatnonzero(np.isfinite(cap))], doc="Slots with a cap")
    m.FLOORED = pyo.Set(
        initialize=[int(t) for t in np.flatnonzero(np.isfinite(floor))], doc="Slots with a floor"
    )
    m.net_kw = pyo.Expression(
        m.T,
        rule=lambda m, t: (
            sum(m.site[i].grid_import_kw[t] - m.site[i].grid_export_kw[t] for i in m.SITES)
            + float(background_kw[t])
        ),
        doc="Σ_sites (g_t - e_t) [kW]",
    )
    m.cap_over_kw = pyo.Var(m.CAPPED, domain=pyo.NonNegativeReals, doc="net import above the cap [kW]")
    m.floor_under_kw = pyo.Var(m.FLOORED, domain=pyo.NonNegativeReals, doc="net import below the floor [kW]")
    m.cap = pyo.Constraint(m.CAPPED, rule=lambda m, t: m.net_kw[t] - m.cap_over_kw[t] <= float(cap[t]))
    m.floor = pyo.Constraint(
        m.FLOORED, rule=lambda m, t: m.net_kw[t] + m.floor_under_kw[t] >= float(floor[t])
    )


def _price_scale(problems: list[SiteProblem]) -> float:
    """EUR a kWh can change at most in the cost (as flexmodel.solve's weights), over all sites."""
    scale = 1.0
    for p in problems:
        price = float(abs(p.import_price_eur_per_kwh).max() + abs(p.export_price_eur_per_kwh).max())
        price += 2 * float(abs(p.imbalance_eur_per_kwh).max())
        min_eff = min([ev.efficiency for ev in p.evs] + [1.0])
        scale = max(scale, (price + p.capacity_eur_per_kw_month / p.dt_h) / min_eff + 1.0)
    return scale


def build_joint_model(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    exclusive: _Exclusive | None = None,
    background_kw: FloatArray | None = None,
) -> tuple[pyo.ConcreteModel, list[JointLevel]]:
    exclusive = exclusive or _Exclusive()
    m = pyo.ConcreteModel(name="portfolio")
    m.T = pyo.RangeSet(0, portfolio.n_slots - 1, doc="Slots t of the horizon")
    m.SITES = pyo.RangeSet(0, len(problems) - 1, doc="Sites, in scenario order")

    def site_rule(b: pyo.Block, i: int) -> None:
        add_site_block(b, problems[i], exclusive.grid.get(i, ()), exclusive.battery.get(i, ()))

    m.site = pyo.Block(m.SITES, rule=site_rule)
    background = background_kw if background_kw is not None else np.zeros(portfolio.n_slots)
    _add_coupling(m, portfolio, background)
    dt = portfolio.dt_h
    m.level_overrun_kwh = pyo.Expression(expr=sum(m.site[i].level_overrun_kwh for i in m.SITES))
    m.level_smart_shortfall_kwh = pyo.Expression(
        expr=sum(m.site[i].level_smart_shortfall_kwh for i in m.SITES)
    )
    m.level_portfolio_kwh = pyo.Expression(
        expr=sum(dt * m.cap_over_kw[t] for t in m.CAPPED) + sum(dt * m.floor_under_kw[t] for t in m.FLOORED)
    )
    m.level_solar_energy_kwh = pyo.Expression(expr=sum(m.site[i].level_solar_energy_kwh for i in m.SITES))
    # Each site's level_cost carries imbalance·(g - e)·Δ; the nomination's part is a constant.
    m.level_cost_eur = pyo.Expression(expr=sum(m.site[i].level_cost_eur for i in m.SITES))
    scale = _price_scale(problems)
    levels = [
        JointLevel("level_overrun_kwh", False, 0.0, 1e4 * scale),
        JointLevel("level_smart_shortfall_kwh", False, 0.0, 1e3 * scale),
        JointLevel("level_portfolio_kwh", False, 0.0, 1e2 * scale),
        JointLevel(
            "level_solar_energy_kwh", True, sum(solar_energy_bound_kwh(p) for p in problems), 10 * scale
        ),
    ]
    return m, levels


def _distance(m: pyo.ConcreteModel, level: JointLevel) -> pyo.Expression:
    expr = getattr(m, level.name)
    return level.ideal - expr if level.maximise else expr - level.ideal


def _set_objective(m: pyo.ConcreteModel, expr: object, maximise: bool = False) -> None:
    if hasattr(m, "objective"):
        m.del_component(m.objective)
    m.objective = pyo.Objective(expr=expr, sense=pyo.maximize if maximise else pyo.minimize)


def _attained(m: pyo.ConcreteModel, level: JointLevel) -> bool:
    value = float(pyo.value(getattr(m, level.name)))
    tol = ATTAINED_TOL * max(1.0, abs(level.ideal))
    return value >= level.ideal - tol if level.maximise else value <= level.ideal + tol


def solve_levels(
    m: pyo.ConcreteModel, levels: list[JointLevel], options: SolverOptions, *, mip: bool
) -> tuple[float | None, bool]:
    """Optimise the joint levels in priority order; leaves the answer in m. Returns (gap, proven)."""
    solver = make_solver(options)
    _set_objective(m, m.level_cost_eur + sum(lv.weight * _distance(m, lv) for lv in levels))
    result = solve(m, solver, "portfolio", mip=mip)
    attained = [_attained(m, lv) for lv in levels]
    if all(attained):
        return result.gap, result.proven
    log.debug("portfolio: weighted solve missed a priority level; solving the levels in sequence")
    proven = True
    for k, level in enumerate(levels):
        if all(attained[: k + 1]):
            value = level.ideal
        else:
            _set_objective(m, getattr(m, level.name), level.maximise)
            level_result = solve(m, solver, "portfolio", mip=mip)
            proven = proven and level_result.proven
            value = level_result.objective
        tol = (LEVEL_TOL if value != level.ideal else ATTAINED_TOL) * max(1.0, abs(value))
        expr = getattr(m, level.name)
        m.add_component(
            f"fix_{level.name}",
            pyo.Constraint(expr=expr >= value - tol if level.maximise else expr <= value + tol),
        )
    _set_objective(m, m.level_cost_eur)
    last = solve(m, solver, "portfolio", mip=mip)
    return last.gap, proven and last.proven


def _site_plan(p: SiteProblem, b: pyo.Block, gap: float | None, binary_slots: int) -> SitePlan:

    flows = net_grid(read_flows(b, p), p)
    return plan_from_flows(flows, p, binary_slots=binary_slots + p.own_binaries)


def solve_joint(
    problems: list[SiteProblem],
    portfolio: PortfolioProblem,
    options: SolverOptions,
    background_kw: FloatArray | None = None,
) -> JointResult:
    """The exact lexicographic joint plan (see the module docstring)."""
    exclusive = _Exclusive()
    for _ in range(MAX_BINARY_ROUNDS + 1):
        m, levels = build_joint_model(problems, portfolio, exclusive, background_kw)
        mip = exclusive.any() or any(p.needs_integers for p in problems)
        gap, proven = solve_levels(m, levels, options, mip=mip)
        grew = False
        for i, p in enumerate(problems):
            # Netting import against export keeps g - e (so the coupling) and never costs more.
            flows = net_grid(read_flows(m.site[i], p), p)
            new_grid = flows.grid_both_slots() - exclusive.grid.get(i, set())
            new_battery = flows.battery_both_slots() - exclusive.battery.get(i, set())
            if new_grid or new_battery:
                exclusive.grid.setdefault(i, set()).update(new_grid)
                exclusive.battery.setdefault(i, set()).update(new_battery)
                grew = True
        if not grew:
            break
        log.debug("portfolio: adding binaries, %d slots now", exclusive.count())
    else:
        raise SolveFailed("portfolio", f"binaries still growing after {MAX_BINARY_ROUNDS} rounds")
    plans = [
        _site_plan(p, m.site[i], gap, len(exclusive.grid.get(i, ())) + len(exclusive.battery.get(i, ())))
        for i, p in enumerate(problems)
    ]
    return JointResult(plans=plans, gap=gap, proven=proven, binary_slots=exclusive.count())
