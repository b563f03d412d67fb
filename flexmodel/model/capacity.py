"""Capacity tariff: billed on max(0, P - peak_floor), P >= g_t for every slot."""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def add_capacity_tariff(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    # One variable for the billed excess instead of P itself: excess >= g_t - floor and
    # excess >= 0 is max(0, max_t g_t - floor) at the optimum whenever its price is positive.
    m.peak_excess_kw = pyo.Var(domain=pyo.NonNegativeReals, doc="max(0, P - peak_floor_kw) [kW]")
    m.peak_excess = pyo.Constraint(
        m.T, rule=lambda m, t: m.peak_excess_kw >= m.grid_import_kw[t] - p.peak_floor_kw
    )
