"""The priority levels as named expressions; `flexmodel.solve` decides how to optimise them."""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem
from flexmodel.scenario import EvMode


def add_levels(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    dt = p.dt_h
    # The heat pump's comfort miss (C·K = kWh of heat) shares the first level: a physical limit too.
    m.level_overrun_kwh = pyo.Expression(
        expr=sum(dt * (m.import_overrun_kw[t] + m.export_overrun_kw[t]) for t in m.T) + m.comfort_miss_kwh
    )
    smart = [ev for ev in p.optimised_evs if ev.mode is EvMode.SMART]
    solar = [ev for ev in p.optimised_evs if ev.mode is EvMode.SOLAR]
    m.level_smart_shortfall_kwh = pyo.Expression(
        expr=sum(ev.energy_needed_kwh - m.ev_energy_kwh[ev.ev_id] for ev in smart)
    )
    m.level_solar_energy_kwh = pyo.Expression(expr=sum(m.ev_energy_kwh[ev.ev_id] for ev in solar))
    # Import is charged at its price plus the imbalance price, export earns its price plus the
    # imbalance price: imbalance·(g - e)·Δ is the site's exact share of the portfolio's term.
    buy = p.import_price_eur_per_kwh + p.imbalance_eur_per_kwh
    sell = p.export_price_eur_per_kwh + p.imbalance_eur_per_kwh
    m.level_cost_eur = pyo.Expression(
        expr=sum(
            dt * (float(buy[t]) * m.grid_import_kw[t] - float(sell[t]) * m.grid_export_kw[t]) for t in m.T
        )
        + p.capacity_eur_per_kw_month * m.peak_excess_kw
    )
