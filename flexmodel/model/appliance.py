"""Shiftable appliances: exactly one start per appliance among its allowed start slots.

z_{j,s} binary for each allowed start s of appliance j, Σ_s z_{j,s} = 1; the appliance draws
a_{j,t} = Σ_s z_{j,s}·slot_kw_j[t - s] (0 <= t - s < len(slot_kw_j)).
"""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def add_appliances(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    apps = p.appliances
    m.APPLIANCE = pyo.RangeSet(0, len(apps) - 1, doc="Appliances, in site order")
    m.APPLIANCE_START = pyo.Set(
        dimen=2,
        initialize=[(j, s) for j, a in enumerate(apps) for s in a.starts],
        ordered=True,
        doc="(appliance, allowed start slot)",
    )
    m.appliance_start = pyo.Var(m.APPLIANCE_START, domain=pyo.Binary, doc="z_{j,s}: starts in slot s")
    m.one_start = pyo.Constraint(
        m.APPLIANCE, rule=lambda m, j: sum(m.appliance_start[j, s] for s in apps[j].starts) == 1
    )
    by_slot: dict[int, list[tuple[int, int, float]]] = {}
    for j, a in enumerate(apps):
        for s in a.starts:
            for k, kw in enumerate(a.slot_kw):
                if s + k < p.n_slots and kw != 0.0:
                    by_slot.setdefault(s + k, []).append((j, s, float(kw)))
    m.appliance_total_kw = pyo.Expression(
        m.T,
        rule=lambda m, t: sum(kw * m.appliance_start[j, s] for j, s, kw in by_slot.get(t, [])),
        doc="Σ_j a_{j,t} [kW]",
    )
