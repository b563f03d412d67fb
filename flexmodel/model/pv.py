"""PV: used power u_t in [0, forecast], equal to the forecast when not curtailable."""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def add_pv(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    def bounds(m: pyo.ConcreteModel, t: int) -> tuple[float, float]:
        pv = float(p.pv_kw[t])
        return (0.0 if p.pv_curtailable else pv, pv)

    m.pv_used_kw = pyo.Var(m.T, bounds=bounds, doc="u_t [kW]")
