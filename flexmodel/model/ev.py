"""EVs: smart and solar sessions are decisions; boost sessions are a fixed load (see problem.py).

v_{k,t} in [0, max_power_kw] in the session's charging slots only; delivered energy
Σ v·η·Δ never exceeds energy_needed_kwh; solar EVs together stay within max(0, pv_t - base_t).
"""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem
from flexmodel.scenario import EvMode


def add_evs(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    evs = {ev.ev_id: ev for ev in p.optimised_evs}
    m.EV = pyo.Set(initialize=list(evs), ordered=True, doc="Smart and solar EVs (boost is fixed load)")
    m.EV_SLOT = pyo.Set(
        dimen=2,
        initialize=[(k, t) for k, ev in evs.items() for t in range(ev.first_slot, ev.stop_slot)],
        ordered=True,
        doc="(ev, slot) pairs inside each session's charging window",
    )
    m.ev_kw = pyo.Var(m.EV_SLOT, bounds=lambda m, k, t: (0.0, evs[k].max_power_kw), doc="v_{k,t} [kW]")
    by_slot: dict[int, list[str]] = {}
    for k, t in m.EV_SLOT:
        by_slot.setdefault(t, []).append(k)
    m.ev_total_kw = pyo.Expression(
        m.T, rule=lambda m, t: sum(m.ev_kw[k, t] for k in by_slot.get(t, [])), doc="Σ_k v_{k,t} [kW]"
    )
    m.ev_energy_kwh = pyo.Expression(
        m.EV,
        rule=lambda m, k: sum(
            evs[k].efficiency * p.dt_h * m.ev_kw[k, t] for t in range(evs[k].first_slot, evs[k].stop_slot)
        ),
        doc="energy delivered into each car [kWh]",
    )
    m.ev_at_most_needed = pyo.Constraint(
        m.EV, rule=lambda m, k: m.ev_energy_kwh[k] <= evs[k].energy_needed_kwh
    )
    surplus = p.solar_surplus_kw

    def solar_only(m: pyo.ConcreteModel, t: int) -> pyo.Expression:
        solar = [k for k in by_slot.get(t, []) if evs[k].mode is EvMode.SOLAR]
        if not solar:
            return pyo.Constraint.Skip
        return sum(m.ev_kw[k, t] for k in solar) <= float(surplus[t])

    m.solar_only = pyo.Constraint(m.T, rule=solar_only)
