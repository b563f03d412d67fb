"""From the LP's column values to the planner's `SitePlan`, as flexmodel.model.solver.solve_site does.

Flows are cut out of the solution vector; costs, EV energies, violations and the status are
computed by the same functions (flexmodel.site_plan) the Pyomo path uses.
"""

from __future__ import annotations

import numpy as np

from flexmodel.fast.layout import Layout
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.site_plan import ZERO_KW, SiteFlows, SitePlan, appliance_power, plan_from_flows

INTEGER_TOL = 1e-6  # an LP's z (or a heat pump's power) within this of a MILP-feasible value


def _clean(values: FloatArray) -> FloatArray:
    """Solver noise below ZERO_KW written as 0 (as site_plan does for the Pyomo answer)."""
    return np.where(np.abs(values) < ZERO_KW, 0.0, values)


def flows_from_solution(x: FloatArray, layout: Layout, p: SiteProblem) -> SiteFlows:
    n = layout.n

    def block(col: int) -> FloatArray:
        return _clean(x[col : col + n])

    ev_kw: dict[str, FloatArray] = {}
    optimised = iter(range(len(layout.ev_modes)))
    for ev in p.evs:
        if ev.boost_kw is not None:
            ev_kw[ev.ev_id] = np.array(ev.boost_kw)
        else:
            ev_kw[ev.ev_id] = block(layout.v(next(optimised)))
    if p.battery is None:
        charge, discharge, soc = np.zeros(n), np.zeros(n), np.zeros(n + 1)
    else:
        charge, discharge = block(layout.c), block(layout.d)
        soc = _clean(np.concatenate([[p.battery.initial_soc_kwh], x[layout.soc : layout.soc + n]]))
    hp_kw = temp = None
    if p.heat_pump is not None:
        hp_kw = block(layout.hp)
        temp = np.concatenate([[p.heat_pump.initial_temp_c], x[layout.temp : layout.temp + n]])
    starts = {
        a.appliance_id: int(np.argmax(x[layout.z(j) : layout.z(j) + n])) for j, a in enumerate(p.appliances)
    }
    return SiteFlows(
        grid_import_kw=block(layout.g),
        grid_export_kw=block(layout.e),
        pv_used_kw=block(layout.u),
        charge_kw=charge,
        discharge_kw=discharge,
        battery_soc_kwh=soc,
        ev_kw=ev_kw,
        heat_pump_kw=hp_kw,
        indoor_temp_c=temp,
        appliance_kw=appliance_power(p, starts),
        appliance_start=starts,
    )


def integer_feasible(x: FloatArray, layout: Layout, p: SiteProblem) -> bool:
    """Whether an LP answer is already an answer of the MILP: every appliance has a single start
    (z integral) and the heat pump runs at 0 or at least its minimum power in every slot. Then it
    is the MILP's optimum too (the LP is its relaxation) and no binary is needed."""
    n = layout.n
    for j in range(layout.n_appliances):
        z = x[layout.z(j) : layout.z(j) + n]
        if np.abs(z - np.round(z)).max() > INTEGER_TOL:
            return False
    hp = p.heat_pump
    if hp is not None and hp.needs_binaries:
        power = x[layout.hp : layout.hp + n]
        between = (power > INTEGER_TOL) & (power < hp.min_power_kw - INTEGER_TOL)
        if between.any():
            return False
    return True


def site_plan(
    p: SiteProblem, flows: SiteFlows, gap: float | None, binary_slots: int, seconds: float
) -> SitePlan:
    return plan_from_flows(flows, p, binary_slots=binary_slots, gap=gap, solve_seconds=seconds)
