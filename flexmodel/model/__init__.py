"""The Pyomo model of one site, built from one function per constraint family (STYLE rule 12).

`build_model(problem, binaries=False)` returns a ConcreteModel with four level expressions that
the lexicographic solve in `flexmodel.solve` optimises in the spec's order of priority:

    level_overrun_kwh        import above import_limit_kw / export above export_limit_kw
                             (a slack that keeps the model feasible whatever the data; a
                             physical limit, so it is minimised first and reported)
    level_smart_shortfall_kwh  energy that smart EVs do not get
    level_solar_energy_kwh   energy delivered to solar EVs (maximised)
    level_cost_eur           the spec's cost plus the separable imbalance term

Heat pump and appliances (docs/plan-format-extensions.md): an LP for the heat pump, binaries for
the appliances' starts and for a heat pump's minimum power (always, where the site has them).

Binaries: grid import/export exclude each other in the slots `exclusive_grid_slots`, battery
charge/discharge in `exclusive_battery_slots`; elsewhere the model is an LP (see solver.py for
why adding them only where the LP's answer does both is still exact).
"""

from __future__ import annotations

from collections.abc import Collection

import pyomo.environ as pyo

from flexmodel.model.appliance import add_appliances
from flexmodel.model.battery import add_battery
from flexmodel.model.capacity import add_capacity_tariff
from flexmodel.model.ev import add_evs
from flexmodel.model.grid import add_balance, add_grid
from flexmodel.model.heat_pump import add_heat_pump
from flexmodel.model.objective import add_levels
from flexmodel.model.pv import add_pv
from flexmodel.problem import SiteProblem


def build_model(
    problem: SiteProblem,
    *,
    exclusive_grid_slots: Collection[int] = (),
    exclusive_battery_slots: Collection[int] = (),
) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name=problem.site_id)
    m.T = pyo.RangeSet(0, problem.n_slots - 1, doc="Slots t of the horizon")
    m.T1 = pyo.RangeSet(0, problem.n_slots, doc="Slot boundaries 0..n (SoC instants)")
    add_grid(m, problem, exclusive_grid_slots)
    add_pv(m, problem)
    add_battery(m, problem, exclusive_battery_slots)
    add_evs(m, problem)
    add_heat_pump(m, problem)
    add_appliances(m, problem)
    add_balance(m, problem)
    add_capacity_tariff(m, problem)
    add_levels(m, problem)
    return m


__all__ = ["build_model"]
