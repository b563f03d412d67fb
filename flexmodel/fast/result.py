"""From the LP's column values to the planner's `SitePlan`, as flexmodel.planner.solve_site does.

Flows are cut out of the solution vector; costs, EV energies, violations and the status are
computed by the same functions (flexmodel.site_plan) the Pyomo path uses.
"""

from __future__ import annotations

import numpy as np

from flexmodel.fast.layout import Layout
from flexmodel.planner import GAP_OPTIMAL
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.scenario import PlanStatus
from flexmodel.site_plan import ZERO_KW, SiteFlows, SitePlan, ev_energy, site_cost, violations


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
    return SiteFlows(
        grid_import_kw=block(layout.g),
        grid_export_kw=block(layout.e),
        pv_used_kw=block(layout.u),
        charge_kw=charge,
        discharge_kw=discharge,
        battery_soc_kwh=soc,
        ev_kw=ev_kw,
    )


def site_plan(
    p: SiteProblem, flows: SiteFlows, gap: float | None, binary_slots: int, seconds: float
) -> SitePlan:
    energy = ev_energy(flows, p)
    found = violations(flows, p, energy)
    if found:
        status = PlanStatus.BEST_EFFORT
    elif gap is not None and gap > GAP_OPTIMAL:
        status = PlanStatus.FEASIBLE
    else:
        status = PlanStatus.OPTIMAL
    imbalance = float(np.dot(p.imbalance_eur_per_kwh, flows.grid_import_kw - flows.grid_export_kw))
    return SitePlan(
        site_id=p.site_id,
        status=status,
        flows=flows,
        ev_energy_kwh=energy,
        peak_kw=float(flows.grid_import_kw.max(initial=0.0)),
        cost=site_cost(flows, p),
        imbalance_eur=imbalance * p.dt_h,
        violations=found,
        needed_binaries=binary_slots > 0,
        binary_slots=binary_slots,
        gap=gap if status is PlanStatus.FEASIBLE else None,
        solve_seconds=seconds,
    )
